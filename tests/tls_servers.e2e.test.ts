/**
 * TLS towards servers, end to end through the CLI: verification on by default against a CA file,
 * a server whose certificate fails verification answered with 503 and logged once, `verify =
 * "none"`, SNI from the request's Host (and the name checked against it), a client certificate
 * for a server that demands one, tcp mode originating TLS, and health checks over TLS.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, ROOT, sleep } from "./_cli_helpers.ts";
import { configFile } from "./_http_helpers.ts";

const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
const read = (name: string): string => readFileSync(fixture(name), "utf8");

interface TlsOrigin {
  port: number;
  /** SNI names the origin was asked for (connections without SNI are not counted). */
  names: string[];
  /** Requests it answered. */
  requests: () => number;
  close: () => Promise<void>;
}

/**
 * An HTTPS origin answering each request with its name, the SNI it got and the client
 * certificate's CN, then closing: node:tls and a few lines of HTTP, the same on every runtime
 * (Bun's node:https gives a request no TLS socket to ask).
 */
async function tlsOrigin(name: string, pem: string, options: tls.TlsOptions = {}): Promise<TlsOrigin> {
  const names: string[] = [];
  let requests = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    cert: pem,
    key: pem,
    // Every name asked for, also of handshakes that the client then refuses.
    SNICallback: (servername: string, callback: (error: Error | null) => void) => {
      names.push(servername);
      callback(null);
    },
    ...options,
  }, (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      requests++;
      const peer = socket.getPeerCertificate();
      const cn = peer !== null && peer !== undefined && peer.subject !== undefined ? String(peer.subject.CN) : "none";
      const servername = (socket as tls.TLSSocket & { servername?: string | false }).servername;
      const body = `${name} sni=${typeof servername === "string" && servername !== "" ? servername : "none"} client=${cn}`;
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    names,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One request on a fresh plain connection to the proxy; the status and body. */
function get(port: number, path: string, host = "test"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No answer within 20 s; got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const match = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(received);
      if (match === null) reject(new Error(`Not a response: ${JSON.stringify(received)}`));
      else resolve({ status: Number(match[1]), body: match[2]! });
    });
  });
}

async function waitForOutput(proxy: CliProcess, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pattern.test(proxy.stderr + proxy.stdout)) {
    if (Date.now() > deadline) throw new Error(`Expected ${pattern}; got:\n${proxy.stderr}\n${proxy.stdout}`);
    await sleep(20);
  }
}

describe("TLS towards servers", () => {
  let trusted: TlsOrigin;
  let untrusted: TlsOrigin;
  let named: TlsOrigin;
  let demanding: TlsOrigin;
  let proxy: CliProcess;
  let httpPort: number;
  let tcpPort: number;
  let removeConfig: () => void;
  const directory = mkdtempSync(join(tmpdir(), "proxy-tls-servers-"));
  const clientPem = join(directory, "client.pem");

  before(async () => {
    writeFileSync(clientPem, read("client.crt") + read("client.key"));
    [trusted, untrusted, named, demanding] = await Promise.all([
      tlsOrigin("trusted", read("default.pem")),
      tlsOrigin("untrusted", read("untrusted.pem")),
      tlsOrigin("named", read("exact.pem")),
      tlsOrigin("demanding", read("default.pem"), { requestCert: true, rejectUnauthorized: true, ca: read("ca.pem") }),
    ]);
    const ca = fixture("ca.pem");
    const file = configFile(`
[defaults]
mode = "http"
timeout = { client = "10s", server = "10s", connect = "5s" }
retries = 1

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "trusted"
routes = [
  { path-prefix = "/untrusted", backend = "untrusted" },
  { path-prefix = "/unverified", backend = "unverified" },
  { path-prefix = "/named", backend = "named" },
  { path-prefix = "/demanding/cert", backend = "demanding-cert" },
  { path-prefix = "/demanding", backend = "demanding" },
]

[frontends.tunnel]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "tcp-trusted"

[backends.trusted]
tls = { ca-file = "${ca}" }
servers = [{ name = "t", address = "127.0.0.1:${trusted.port}" }]

[backends.untrusted]
tls = { ca-file = "${ca}" }
servers = [{ name = "u", address = "127.0.0.1:${untrusted.port}" }]

[backends.unverified]
servers = [{ name = "v", address = "127.0.0.1:${untrusted.port}", tls = { verify = "none" } }]

[backends.named]
tls = { ca-file = "${ca}", sni = "req.hdr(host)" }
servers = [{ name = "n", address = "127.0.0.1:${named.port}" }]

[backends.demanding]
tls = { ca-file = "${ca}" }
servers = [{ name = "d", address = "127.0.0.1:${demanding.port}" }]

[backends.demanding-cert]
tls = { ca-file = "${ca}", crt = "${clientPem}" }
servers = [{ name = "dc", address = "127.0.0.1:${demanding.port}" }]

[backends.tcp-trusted]
mode = "tcp"
tls = { ca-file = "${ca}", alpn = [] }
servers = [{ name = "tt", address = "127.0.0.1:${trusted.port}" }]

[backends.checked]
tls = { ca-file = "${ca}" }
check = { interval = "500ms", timeout = "10s", fall = 2, rise = 2 }
servers = [{ name = "good", address = "127.0.0.1:${trusted.port}", check = true }, { name = "bad", address = "127.0.0.1:${untrusted.port}", check = true }]
`);
    removeConfig = file.remove;
    proxy = new CliProcess(["-f", file.path]);
    const web = await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/);
    const tunnel = await proxy.waitFor(/Frontend "tunnel" \(tcp\) listening on 127\.0\.0\.1:(\d+)/);
    httpPort = Number(web[1]);
    tcpPort = Number(tunnel[1]);
  });

  after(async () => {
    await proxy?.stop();
    removeConfig?.();
    await Promise.all([trusted, untrusted, named, demanding].map((origin) => origin?.close()));
    rmSync(directory, { recursive: true, force: true });
  });

  test("a server whose certificate verifies gets the request over TLS", async () => {
    const first = await get(httpPort, "/");
    assert.equal(first.status, 200);
    assert.equal(first.body, "trusted sni=none client=none", "an IP address is never sent as SNI");
  });

  test("a certificate that fails verification is a connection failure: 503, and one log line saying why", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await get(httpPort, "/untrusted")).status, 503);
    await waitForOutput(proxy, /Server "untrusted\/u": Cannot connect to "127\.0\.0\.1:\d+": certificate verification failed: .*\((?:UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)\)/);
    assert.equal((proxy.stderr.match(/Server "untrusted\/u"/g) ?? []).length, 1, "logged once for the run of failures");
    assert.equal(untrusted.requests(), 0, "no request reached the untrusted server");
  });

  test('verify = "none" accepts any certificate', async () => {
    const result = await get(httpPort, "/unverified");
    assert.equal(result.status, 200);
    assert.match(result.body, /^untrusted /);
  });

  test('sni = "req.hdr(host)": each connection sends the request\'s host, and the certificate is checked against it', async () => {
    const ok = await get(httpPort, "/named", "api.example.test:8080");
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "named sni=api.example.test client=none");
    // exact.pem covers www and api.example.test only: another host's name fails verification.
    assert.equal((await get(httpPort, "/named", "other.example.test")).status, 503);
    assert.ok(named.names.includes("other.example.test"), "the other name was sent as SNI");
  });

  test("a client certificate for a server that demands one; without it, the request fails", async () => {
    // TLS 1.2 refuses during the handshake (503); TLS 1.3 after it, once the request is sent (502).
    assert.ok([502, 503].includes((await get(httpPort, "/demanding")).status));
    const withCert = await get(httpPort, "/demanding/cert");
    assert.equal(withCert.status, 200);
    assert.equal(withCert.body, "demanding sni=none client=client one");
  });

  test("tcp mode originates TLS: plain bytes in, TLS to the server", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: tcpPort });
      let received = "";
      socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      socket.on("error", reject);
      socket.on("close", () => resolve(received));
    });
    assert.match(answer, /^HTTP\/1\.1 200 [^]*trusted sni=none client=none$/);
  });

  test("health checks run over TLS: a server whose certificate fails is marked down with a layer 6 reason", async () => {
    await waitForOutput(proxy, /Server "checked\/bad" is DOWN, reason: Layer6 invalid response, info: "Cannot connect to .*: certificate verification failed/);
    assert.doesNotMatch(proxy.stderr, /Server "checked\/good" is DOWN/);
    assert.equal(proxy.running, true);
  });
});
