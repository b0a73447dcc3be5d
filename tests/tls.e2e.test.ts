/**
 * TLS termination end to end, through the CLI on the runtime running the tests: a frontend
 * listening plain and TLS at once, certificates picked by SNI (exact, wildcard, default),
 * strict-sni, ALPN, the version floor, client certificates (none, optional, required) seen by
 * routes, X-Forwarded-Proto, the log line of a failed handshake, and bad input on the TLS port
 * (plain HTTP, garbage, a stalled or reset handshake, a ClientHello in pieces, a huge one), after
 * each of which the proxy still serves.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliProcess, ROOT, sleep, startOrigin } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

const RUNTIME = detectRuntimeName();
const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
const CA = readFileSync(fixture("ca.pem"), "utf8");
const CLIENT_CERT = readFileSync(fixture("client.crt"), "utf8");
const CLIENT_KEY = readFileSync(fixture("client.key"), "utf8");
/** A certificate and key signed by a CA the proxy does not trust (a server certificate, fine as a client's). */
const UNTRUSTED_PEM = readFileSync(fixture("untrusted.pem"), "utf8");

type Origin = Awaited<ReturnType<typeof httpOrigin>>;

/** An origin answering with its name and the X-Forwarded-Proto it got. */
function namedOrigin(name: string): Promise<Origin> {
  return httpOrigin((request, response) => {
    const proto = request.headers["x-forwarded-proto"] ?? "-";
    response.end(`${name} proto=${proto}`);
  });
}

/** Waits until the proxy's standard output (its traffic log here) matches `pattern`. */
async function waitForLog(proxy: CliProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = proxy.stdout.match(pattern);
    if (match !== null) return match;
    if (Date.now() > deadline) throw new Error(`Expected ${pattern} in the traffic log; got:\n${proxy.stdout}`);
    await sleep(20);
  }
}

interface Started {
  proxy: CliProcess;
  /** Ports of the frontend's binds, in order. */
  ports: number[];
  remove: () => void;
}

async function start(text: string, binds: number): Promise<Started> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(/Frontend "web" \(http\) listening on ([0-9a-f.:[\]]+(?:, [0-9a-f.:[\]]+)*),/);
    const ports = match[1]!.split(", ").map((address) => Number(address.slice(address.lastIndexOf(":") + 1)));
    assert.equal(ports.length, binds, match[0]);
    return { proxy, ports, remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

interface TlsResult {
  /** The certificate's subject CN the proxy served. */
  served: string;
  alpn: string | false | null;
  version: string | null;
  /** Bodies of the responses, one per request sent on the connection. */
  bodies: string[];
}

/** Opens one TLS connection, sends `requests` GETs on it (keep-alive), returns what came back. */
function httpsRequests(port: number, options: tls.ConnectionOptions, requests = 1): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: CA, ...options });
    let received = "";
    const bodies: string[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No complete answer within 20 s; got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`TLS request to port ${port} (${options.servername ?? "no SNI"}): ${error.message}`, { cause: error }));
    });
    socket.on("secureConnect", () => {
      const sendNext = () => socket.write(`GET /${bodies.length} HTTP/1.1\r\nHost: test\r\n\r\n`);
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
        for (;;) {
          const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(received);
          if (match === null) return;
          const length = Number(/content-length: *(\d+)/i.exec(match[2]!)?.[1] ?? "0");
          if (received.length < match[0].length + length) return;
          bodies.push(received.slice(match[0].length, match[0].length + length));
          received = received.slice(match[0].length + length);
          if (bodies.length === requests) {
            clearTimeout(timer);
            const peer = socket.getPeerCertificate();
            const result = { served: String(peer.subject?.CN ?? ""), alpn: socket.alpnProtocol, version: socket.getProtocol(), bodies };
            socket.end();
            resolve(result);
            return;
          }
          sendNext();
        }
      });
      sendNext();
    });
  });
}

/** Resolves with the handshake's error code (or "closed"), rejects if the handshake succeeds. */
function handshakeFailure(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: CA, ...options });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("The handshake neither failed nor succeeded within 20 s"));
    }, 20_000);
    socket.on("secureConnect", () => {
      // TLS 1.3: a refused client certificate is told after the client's side of the handshake.
      socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
      socket.once("data", () => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error("The handshake succeeded and a response came"));
      });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

/** Sends `data` on a plain TCP connection and collects everything until the proxy closes it. */
function rawExchange(port: number, data: Uint8Array | string, timeoutMs = 20_000): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    socket.on("connect", () => socket.write(data));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed: true });
    });
  });
}

/**
 * A ClientHello offering only TLS 1.1 and below (legacy_version 0x0302, no supported_versions
 * extension), written by hand: the test's own TLS library may refuse to offer TLS 1.1 at all.
 * `padding` adds an extension of that many bytes, for a huge hello.
 */
function clientHello(version: number, padding = 0): Uint8Array {
  const suites = [0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x2f, 0x00, 0x35];
  const name = Buffer.from("default.test");
  const sni = [0x00, 0x00, 0, name.length + 5, 0, name.length + 3, 0, 0, name.length, ...name];
  const groups = [0x00, 0x0a, 0, 4, 0, 2, 0x00, 0x17];
  const points = [0x00, 0x0b, 0, 2, 1, 0];
  const signatures = [0x00, 0x0d, 0, 4, 0, 2, 0x04, 0x03];
  const pad = padding > 0 ? [0x00, 0x15, padding >> 8, padding & 0xff, ...new Uint8Array(padding)] : [];
  const extensions = [...sni, ...groups, ...points, ...signatures, ...pad];
  const body = [
    version >> 8, version & 0xff, ...new Uint8Array(32).fill(7), 0,
    0, suites.length, ...suites, 1, 0,
    extensions.length >> 8, extensions.length & 0xff, ...extensions,
  ];
  const handshake = [1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff, ...body];
  const records: number[] = [];
  // Records carry at most 16 KiB (RFC 8446 5.1): a huge hello spans several.
  for (let offset = 0; offset < handshake.length; offset += 16_384) {
    const piece = handshake.slice(offset, offset + 16_384);
    records.push(0x16, 0x03, 0x01, piece.length >> 8, piece.length & 0xff, ...piece);
  }
  return Uint8Array.from(records);
}

/** A TCP relay to `port` that forwards what the client sends one byte per write, to split a ClientHello everywhere. */
async function byteByByteRelay(port: number): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port });
    sockets.add(client).add(upstream);
    const queue: number[] = [];
    let pumping = false;
    const pump = () => {
      if (queue.length === 0 || upstream.destroyed) {
        pumping = false;
        return;
      }
      upstream.write(Uint8Array.of(queue.shift()!), () => setImmediate(pump));
    };
    client.on("data", (chunk: Buffer) => {
      queue.push(...chunk);
      if (!pumping) {
        pumping = true;
        pump();
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, upstream]) {
      socket.on("error", () => {});
      socket.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe("TLS termination", () => {
  let app: Origin;
  let certified: Origin;
  let invalid: Origin;
  let api: Origin;
  let started: Started;

  before(async () => {
    [app, certified, invalid, api] = await Promise.all([namedOrigin("app"), namedOrigin("certified"), namedOrigin("invalid"), namedOrigin("api")]);
    started = await start(`
[defaults]
mode = "http"
forwarded-proto = true
timeout = { client = "5s", server = "10s", connect = "5s" }

[frontends.web]
bind = ["127.0.0.1:0", { address = "127.0.0.1:0", crt = ["${fixture("default.pem")}", "${fixture("exact.pem")}", "${fixture("wildcard.pem")}"], verify = "optional", ca-file = "${fixture("ca.pem")}" }]
default-backend = "app"
log = "stdout"
log-format = "%ci [%t] %ft %b %sslv %sslc"
http-request = [{ action = "redirect", scheme = "https", code = 301, if = { path = "/login", tls = false } }]
routes = [
  { client-cert = "valid", backend = "certified" },
  { client-cert = "invalid", backend = "invalid" },
  { sni = "api.example.test", tls = true, alpn = "http/1.1", backend = "api" },
]

[backends.app]
servers = [{ name = "a", address = "${app.address}" }]
[backends.certified]
servers = [{ name = "c", address = "${certified.address}" }]
[backends.invalid]
servers = [{ name = "i", address = "${invalid.address}" }]
[backends.api]
servers = [{ name = "p", address = "${api.address}" }]
`, 2);
  });

  after(async () => {
    await started?.proxy.stop();
    started?.remove();
    await Promise.all([app, certified, invalid, api].map((origin) => origin?.close()));
  });

  const tlsPort = () => started.ports[1]!;

  test("one frontend serves plain and TLS, redirecting plain to https where asked; HTTPS keep-alive reaches the plain origin with X-Forwarded-Proto: https", async () => {
    const plain = await rawExchange(started.ports[0]!, "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    assert.match(plain.received.toString(), /^HTTP\/1\.1 200 [\s\S]*app proto=http$/);
    const login = await rawExchange(started.ports[0]!, "GET /login?next=1 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    assert.match(login.received.toString(), /^HTTP\/1\.1 301 [^\r]*\r\n(?:[^\r]*\r\n)*location: https:\/\/shop\.test\/login\?next=1\r\n/i);
    const connectionsBefore = app.connections();
    const result = await httpsRequests(tlsPort(), { servername: "default.test" }, 3);
    assert.deepEqual(result.bodies, ["app proto=https", "app proto=https", "app proto=https"]);
    assert.equal(result.served, "default.test");
    assert.ok(app.connections() - connectionsBefore <= 1, "three requests, at most one server connection (keep-alive)");
    await waitForLog(started.proxy, /web~ app TLSv1\.3 TLS_/);
    assert.doesNotMatch(started.proxy.stdout, / web~ app -/);
  });

  test("SNI picks the certificate: exact name, then wildcard, then the first loaded", async () => {
    assert.equal((await httpsRequests(tlsPort(), { servername: "www.example.test" })).served, "not-in-san.test");
    assert.equal((await httpsRequests(tlsPort(), { servername: "shop.example.test" })).served, "wildcard");
    // A wildcard covers one label only (RFC 6125 6.4.3).
    const deeper = await httpsRequests(tlsPort(), { servername: "a.b.example.test", checkServerIdentity: () => undefined });
    assert.equal(deeper.served, "default.test");
    const unknown = await httpsRequests(tlsPort(), { servername: "unknown.test", checkServerIdentity: () => undefined });
    assert.equal(unknown.served, "default.test");
  });

  test("ALPN: http/1.1 is agreed when offered with h2; routes see the SNI name, TLS and the protocol", async () => {
    const result = await httpsRequests(tlsPort(), { servername: "api.example.test", ALPNProtocols: ["h2", "http/1.1"] });
    assert.equal(result.alpn, "http/1.1");
    assert.deepEqual(result.bodies, ["api proto=https"]);
    const withoutAlpn = await httpsRequests(tlsPort(), { servername: "api.example.test" });
    assert.deepEqual(withoutAlpn.bodies, ["app proto=https"], "alpn = \"http/1.1\" needs ALPN agreed");
  });

  test("client certificates: valid, none and invalid are told apart (verify = optional)", async () => {
    const valid = await httpsRequests(tlsPort(), { servername: "default.test", cert: CLIENT_CERT, key: CLIENT_KEY });
    assert.deepEqual(valid.bodies, ["certified proto=https"]);
    const none = await httpsRequests(tlsPort(), { servername: "default.test" });
    assert.deepEqual(none.bodies, ["app proto=https"]);
    const untrusted = await httpsRequests(tlsPort(), { servername: "default.test", cert: UNTRUSTED_PEM, key: UNTRUSTED_PEM });
    assert.deepEqual(untrusted.bodies, ["invalid proto=https"]);
  });

  test("TLS 1.1 is refused by default, and the failed handshake is logged once with its reason", async () => {
    const outcome = await rawExchange(tlsPort(), clientHello(0x0302));
    assert.equal(outcome.closed, true);
    // No ServerHello: at most an alert record (content type 21).
    assert.ok(outcome.received.length === 0 || outcome.received[0] === 21, `got ${outcome.received.toString("hex")}`);
    const line = await waitForLog(started.proxy, /127\.0\.0\.1:(\d+) \[[^\]]+\] web\/2: SSL handshake failure \([^)]+\)/);
    assert.equal(started.proxy.stdout.split(`127.0.0.1:${line[1]} `).length, 2, "logged once");
    assert.equal((await httpsRequests(tlsPort(), { servername: "default.test" })).bodies.length, 1);
  });

  test("bad input on the TLS port harms no one: plain HTTP, garbage, a reset and a stalled handshake, a hello in pieces, a huge hello", async () => {
    // Answered in plain text (a client that speaks no TLS could read no alert), as nginx does;
    // on Deno closed, as a failed handshake (docs/config.md says why).
    const plainHttp = await rawExchange(tlsPort(), "GET / HTTP/1.1\r\nHost: test\r\n\r\n");
    assert.equal(plainHttp.closed, true);
    if (RUNTIME === "deno") {
      assert.equal(plainHttp.received.length === 0 || plainHttp.received[0] === 21, true);
    } else {
      assert.match(plainHttp.received.toString(), /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nThe plain HTTP request was sent to an HTTPS port\.\r\n$/);
      await waitForLog(started.proxy, /web\/2: SSL handshake failure \(plain HTTP request on a TLS port\)/);
    }
    const garbage = await rawExchange(tlsPort(), new Uint8Array(4096).fill(0xfe));
    assert.equal(garbage.closed, true);

    // Half a ClientHello, then a reset.
    const hello = clientHello(0x0303);
    const reset = net.connect({ host: "127.0.0.1", port: tlsPort() });
    reset.on("error", () => {});
    await new Promise<void>((resolve) => reset.on("connect", () => reset.write(hello.subarray(0, 40), () => resolve())));
    reset.resetAndDestroy();

    // Half a ClientHello, then nothing: closed once timeout client (5 s) is over.
    const stalled = await rawExchange(tlsPort(), hello.subarray(0, 40), 30_000);
    assert.equal(stalled.closed, true, "a stalled handshake is bounded by timeout client");

    const relay = await byteByByteRelay(tlsPort());
    try {
      const split = await httpsRequests(relay.port, { servername: "www.example.test" });
      assert.equal(split.served, "not-in-san.test");
    } finally {
      relay.close();
    }

    // A 40 KiB ClientHello over three records: answered or refused, never a crash.
    const huge = await rawExchange(tlsPort(), clientHello(0x0303, 40_000));
    assert.equal(huge.closed || huge.received.length > 0, true);

    assert.equal(started.proxy.running, true);
    assert.deepEqual((await httpsRequests(tlsPort(), { servername: "default.test" })).bodies, ["app proto=https"]);
    assert.doesNotMatch(started.proxy.stderr, /uncaught|unhandled/i);
  });
});

describe("strict-sni and verify = required", () => {
  let app: Origin;
  let started: Started;

  before(async () => {
    app = await namedOrigin("app");
    started = await start(`
[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:0", crt = "${join(FIXTURES, "dir")}", strict-sni = true, verify = "required", ca-file = "${fixture("ca.pem")}" }
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${app.address}" }]
`, 1);
  });

  after(async () => {
    await started?.proxy.stop();
    started?.remove();
    await app?.close();
  });

  const port = () => started.ports[0]!;
  const withCert = { cert: CLIENT_CERT, key: CLIENT_KEY };

  test("a certificate directory is loaded in name order; a name it covers is served", async () => {
    const result = await httpsRequests(port(), { servername: "www.example.test", ...withCert });
    assert.equal(result.served, "not-in-san.test");
    assert.deepEqual(result.bodies, ["app proto=-"]);
    assert.equal((await httpsRequests(port(), { servername: "default.test", ...withCert })).served, "default.test");
  });

  test("strict-sni refuses a name no certificate covers, and a handshake without SNI", async () => {
    await handshakeFailure(port(), { servername: "unknown.test", ...withCert, checkServerIdentity: () => undefined });
    // An IP address as host: node:tls sends no SNI.
    await handshakeFailure(port(), { ...withCert, checkServerIdentity: () => undefined });
    assert.equal(started.proxy.running, true);
  });

  test("verify = required refuses a client without a certificate or with an untrusted one", async () => {
    await handshakeFailure(port(), { servername: "default.test" });
    await handshakeFailure(port(), { servername: "default.test", cert: UNTRUSTED_PEM, key: UNTRUSTED_PEM });
    assert.deepEqual((await httpsRequests(port(), { servername: "default.test", ...withCert })).bodies, ["app proto=-"]);
  });
});

describe("TLS termination in tcp mode", () => {
  test("the clear bytes are spliced to the server both ways, any protocol inside TLS, with a half-close", async () => {
    // An echo server that upper-cases: not HTTP, to show any protocol passes.
    const origin = await startOrigin((socket) => socket.on("data", (chunk: Buffer) => socket.write(chunk.toString().toUpperCase())));
    const file = configFile(`
[frontends.web]
mode = "tcp"
bind = { address = "127.0.0.1:0", crt = "${fixture("default.pem")}" }
default-backend = "echo"
log = "stdout"
log-format = "%ft %sslv %[ssl_fc_sni]"

[backends.echo]
mode = "tcp"
servers = [{ name = "e", address = "${origin.address}" }]
`);
    const proxy = new CliProcess(["-f", file.path]);
    try {
      const port = Number((await proxy.waitFor(/Frontend "web" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: CA, servername: "default.test" });
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
      await waitForLog(proxy, /^web~ TLSv1\.3 default\.test$/m);
    } finally {
      await proxy.stop();
      file.remove();
      await origin.close();
    }
  });
});
