/**
 * tcp-mode SNI passthrough end to end: the real CLI with tcp frontends routing by the server name
 * of the ClientHello, node:tls origins that each serve their own certificate, and node:tls clients
 * that verify the certificate they get against the test CA: the handshake goes through the proxy
 * untouched, so the certificate says which origin the proxy picked.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CliProcess, waitUntil } from "./_cli_helpers.ts";
import { loadConfigSources } from "../src/config/load.ts";
import { Proxy } from "../src/engine/proxy.ts";
import { SILENT_LOGGER } from "../src/core/logger.ts";
import { currentRuntime } from "../src/runtime/detect.ts";
import { captureHello } from "./_tls_helpers.ts";
import { configFile } from "./_http_helpers.ts";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/tls/${name}`, import.meta.url)), "utf8");
const CA = fixture("ca.pem");

interface TlsOrigin {
  readonly address: string;
  /** TCP connections accepted, handshake or not. */
  connections(): number;
  close(): Promise<void>;
}

/** A TLS origin serving `pem` (certificate then key) that says `name` once the handshake is done, then closes. */
async function tlsOrigin(name: string, pem: string): Promise<TlsOrigin> {
  const text = fixture(pem);
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = tls.createServer({ cert: text, key: text }, (socket) => {
    socket.on("error", () => {});
    socket.end(name);
  });
  server.on("connection", (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What a TLS client got: the origin's words and the certificate's names, or how it ended without a handshake. */
interface TlsAnswer {
  readonly text: string;
  readonly names: string;
  readonly handshake: boolean;
}

/**
 * Connects with TLS (through the proxy), verifying the certificate against the test CA, and its
 * names against `servername` (or 127.0.0.1) unless `checkName` is false.
 */
function tlsAsk(port: number, servername: string | undefined, checkName = true, timeoutMs = 20_000): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: CA,
      ...(servername === undefined ? {} : { servername }),
      ...(checkName ? {} : { checkServerIdentity: () => undefined }),
    });
    let text = "";
    let names = "";
    let handshake = false;
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No close within ${timeoutMs} ms (handshake: ${handshake})`));
    }, timeoutMs);
    socket.on("secureConnect", () => {
      handshake = true;
      names = socket.getPeerCertificate().subjectaltname ?? "";
    });
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("error", (error: Error) => (failure = error));
    socket.on("close", () => {
      clearTimeout(timer);
      // A verification failure is a test failure; a connection closed before any handshake is an answer.
      if (failure !== undefined && handshake) reject(failure);
      else if (failure !== undefined && /certificate|altnames|self.signed|verify/i.test(failure.message)) reject(failure);
      else resolve({ text, names, handshake });
    });
  });
}

/** Sends raw bytes and resolves with what came back once the proxy closes; `reset` resets the connection instead, once written. */
function rawClient(port: number, data: Uint8Array | string): { socket: net.Socket; closed: Promise<Buffer> } {
  const socket = net.connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  socket.write(data);
  const closed = new Promise<Buffer>((resolve) => socket.on("close", () => resolve(Buffer.concat(chunks))));
  return { socket, closed };
}

/**
 * A relay in front of the proxy that passes the client's ClientHello on one byte per write, with a
 * pause between writes (Nagle off), and everything after it as it comes.
 */
async function byteByByteRelay(target: number): Promise<{ port: number; writes: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let writes = 0;
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: "127.0.0.1", port: target, noDelay: true });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    outbound.on("data", (chunk: Buffer) => inbound.write(chunk));
    const queue: Buffer[] = [];
    let seen = Buffer.alloc(0);
    let pumping = false;
    const pump = async () => {
      if (pumping) return;
      pumping = true;
      while (queue.length > 0) {
        const chunk = queue.shift()!;
        const helloEnd = seen.length >= 5 ? 5 + seen.readUInt16BE(3) : Infinity;
        const before = seen.length - chunk.length;
        for (let i = 0; i < chunk.length; i++) {
          if (before + i >= helloEnd) {
            outbound.write(chunk.subarray(i));
            break;
          }
          outbound.write(chunk.subarray(i, i + 1));
          writes++;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      pumping = false;
    };
    inbound.on("data", (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      queue.push(chunk);
      void pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    writes: () => writes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const ROUTES = `routes = [
  { sni = ["www.example.test", "API.example.test"], backend = "exact" },
  { sni = "*.example.test", backend = "wildcard" },
]`;

test("tcp mode routes TLS by SNI without terminating: exact, wildcard, default, closed, fragmented, stalled, reset", async () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  try {
    const exact = await tlsOrigin("exact", "exact.pem");
    cleanup.push(exact.close);
    const wildcard = await tlsOrigin("wildcard", "wildcard.pem");
    cleanup.push(wildcard.close);
    const fallback = await tlsOrigin("default", "default.pem");
    cleanup.push(fallback.close);
    const file = configFile(`
[defaults]
mode = "tcp"
log = "stdout"
log-format = "SNI %ft %b %s %ts %fc"

# An hour: whatever is decided there is decided without waiting for the delay (or the test times out).
[frontends.sni]
bind = "127.0.0.1:0"
default-backend = "fallback"
timeout = { inspect-delay = "1h" }
${ROUTES}

[frontends.strict]
bind = "127.0.0.1:0"
timeout = { inspect-delay = "1h" }
${ROUTES}

[frontends.short]
bind = "127.0.0.1:0"
default-backend = "fallback"
timeout = { inspect-delay = "300ms" }
${ROUTES}

[frontends.short-strict]
bind = "127.0.0.1:0"
timeout = { inspect-delay = "300ms" }
${ROUTES}

[backends.exact]
servers = [{ name = "e", address = "${exact.address}" }]

[backends.wildcard]
servers = [{ name = "w", address = "${wildcard.address}" }]

[backends.fallback]
servers = [{ name = "d", address = "${fallback.address}" }]
`);
    cleanup.push(file.remove);
    const proxy = new CliProcess(["-f", file.path]);
    cleanup.push(() => proxy.stop());
    const port = async (name: string) =>
      Number((await proxy.waitFor(new RegExp(`Frontend "${name}" \\(tcp\\) listening on 127\\.0\\.0\\.1:(\\d+), 2 SNI route\\(s\\)`)))[1]);
    const sni = await port("sni");
    const strict = await port("strict");
    const short = await port("short");
    const shortStrict = await port("short-strict");
    const logLines = (frontend: string) => proxy.stdout.split("\n").filter((line) => line.startsWith(`SNI ${frontend} `));
    const waitLogLines = (frontend: string, count: number) =>
      waitUntil(() => logLines(frontend).length >= count, `${count} log line(s) of frontend "${frontend}"\n${proxy.stdout}\n${proxy.stderr}`);

    // Exact names (any case), wildcards of one label or more, the bare domain and others to the default.
    for (const [name, origin, certificate] of [
      ["www.example.test", "exact", "DNS:www.example.test"],
      ["Api.Example.Test", "exact", "DNS:api.example.test"],
      ["x.example.test", "wildcard", "DNS:*.example.test"],
      ["a.b.example.test", "wildcard", "DNS:*.example.test"],
    ] as const) {
      // A certificate's "*." covers one label (RFC 6125): the route's covers more, so the client
      // checks the chain but not the name there.
      const answer = await tlsAsk(sni, name, name !== "a.b.example.test");
      assert.equal(answer.text, origin, name);
      assert.ok(answer.names.includes(certificate), `${name}: ${answer.names}`);
    }
    assert.equal(wildcard.connections(), 2);
    const bare = await tlsAsk(sni, "localhost");
    assert.equal(bare.text, "default");
    await waitLogLines("sni", 5);
    assert.deepEqual(logLines("sni").slice(0, 5).map((line) => line.split(" ").slice(2, 5).join(" ")), [
      "exact e --",
      "exact e --",
      "wildcard w --",
      "wildcard w --",
      "fallback d --",
    ]);

    // No SNI: the default backend, whose certificate names 127.0.0.1; without one, closed.
    const anonymous = await tlsAsk(sni, undefined);
    assert.equal(anonymous.text, "default");
    assert.ok(anonymous.names.includes("IP Address:127.0.0.1"));
    const before = exact.connections() + wildcard.connections() + fallback.connections();
    const refused = await tlsAsk(strict, undefined);
    assert.deepEqual([refused.handshake, refused.text], [false, ""]);
    // A name no route takes, without a default: closed too.
    assert.equal((await tlsAsk(strict, "other.test")).handshake, false);
    assert.equal((await tlsAsk(strict, "www.example.test")).text, "exact");
    await waitLogLines("strict", 3);
    assert.deepEqual(logLines("strict").slice(0, 2).map((line) => line.split(" ").slice(2, 5).join(" ")), ["strict <NOSRV> PR", "strict <NOSRV> PR"]);
    assert.equal(exact.connections() + wildcard.connections() + fallback.connections(), before + 1);

    // Plain text first: decided on its first byte: the default backend
    // gets the bytes untouched (its TLS server then fails the handshake), or the connection is closed.
    const fallbackBefore = fallback.connections();
    const plain = rawClient(sni, "GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n");
    await plain.closed;
    assert.equal(fallback.connections(), fallbackBefore + 1);
    const plainStrict = rawClient(strict, "GET / HTTP/1.1\r\n\r\n");
    assert.equal((await plainStrict.closed).length, 0);

    // A ClientHello written one byte at a time.
    const relay = await byteByByteRelay(sni);
    cleanup.push(relay.close);
    const sliced = await tlsAsk(relay.port, "api.example.test");
    assert.equal(sliced.text, "exact");
    assert.ok(relay.writes() > 100, `the hello went in ${relay.writes()} writes`);

    // A hello that never completes: routed when the inspect delay expires, without a name.
    const hello = await captureHello("www.example.test");
    const shortFallback = fallback.connections();
    const stalled = rawClient(short, hello.subarray(0, 20));
    cleanup.push(() => void stalled.socket.destroy());
    await waitUntil(() => fallback.connections() === shortFallback + 1, "the stalled hello reaching the default backend");
    stalled.socket.destroy();
    const stalledStrict = rawClient(shortStrict, hello.subarray(0, 20));
    assert.equal((await stalledStrict.closed).length, 0);
    await waitLogLines("short-strict", 1);
    assert.match(logLines("short-strict")[0]!, /^SNI short-strict short-strict <NOSRV> PR 1$/);

    // A client that resets mid-hello: nothing is connected, its session ends, the others go on.
    const originsBefore = exact.connections() + wildcard.connections() + fallback.connections();
    const strictLines = logLines("strict").length;
    const reset = rawClient(strict, hello.subarray(0, hello.length - 1));
    await new Promise<void>((resolve) => reset.socket.on("connect", () => resolve()));
    await new Promise<void>((resolve) => reset.socket.write("", () => resolve()));
    reset.socket.resetAndDestroy();
    await waitLogLines("strict", strictLines + 1);
    assert.match(logLines("strict")[strictLines]!, /^SNI strict strict <NOSRV> CR 1$/);
    assert.equal(exact.connections() + wildcard.connections() + fallback.connections(), originsBefore);
    assert.equal((await tlsAsk(strict, "www.example.test")).text, "exact");
    await waitLogLines("strict", strictLines + 2);
    // The session count in that line is that session alone: nothing leaked.
    assert.match(logLines("strict")[strictLines + 1]!, /^SNI strict exact e -- 1$/);
    assert.equal(proxy.running, true);
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
});

test("in process: a connection parked beyond maxconn is inspected once it starts; a reset mid-hello leaves no session", async () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  try {
    const exact = await tlsOrigin("exact", "exact.pem");
    cleanup.push(exact.close);
    const { config } = loadConfigSources([{
      name: "sni.toml",
      text: `
[frontends.edge]
bind = "127.0.0.1:0"
mode = "tcp"
maxconn = 1
timeout = { inspect-delay = "1h" }
${ROUTES}

[backends.exact]
servers = [{ name = "e", address = "${exact.address}" }]

[backends.wildcard]
servers = []
`,
    }]);
    const proxy = new Proxy(config, currentRuntime(), SILENT_LOGGER);
    await proxy.start();
    cleanup.push(() => proxy.close());
    const frontend = proxy.frontends[0]!;
    const port = frontend.boundAddresses[0]!.port;
    const hello = await captureHello("www.example.test");

    // The only slot goes to a hello that stalls; the next connection waits unread, paused.
    const holder = rawClient(port, hello.subarray(0, 20));
    cleanup.push(() => void holder.socket.destroy());
    await waitUntil(() => frontend.activeSessions === 1, "the first session");
    const parked = tlsAsk(port, "www.example.test");
    await waitUntil(() => frontend.parkedConnections === 1, "a parked connection");
    // Its hello is read when it starts: with an hour's delay, nothing else would route it.
    holder.socket.resetAndDestroy();
    assert.equal((await parked).text, "exact");
    await waitUntil(() => frontend.activeSessions === 0, "every session ended");
    assert.equal(exact.connections(), 1, "the reset hello reached no server");

    // Reset after the hello's first bytes were read: the session ends, nothing leaks.
    const reset = rawClient(port, hello.subarray(0, hello.length - 1));
    await waitUntil(() => frontend.activeSessions === 1, "the inspecting session");
    await new Promise<void>((resolve) => reset.socket.write("", () => resolve()));
    reset.socket.resetAndDestroy();
    await waitUntil(() => frontend.activeSessions === 0, "the reset session ended");
    assert.equal(exact.connections(), 1);
    assert.equal(proxy.backends.reduce((sum, backend) => sum + backend.activeConnections, 0), 0);
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
});
