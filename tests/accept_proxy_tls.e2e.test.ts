/**
 * `accept-proxy` on a TLS bind end to end (HAProxy's `bind :443 ssl crt site.pem accept-proxy`
 * behind an L4 balancer): clients send a PROXY header in clear, then their TLS handshake, written
 * apart, together, or byte by byte. The connection must carry both the header's client (X-Forwarded-For,
 * %ci/%cp, source routes, balance source) and its TLS facts (X-Forwarded-Proto, client-cert
 * routes, %sslv, %[ssl_fc_sni]); bad headers, a bad or missing handshake after a good header, and
 * slow clients are closed and logged (with the header's client once it is read) while good
 * clients are served. Where the runtime cannot read a header before its TLS handshake
 * (`RuntimeInfo.tls.readBeforeHandshake`), `proxy check` must refuse the bind instead.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import type * as http from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliProcess, ROOT, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import { concat, ipv4Block, v1Header, v2Header } from "./_proxy_header_helpers.ts";
import { prefixedTlsConnect } from "./_tls_helpers.ts";
import { tcpSockets } from "./_tcp_queues.ts";
import type { PrefixPacing } from "./_tls_helpers.ts";
import { currentRuntime, detectRuntimeName } from "../src/runtime/detect.ts";

const RUNTIME = detectRuntimeName();
const READS_BEFORE_HANDSHAKE = currentRuntime().info.tls.readBeforeHandshake;
/** Deno's TLS listener answers no plain-HTTP request (docs/config.md, bind with TLS): a failed handshake there. */
const PLAIN_HTTP_ANSWERED = RUNTIME !== "deno";

const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
const CA = readFileSync(fixture("ca.pem"), "utf8");
const CLIENT_CERT = readFileSync(fixture("client.crt"), "utf8");
const CLIENT_KEY = readFileSync(fixture("client.key"), "utf8");
const TLS_BIND_KEYS = `crt = ${JSON.stringify(fixture("default.pem"))}, accept-proxy = true, verify = "optional", ca-file = ${JSON.stringify(fixture("ca.pem"))}, alpn = ["http/1.1"]`;

const encoder = new TextEncoder();

/** An origin that answers its name, the X-Forwarded-For and X-Forwarded-Proto it got. */
function namedOrigin(name: string): Promise<Awaited<ReturnType<typeof httpOrigin>>> {
  return httpOrigin((req: http.IncomingMessage, res: http.ServerResponse) => {
    const text = `${name} xff=${req.headers["x-forwarded-for"] ?? "-"} proto=${req.headers["x-forwarded-proto"] ?? "-"}`;
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": String(text.length), "Connection": "close" });
    res.end(text);
  });
}

interface Answer {
  status: number;
  body: string;
}

/** GETs `path` over TLS after `header` in clear; resolves with the answer once the proxy closes. */
function proxiedHttpsGet(port: number, header: Uint8Array, pacing: PrefixPacing, path: string, withCertificate = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = prefixedTlsConnect(port, header, pacing, {
      ca: CA,
      servername: "default.test",
      ALPNProtocols: ["http/1.1"],
      ...(withCertificate ? { cert: CLIENT_CERT, key: CLIENT_KEY } : {}),
    });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No answer to ${path} within 20 s; got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.on("secureConnect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${path}: ${error.message}`, { cause: error }));
    });
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1] ?? 0);
      resolve({ status, body: received.slice(received.indexOf("\r\n\r\n") + 4) });
    });
  });
}

/** Opens a connection, writes `bytes` (no FIN), resolves when the proxy closes it, with what it sent back. */
function writeAndWaitClose(port: number, bytes: Uint8Array, timeoutMs = 10_000): Promise<{ received: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The proxy did not close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), ms: Date.now() - started });
    });
  });
}

/** Starts the CLI on `text`; the ports of frontend `name`'s binds. */
async function start(text: string, name: string, mode: "http" | "tcp"): Promise<{ proxy: CliProcess; ports: number[]; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(new RegExp(`Frontend "${name}" \\(${mode}\\) listening on ([0-9.:]+(?:, [0-9.:]+)*)`));
    const ports = match[1]!.split(", ").map((address) => Number(address.slice(address.lastIndexOf(":") + 1)));
    return { proxy, ports, remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** The log line that contains `marker`, once it is there. */
async function logLine(proxy: CliProcess, marker: string): Promise<string> {
  await waitUntil(() => proxy.stdout.includes(marker), `the log line of ${marker}`);
  return proxy.stdout.split("\n").find((line) => line.includes(marker))!;
}

/** Waits for a log line written after `before` lines that matches `pattern`, and returns it. */
async function newLine(proxy: CliProcess, before: number, pattern: RegExp, what: string): Promise<string> {
  await waitUntil(() => proxy.stdout.split("\n").slice(before - 1).some((line) => pattern.test(line)), what);
  return proxy.stdout.split("\n").slice(before - 1).find((line) => pattern.test(line))!;
}

test("accept-proxy on a TLS bind, http mode: the header's client and the TLS facts on one connection, however the header and the hello are written", { skip: !READS_BEFORE_HANDSHAKE && "the runtime refuses it: see the check-time test" }, async () => {
  const app = await namedOrigin("app");
  const special = await namedOrigin("special");
  const certified = await namedOrigin("certified");
  const hashA = await namedOrigin("a");
  const hashB = await namedOrigin("b");
  let started: Awaited<ReturnType<typeof start>> | undefined;
  try {
    started = await start(`
[global]
log = "stdout"

[defaults]
mode = "http"
log = "global"

[frontends.web]
bind = { address = "127.0.0.1:0", ${TLS_BIND_KEYS} }
default-backend = "app"
forwardfor = true
forwarded-proto = true
timeout = { client = "1s" }
log-format = "%ci:%cp %fi:%fp %ft %b/%s %ST %sslv sni=%[ssl_fc_sni] alpn=%[ssl_fc_alpn] cert=%[ssl_c_used] authority=%[fc_pp_authority] %{+Q}r"
routes = [{ backend = "special", source = "203.0.113.0/24" }, { backend = "certified", client-cert = "valid" }]

[frontends.hashed]
bind = { address = "127.0.0.1:0", ${TLS_BIND_KEYS} }
default-backend = "hashed"
forwardfor = true
log-format = "%ci %b/%s %{+Q}r"

[backends.app]
servers = [{ name = "o", address = "${app.address}" }]

[backends.special]
servers = [{ name = "s", address = "${special.address}" }]

[backends.certified]
servers = [{ name = "c", address = "${certified.address}" }]

[backends.hashed]
balance = "source"
servers = [{ name = "a", address = "${hashA.address}" }, { name = "b", address = "${hashB.address}" }]
`, "web", "http");
    const { proxy } = started;
    const port = started.ports[0]!;
    const hashed = Number((await proxy.waitFor(/Frontend "hashed" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);

    // v1, the header in one write and the ClientHello in the next.
    const v1 = await proxiedHttpsGet(port, v1Header("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"), "separate", "/v1-separate");
    assert.deepEqual(v1, { status: 200, body: "app xff=192.0.2.10 proto=https" });
    assert.match(
      await logLine(proxy, "/v1-separate"),
      /^192\.0\.2\.10:56324 198\.51\.100\.1:443 web~ app\/o 200 TLSv1\.[23] sni=default\.test alpn=http\/1\.1 cert=0 authority=- "GET \/v1-separate HTTP\/1\.1"$/,
    );

    // v2 with an AUTHORITY TLV, the header and the hello in one write (TLS reads what followed the header).
    const v2 = v2Header({ family: 0x11, addresses: ipv4Block([192, 0, 2, 20], [198, 51, 100, 2], 1234, 443), tlvs: [[0x02, [...encoder.encode("www.example.com")]]] });
    assert.deepEqual(await proxiedHttpsGet(port, v2, "together", "/v2-together"), { status: 200, body: "app xff=192.0.2.20 proto=https" });
    assert.match(await logLine(proxy, "/v2-together"), /^192\.0\.2\.20:1234 198\.51\.100\.2:443 web~ app\/o 200 TLSv1\.[23] sni=default\.test .* authority=www\.example\.com /);

    // Byte by byte: the header, then the hello, every byte its own write; and the header with the
    // hello's first bytes, the rest of the hello byte by byte (what Deno's node:tls took out of
    // order when given back the bytes read past the header).
    const slow = await proxiedHttpsGet(port, v1Header("PROXY TCP4 192.0.2.11 198.51.100.1 40000 443\r\n"), "byte-by-byte", "/v1-bytes");
    assert.deepEqual(slow, { status: 200, body: "app xff=192.0.2.11 proto=https" });
    const split = await proxiedHttpsGet(port, v1Header("PROXY TCP4 192.0.2.13 198.51.100.1 40001 443\r\n"), "split-hello", "/v1-split");
    assert.deepEqual(split, { status: 200, body: "app xff=192.0.2.13 proto=https" });

    // v2 LOCAL (the balancer's own probe): the connection's own address, still over TLS.
    assert.deepEqual(await proxiedHttpsGet(port, v2Header({ command: 0, family: 0 }), "together", "/v2-local"), { status: 200, body: "app xff=127.0.0.1 proto=https" });
    assert.match(await logLine(proxy, "/v2-local"), /^127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ web~ /);

    // A source route reads the header's address; a client-cert route the handshake's certificate.
    const routed = await proxiedHttpsGet(port, v1Header("PROXY TCP4 203.0.113.5 198.51.100.1 1000 443\r\n"), "separate", "/routed");
    assert.deepEqual(routed, { status: 200, body: "special xff=203.0.113.5 proto=https" });
    const withCert = await proxiedHttpsGet(port, v1Header("PROXY TCP4 192.0.2.12 198.51.100.1 1001 443\r\n"), "together", "/with-cert", true);
    assert.deepEqual(withCert, { status: 200, body: "certified xff=192.0.2.12 proto=https" });
    assert.match(await logLine(proxy, "/with-cert"), /^192\.0\.2\.12:1001 .* certified\/c 200 .* cert=1 /);

    // balance source hashes the header's address: each client keeps its server, and clients that
    // all come from 127.0.0.1 spread over both.
    const picks = new Map<number, string>();
    for (let round = 0; round < 2; round++) {
      for (let client = 1; client <= 8; client++) {
        const answer = await proxiedHttpsGet(hashed, v1Header(`PROXY TCP4 10.1.${client}.${client * 7} 10.0.0.1 999 443\r\n`), "together", `/hash-${client}-${round}`);
        assert.equal(answer.status, 200);
        const server = answer.body.split(" ")[0]!;
        if (round === 0) picks.set(client, server);
        else assert.equal(server, picks.get(client), `client ${client} moved`);
      }
    }
    assert.deepEqual(new Set(picks.values()), new Set(["a", "b"]));
    assert.match(await logLine(proxy, "/hash-3-1"), /^10\.1\.3\.21 hashed\/[ab] /);
  } finally {
    await started?.proxy.stop();
    started?.remove();
    await Promise.all([app.close(), special.close(), certified.close(), hashA.close(), hashB.close()]);
  }
});

test("accept-proxy on a TLS bind: bad headers, a bad or missing handshake after a good header, slow clients, each closed and logged while others are served", { skip: !READS_BEFORE_HANDSHAKE && "the runtime refuses it: see the check-time test" }, async () => {
  const app = await namedOrigin("app");
  let started: Awaited<ReturnType<typeof start>> | undefined;
  try {
    started = await start(`
[global]
log = "stdout"

[frontends.web]
mode = "http"
log = "global"
bind = { address = "127.0.0.1:0", ${TLS_BIND_KEYS} }
default-backend = "app"
forwardfor = true
timeout = { client = "1s" }
log-format = "%ci:%cp %b/%s %ST %{+Q}r"

[backends.app]
mode = "http"
servers = [{ name = "o", address = "${app.address}" }]
`, "web", "http");
    const { proxy } = started;
    const port = started.ports[0]!;
    const good = async (marker: string): Promise<void> => {
      const answer = await proxiedHttpsGet(port, v1Header(`PROXY TCP4 192.0.2.50 198.51.100.1 5000 443\r\n`), "together", `/${marker}`);
      assert.deepEqual(answer, { status: 200, body: "app xff=192.0.2.50 proto=-" });
    };

    // A ClientHello with no header: refused as a PROXY header, logged with the socket's address.
    let before = proxy.stdout.split("\n").length;
    await new Promise<void>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: CA, servername: "default.test" });
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
    assert.match(
      await newLine(proxy, before, /web\/1: Received something which does not look like a PROXY protocol header$/, "the headerless hello's line"),
      /^127\.0\.0\.1:\d+ \[\d\d\/\w{3}\/\d{4}:[\d:.]+\] web\/1: /,
    );
    await good("after-no-header");

    // A good header, then no TLS: a failed handshake, logged with the header's client.
    before = proxy.stdout.split("\n").length;
    const garbage = await writeAndWaitClose(port, concat(v1Header("PROXY TCP4 192.0.2.30 198.51.100.1 3000 443\r\n"), new Uint8Array(64).fill(0xfe)));
    assert.ok(garbage.received.length === 0 || garbage.received[0] === 0x15, "nothing but a TLS alert");
    await newLine(proxy, before, /^192\.0\.2\.30:3000 \[[^\]]+\] web\/1: SSL handshake failure \(/, "the garbage handshake's line");

    // A good header, then a plain HTTP request (a client that forgot TLS): answered in plain text
    // where the runtime's TLS listener answers it, else closed as a failed handshake.
    before = proxy.stdout.split("\n").length;
    const plain = await writeAndWaitClose(port, concat(v1Header("PROXY TCP4 192.0.2.31 198.51.100.1 3001 443\r\n"), encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
    if (PLAIN_HTTP_ANSWERED) {
      assert.match(plain.received.toString("latin1"), /^HTTP\/1\.1 400 Bad Request\r\n[^]*The plain HTTP request was sent to an HTTPS port\.\r\n$/);
      await newLine(proxy, before, /^192\.0\.2\.31:3001 \[[^\]]+\] web\/1: SSL handshake failure \(plain HTTP request on a TLS port\)$/, "the plain request's line");
    } else {
      assert.equal(plain.received.length === 0 || plain.received[0] === 0x15, true, "closed, at most with a TLS alert");
      await newLine(proxy, before, /^192\.0\.2\.31:3001 \[[^\]]+\] web\/1: SSL handshake failure \(/, "the plain request's line");
    }

    // A good header, then silence: the handshake is bounded by timeout client (1 s), and a good
    // client is served meanwhile.
    before = proxy.stdout.split("\n").length;
    const silent = writeAndWaitClose(port, v1Header("PROXY TCP4 192.0.2.32 198.51.100.1 3002 443\r\n"));
    await good("during-silent-handshake");
    const silentClosed = await silent;
    assert.ok(silentClosed.ms >= 800 && silentClosed.ms < 5_000, `closed after ${silentClosed.ms} ms`);
    await newLine(proxy, before, /^192\.0\.2\.32:3002 \[[^\]]+\] web\/1: SSL handshake failure \(/, "the silent handshake's line");

    // Bad headers, each closed before any TLS and logged with HAProxy's text.
    const bad: Array<[string, Uint8Array, RegExp]> = [
      ["malformed v1", v1Header("PROXY TCP4 192.0.2.300 198.51.100.1 1 2\r\n"), /web\/1: Received an invalid PROXY protocol header$/],
      ["bad protocol", v1Header("PROXY UDP4 192.0.2.3 198.51.100.1 1 2\r\n"), /web\/1: Received an unhandled protocol in the PROXY protocol header$/],
      ["v2 over the limit", v2Header({ length: 60_000 }).subarray(0, 16), /web\/1: Received an invalid PROXY protocol header$/],
    ];
    for (const [what, bytes, line] of bad) {
      before = proxy.stdout.split("\n").length;
      const closed = await writeAndWaitClose(port, bytes);
      assert.equal(closed.received.length, 0, `${what}: the proxy answered`);
      assert.match(await newLine(proxy, before, line, `the log line of ${what}`), /^127\.0\.0\.1:\d+ /);
    }

    // Half a header, slower than timeout client: closed and logged, a good client served meanwhile.
    before = proxy.stdout.split("\n").length;
    const partial = writeAndWaitClose(port, v2Header({ addresses: ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) }).subarray(0, 20));
    await good("during-partial-header");
    const partialClosed = await partial;
    assert.ok(partialClosed.ms >= 800 && partialClosed.ms < 5_000, `closed after ${partialClosed.ms} ms`);
    await newLine(proxy, before, /web\/1: Timeout while waiting for PROXY protocol header$/, "the header timeout's line");

    await good("after-all");
    assert.ok(proxy.running);
  } finally {
    await started?.proxy.stop();
    started?.remove();
    await app.close();
  }
});

test("accept-proxy on a TLS bind, tcp mode: the clear bytes after the handshake reach the server, the log names the header's client and the TLS facts", { skip: !READS_BEFORE_HANDSHAKE && "the runtime refuses it: see the check-time test" }, async () => {
  const origin = await startOrigin((socket) => socket.on("data", (chunk: Buffer) => socket.write(chunk.toString().toUpperCase())));
  let started: Awaited<ReturnType<typeof start>> | undefined;
  try {
    started = await start(`
[global]
log = "stdout"

[frontends.relay]
mode = "tcp"
log = "global"
bind = { address = "127.0.0.1:0", ${TLS_BIND_KEYS} }
default-backend = "echo"
log-format = "%ci:%cp %fi:%fp %ft %sslv %[ssl_fc_sni] %b/%s"

[backends.echo]
mode = "tcp"
servers = [{ name = "e", address = "${origin.address}" }]
`, "relay", "tcp");
    const port = started.ports[0]!;
    const header = v2Header({ family: 0x11, addresses: ipv4Block([192, 0, 2, 44], [198, 51, 100, 9], 4444, 5432) });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = prefixedTlsConnect(port, header, "separate", { ca: CA, servername: "default.test" });
      let received = "";
      socket.on("secureConnect", () => socket.write("hello, any protocol\n"));
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString();
        if (received.endsWith("\n")) socket.end();
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(received));
    });
    assert.equal(answer, "HELLO, ANY PROTOCOL\n");
    await waitUntil(() => started!.proxy.stdout.includes("192.0.2.44:4444"), "the session's log line");
    assert.match(started.proxy.stdout, /^192\.0\.2\.44:4444 198\.51\.100\.9:5432 relay~ TLSv1\.[23] default\.test echo\/e$/m);
  } finally {
    await started?.proxy.stop();
    started?.remove();
    await origin.close();
  }
});

test("accept-proxy on a TLS bind: a graceful stop waits for a connection between its header and its handshake, which is then served", { skip: !READS_BEFORE_HANDSHAKE && "the runtime refuses it: see the check-time test" }, async () => {
  const app = await namedOrigin("app");
  let started: Awaited<ReturnType<typeof start>> | undefined;
  let raw: net.Socket | undefined;
  try {
    started = await start(`
[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:0", ${TLS_BIND_KEYS} }
default-backend = "app"
forwardfor = true
timeout = { client = "10s" }

[backends.app]
mode = "http"
servers = [{ name = "o", address = "${app.address}" }]
`, "web", "http");
    const { proxy } = started;
    const port = started.ports[0]!;
    // The header alone, read by the proxy (nothing left in its receive queue): the connection now
    // waits for its ClientHello.
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    raw = socket;
    socket.on("error", () => {});
    await new Promise((resolve) => socket.on("connect", resolve));
    socket.write(v1Header("PROXY TCP4 192.0.2.90 198.51.100.1 9000 443\r\n"));
    const localPort = socket.localPort!;
    await waitUntil(
      () => tcpSockets().some((entry) => entry.localPort === port && entry.remotePort === localPort && entry.receiveQueue === 0),
      "the proxy to accept the connection and read its header",
    );
    proxy.sendSignal("SIGUSR1");
    await proxy.waitFor(/SIGUSR1 received: stopped listening/);
    const answer = await new Promise<string>((resolve, reject) => {
      const secure = tls.connect({ socket, ca: CA, servername: "default.test" });
      let received = "";
      secure.on("secureConnect", () => secure.write("GET /late HTTP/1.1\r\nHost: app.example\r\n\r\n"));
      secure.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      // The proxy closes after the response (it is stopping): so does the client.
      secure.on("end", () => secure.end());
      secure.on("error", reject);
      secure.on("close", () => resolve(received));
    });
    assert.match(answer, /^HTTP\/1\.1 200 [^]*\r\nConnection: close\r\n/i);
    assert.ok(answer.endsWith("app xff=192.0.2.90 proto=-"), answer);
    assert.equal(await proxy.waitExit(), 0);
  } finally {
    raw?.destroy();
    await started?.proxy.stop();
    started?.remove();
    await app.close();
  }
});

test("accept-proxy beside crt: proxy check accepts it where the runtime reads the header before the handshake, and refuses it elsewhere", async () => {
  const file = configFile(`
[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:0", crt = ${JSON.stringify(fixture("default.pem"))}, accept-proxy = true }
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "127.0.0.1:1" }]
`);
  const proxy = new CliProcess(["check", "-f", file.path]);
  try {
    const code = await proxy.waitExit();
    if (READS_BEFORE_HANDSHAKE) {
      assert.equal(code, 0, proxy.stderr);
    } else {
      assert.notEqual(code, 0);
      assert.match(proxy.stderr, /frontends\.web\.bind\.accept-proxy: "accept-proxy" cannot be honoured on a TLS bind \(with "crt"\) on this runtime/);
    }
  } finally {
    await proxy.stop();
    file.remove();
  }
});
