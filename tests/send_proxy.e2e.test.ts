/**
 * send-proxy end to end, through the CLI: an origin that decodes the PROXY header byte by byte
 * (v1 and v2, TLVs included) from tcp and http mode, a TLS client with a certificate on a TLS bind
 * for the SSL and CN TLVs, the http reuse rule (a connection that carried a header stays with its
 * client unless http-reuse always), and check-send-proxy; and towards TLS servers, the header in
 * clear before the handshake (HAProxy's `send-proxy` beside `ssl`), for traffic and checks, or
 * `proxy check`'s refusal where the runtime cannot send it (`RuntimeInfo.tls.writeBeforeHandshake`).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliProcess, ROOT, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { configFile } from "./_http_helpers.ts";
import { serveTlsAfter } from "./_tls_helpers.ts";
import { currentRuntime } from "../src/runtime/detect.ts";

const WRITES_BEFORE_HANDSHAKE = currentRuntime().info.tls.writeBeforeHandshake;

const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
const CA = readFileSync(fixture("ca.pem"), "utf8");
const CLIENT_CERT = readFileSync(fixture("client.crt"), "utf8");
const CLIENT_KEY = readFileSync(fixture("client.key"), "utf8");
const TLS_BIND = `{ address = "127.0.0.1:0", crt = ${JSON.stringify(fixture("default.pem"))}, verify = "optional", ca-file = ${JSON.stringify(fixture("ca.pem"))}, alpn = ["http/1.1"] }`;
/** What a TLS origin serves, and the server `tls` table that verifies it. */
const ORIGIN_PEM = readFileSync(fixture("default.pem"), "utf8");
const SERVER_TLS = `{ ca-file = ${JSON.stringify(fixture("ca.pem"))}, sni = "default.test" }`;

/** A PROXY header as the origin decoded it. */
interface Decoded {
  version: 1 | 2;
  /** v1: "TCP4", "TCP6", "UNKNOWN"; v2: "PROXY" or "LOCAL". */
  command: string;
  /** v2: the family byte. */
  family: number;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  tlvs: Map<number, Buffer>;
}

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Decodes the header at the start of `buf`: the header and its length, or null when more bytes are needed. */
function decode(buf: Buffer): { header: Decoded; length: number } | null {
  if (buf.length >= 16 && buf.subarray(0, 12).equals(SIGNATURE)) {
    const length = 16 + buf.readUInt16BE(14);
    if (buf.length < length) return null;
    const verCmd = buf[12]!;
    assert.equal(verCmd >> 4, 2, "version 2");
    const family = buf[13]!;
    const header: Decoded = {
      version: 2,
      command: (verCmd & 0x0f) === 1 ? "PROXY" : "LOCAL",
      family,
      source: "",
      destination: "",
      sourcePort: 0,
      destinationPort: 0,
      tlvs: new Map(),
    };
    let at = 16;
    if (family === 0x11) {
      header.source = [...buf.subarray(16, 20)].join(".");
      header.destination = [...buf.subarray(20, 24)].join(".");
      header.sourcePort = buf.readUInt16BE(24);
      header.destinationPort = buf.readUInt16BE(26);
      at = 28;
    } else {
      assert.equal(family, 0x00, "only TCP4 or UNSPEC on loopback IPv4");
    }
    while (at < length) {
      const type = buf[at]!;
      const size = buf.readUInt16BE(at + 1);
      header.tlvs.set(type, Buffer.from(buf.subarray(at + 3, at + 3 + size)));
      at += 3 + size;
    }
    assert.equal(at, length, "the TLVs fill the header exactly");
    return { header, length };
  }
  if (buf.length < 8) return null;
  assert.equal(buf.subarray(0, 6).toString("latin1"), "PROXY ", `a PROXY header, found ${JSON.stringify(buf.subarray(0, 16).toString("latin1"))}`);
  const end = buf.indexOf("\r\n");
  if (end < 0) return null;
  const words = buf.subarray(0, end).toString("latin1").split(" ");
  return {
    header: {
      version: 1,
      command: words[1]!,
      family: 0,
      source: words[2] ?? "",
      destination: words[3] ?? "",
      sourcePort: Number(words[4] ?? 0),
      destinationPort: Number(words[5] ?? 0),
      tlvs: new Map(),
    },
    length: end + 2,
  };
}

/** The SSL TLV's parts: client flags, verify, and its sub-TLVs. */
function decodeSsl(value: Buffer): { client: number; verify: number; sub: Map<number, string> } {
  const sub = new Map<number, string>();
  let at = 5;
  while (at < value.length) {
    const size = value.readUInt16BE(at + 1);
    sub.set(value[at]!, value.subarray(at + 3, at + 3 + size).toString("utf8"));
    at += 3 + size;
  }
  assert.equal(at, value.length);
  return { client: value[0]!, verify: value.readUInt32BE(1), sub };
}

interface SeenConnection {
  header: Decoded | null;
  requests: number;
  /** What came after the header (tcp mode). */
  data: string;
  /** A TLS origin: the SNI name and ALPN protocol of the handshake that followed the header. */
  tls: { servername: string; alpn: string } | null;
}

/**
 * An origin that decodes the header of each connection, then answers: in tcp mode "ok <bytes>"
 * for what followed, once the client ends; in http mode 200 "ok" to each request head. With
 * `tlsAfterHeader`, what follows the header is a TLS handshake (as default.test), and the answers
 * go over TLS.
 */
async function proxyOrigin(mode: "tcp" | "http", tlsAfterHeader = false) {
  const seen: SeenConnection[] = [];
  const secureContext = tlsAfterHeader ? tls.createSecureContext({ cert: ORIGIN_PEM, key: ORIGIN_PEM }) : undefined;
  const origin = await startOrigin((socket) => {
    const connection: SeenConnection = { header: null, requests: 0, data: "", tls: null };
    seen.push(connection);
    let buffered = Buffer.alloc(0);
    let stream: net.Socket = socket;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (connection.header === null) {
        let decoded: ReturnType<typeof decode>;
        try {
          decoded = decode(buffered);
        } catch (error) {
          connection.data = `bad header: ${(error as Error).message}`;
          socket.destroy();
          return;
        }
        if (decoded === null) return;
        connection.header = decoded.header;
        buffered = buffered.subarray(decoded.length);
        if (secureContext !== undefined) {
          socket.off("data", onData);
          const secure = serveTlsAfter(socket, buffered, { secureContext, ALPNProtocols: ["http/1.1"] });
          buffered = Buffer.alloc(0);
          stream = secure;
          secure.on("secure", () => (connection.tls = { servername: String(secure.servername || ""), alpn: String(secure.alpnProtocol || "") }));
          secure.on("error", () => {});
          secure.on("data", onData);
          secure.on("end", () => (mode === "tcp" ? secure.end(`ok ${connection.data}`) : secure.end()));
          return;
        }
      }
      if (mode === "tcp") {
        connection.data += buffered.toString("latin1");
        buffered = Buffer.alloc(0);
        return;
      }
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) break;
        buffered = buffered.subarray(end + 4);
        connection.requests++;
        stream.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    };
    socket.on("data", onData);
    if (!tlsAfterHeader) {
      if (mode === "tcp") socket.on("end", () => socket.end(`ok ${connection.data}`));
      else socket.on("end", () => socket.end());
    }
  }, false);
  return { ...origin, seen };
}

async function startConfig(text: string, mode: "tcp" | "http"): Promise<{ proxy: CliProcess; ports: number[]; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(new RegExp(`Frontend "web" \\(${mode}\\) listening on ([0-9.:]+(?:, [0-9.:]+)*),`));
    const ports = match[1]!.split(", ").map((address) => Number(address.slice(address.lastIndexOf(":") + 1)));
    return { proxy, ports, remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** A TLS client with the test client certificate: sends `data` (or GETs), returns the answer and its own port. */
function tlsClient(port: number, send: (socket: tls.TLSSocket) => void, until: (answer: string) => boolean): Promise<{ answer: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: CA,
      servername: "default.test",
      cert: CLIENT_CERT,
      key: CLIENT_KEY,
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1.3",
    });
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 20 s; got ${JSON.stringify(answer)}`));
    }, 20_000);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    let localPort = 0;
    socket.on("secureConnect", () => {
      localPort = socket.localPort!;
      send(socket);
    });
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (until(answer)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ answer, localPort });
      }
    });
    socket.on("end", () => {
      clearTimeout(timer);
      resolve({ answer, localPort });
    });
  });
}

/** A plain client that sends `count` GETs one after the other on one connection; resolves with its port once all are answered. */
function plainGets(port: number, count: number, keepOpen = false): Promise<{ localPort: number; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let answered = 0;
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${answered} of ${count} answers within 20 s`));
    }, 20_000);
    socket.on("error", reject);
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      while (received.includes("\r\n\r\nok")) {
        received = received.slice(received.indexOf("\r\n\r\nok") + 6);
        answered++;
        if (answered === count) {
          clearTimeout(timer);
          const localPort = socket.localPort!;
          if (!keepOpen) socket.destroy();
          resolve({ localPort, socket });
          return;
        }
        socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
      }
    });
  });
}

describe("send-proxy, end to end", () => {
  test("tcp mode, v1: the line names the client and the address it reached, then the client's bytes follow", async () => {
    const origin = await proxyOrigin("tcp");
    const { proxy, ports, remove } = await startConfig(`
[frontends.web]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "tcp"
servers = [{ name = "a", address = "${origin.address}", send-proxy = true }]
`, "tcp");
    try {
      const answer = await new Promise<{ text: string; localPort: number }>((resolve, reject) => {
        // The port is read on connect: Bun's socket no longer knows it once ended.
        let localPort = 0;
        const socket = net.connect(ports[0]!, "127.0.0.1", () => {
          localPort = socket.localPort!;
          socket.end("hello");
        });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("error", reject);
        socket.on("end", () => resolve({ text, localPort }));
      });
      assert.equal(answer.text, "ok hello");
      const header = origin.seen[0]!.header!;
      assert.deepEqual(
        [header.version, header.command, header.source, header.destination, header.sourcePort, header.destinationPort],
        [1, "TCP4", "127.0.0.1", "127.0.0.1", answer.localPort, ports[0]],
      );
    } finally {
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  test("tcp mode, v2 from a TLS bind: addresses, AUTHORITY, ALPN, and the SSL TLV with version and CN", async () => {
    const origin = await proxyOrigin("tcp");
    const { proxy, ports, remove } = await startConfig(`
[frontends.web]
mode = "tcp"
bind = ${TLS_BIND}
default-backend = "app"

[backends.app]
mode = "tcp"
send-proxy-v2-ssl-cn = true
servers = [{ name = "a", address = "${origin.address}" }]
`, "tcp");
    try {
      const { answer, localPort } = await tlsClient(ports[0]!, (socket) => socket.end("over tls"), () => false);
      assert.equal(answer, "ok over tls");
      const header = origin.seen[0]!.header!;
      assert.deepEqual(
        [header.version, header.command, header.family, header.source, header.destination, header.sourcePort, header.destinationPort],
        [2, "PROXY", 0x11, "127.0.0.1", "127.0.0.1", localPort, ports[0]],
      );
      assert.equal(header.tlvs.get(0x02)?.toString(), "default.test");
      assert.equal(header.tlvs.get(0x01)?.toString(), "http/1.1");
      const ssl = decodeSsl(header.tlvs.get(0x20)!);
      assert.equal(ssl.client, 0x07, "SSL, certificate on the connection and the session");
      assert.equal(ssl.verify, 0);
      assert.equal(ssl.sub.get(0x21), "TLSv1.3");
      assert.equal(ssl.sub.get(0x22), "client one");
    } finally {
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  test("http mode, v2 from a TLS bind, and v2 from a plain bind says no SSL", async () => {
    const origin = await proxyOrigin("http");
    const { proxy, ports, remove } = await startConfig(`
[frontends.web]
mode = "http"
bind = ["127.0.0.1:0", ${TLS_BIND}]
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${origin.address}", send-proxy-v2-ssl = true }]
`, "http");
    try {
      assert.equal(ports.length, 2);
      const tlsPort = ports[1]!;
      const { answer, localPort } = await tlsClient(tlsPort, (socket) => socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n"), (text) => text.endsWith("\r\n\r\nok"));
      assert.match(answer, /^HTTP\/1\.1 200/);
      const header = origin.seen[0]!.header!;
      assert.deepEqual([header.command, header.sourcePort, header.destinationPort], ["PROXY", localPort, tlsPort]);
      assert.equal(header.tlvs.get(0x01)?.toString(), "http/1.1");
      assert.equal(header.tlvs.get(0x02)?.toString(), "default.test");
      const ssl = decodeSsl(header.tlvs.get(0x20)!);
      assert.equal(ssl.client, 0x07);
      assert.equal(ssl.sub.get(0x21), "TLSv1.3");
      assert.equal(ssl.sub.has(0x22), false, "no CN without send-proxy-v2-ssl-cn");

      const plain = await plainGets(ports[0]!, 1);
      const second = origin.seen[1]!.header!;
      assert.deepEqual([second.command, second.sourcePort, second.destinationPort], ["PROXY", plain.localPort, ports[0]]);
      assert.deepEqual([...second.tlvs.keys()], [0x20]);
      assert.deepEqual(decodeSsl(second.tlvs.get(0x20)!), { client: 0, verify: 1, sub: new Map() });
    } finally {
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  for (const reuse of ["safe", "always"] as const) {
    test(`http mode, http-reuse ${reuse}: ${reuse === "safe" ? "a connection that carried a header stays with its client" : "a connection is shared and keeps its first client's header"}`, async () => {
      const origin = await proxyOrigin("http");
      const { proxy, ports, remove } = await startConfig(`
[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "http"
http-reuse = "${reuse}"
send-proxy = true
servers = [{ name = "a", address = "${origin.address}" }, { name = "b", address = "${origin.address}" }]
`, "http");
      try {
        // Round robin: client one's request goes to a and its connection stays idle while client
        // one stays connected; client two's first request goes to b (a first request never rides
        // an idle connection), its second to a, where client one's connection is idle. Under
        // "safe" a connection with a PROXY header is private, so the second request gets a new
        // connection to a with client two's header; under "always" it rides client one's.
        const one = await plainGets(ports[0]!, 1, true);
        const two = await plainGets(ports[0]!, 2);
        one.socket.destroy();
        const headers = origin.seen.map((connection) => connection.header!.sourcePort);
        const requests = origin.seen.map((connection) => connection.requests);
        if (reuse === "safe") {
          assert.deepEqual(headers, [one.localPort, two.localPort, two.localPort], "each server connection with its own client's header");
          assert.deepEqual(requests, [1, 1, 1]);
        } else {
          assert.deepEqual(headers, [one.localPort, two.localPort], "client two's second request rode client one's connection");
          assert.deepEqual(requests, [2, 1]);
        }
      } finally {
        await proxy.stop();
        remove();
        await origin.close();
      }
    });
  }

  test("check-send-proxy: a v2 server's checks send LOCAL, a v1 check describes the check's own connection", async () => {
    const v2 = await proxyOrigin("tcp");
    const v1 = await proxyOrigin("tcp");
    const { proxy, remove } = await startConfig(`
[frontends.web]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "tcp"
check = { interval = "100ms", timeout = "5s" }
servers = [
  { name = "v2", address = "${v2.address}", send-proxy-v2 = true },
  { name = "v1", address = "${v1.address}", check-send-proxy = true },
]
`, "tcp");
    try {
      await waitUntil(() => v2.seen.some((c) => c.header !== null) && v1.seen.some((c) => c.header !== null), "a check on each server");
      const local = v2.seen.find((c) => c.header !== null)!.header!;
      assert.deepEqual([local.version, local.command, local.family, local.tlvs.size], [2, "LOCAL", 0, 0]);
      const line = v1.seen.find((c) => c.header !== null)!.header!;
      assert.deepEqual([line.version, line.command, line.source, line.destination, line.destinationPort], [1, "TCP4", "127.0.0.1", "127.0.0.1", v1.port]);
      assert.ok(line.sourcePort > 0);
      assert.equal(proxy.running, true);
    } finally {
      await proxy.stop();
      remove();
      await v2.close();
      await v1.close();
    }
  });
});

describe("send-proxy towards TLS servers: the header in clear, then the handshake", () => {
  const skip = !WRITES_BEFORE_HANDSHAKE && "the runtime refuses it: see the check-time test";

  test("tcp mode, v1: the header, then a verified handshake, then the client's bytes", { skip }, async () => {
    const origin = await proxyOrigin("tcp", true);
    let started: Awaited<ReturnType<typeof startConfig>> | undefined;
    try {
      started = await startConfig(`
[frontends.web]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "tcp"
servers = [{ name = "a", address = "${origin.address}", send-proxy = true, tls = ${SERVER_TLS} }]
`, "tcp");
      const port = started.ports[0]!;
      const answer = await new Promise<{ text: string; localPort: number }>((resolve, reject) => {
        let localPort = 0;
        const socket = net.connect(port, "127.0.0.1", () => {
          localPort = socket.localPort!;
          socket.end("hello over tls");
        });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("error", reject);
        socket.on("end", () => resolve({ text, localPort }));
      });
      assert.equal(answer.text, "ok hello over tls");
      assert.equal(origin.seen.length, 1);
      const seen = origin.seen[0]!;
      assert.deepEqual(
        [seen.header!.version, seen.header!.command, seen.header!.source, seen.header!.destination, seen.header!.sourcePort, seen.header!.destinationPort],
        [1, "TCP4", "127.0.0.1", "127.0.0.1", answer.localPort, port],
      );
      assert.deepEqual(seen.tls, { servername: "default.test", alpn: "http/1.1" });
    } finally {
      await started?.proxy.stop();
      started?.remove();
      await origin.close();
    }
  });

  test("http mode, v2 with the SSL TLV from a TLS bind to a TLS server; a header-carrying connection stays with its client", { skip }, async () => {
    const origin = await proxyOrigin("http", true);
    let started: Awaited<ReturnType<typeof startConfig>> | undefined;
    try {
      started = await startConfig(`
[frontends.web]
mode = "http"
bind = ["127.0.0.1:0", ${TLS_BIND}]
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${origin.address}", send-proxy-v2-ssl-cn = true, tls = ${SERVER_TLS} }]
`, "http");
      const [plainPort, tlsPort] = started.ports as [number, number];
      const { answer, localPort } = await tlsClient(tlsPort, (socket) => socket.write("GET / HTTP/1.1\r\nHost: test\r\n\r\n"), (text) => text.endsWith("\r\n\r\nok"));
      assert.match(answer, /^HTTP\/1\.1 200/);
      const first = origin.seen[0]!;
      assert.deepEqual([first.header!.version, first.header!.command, first.header!.sourcePort, first.header!.destinationPort], [2, "PROXY", localPort, tlsPort]);
      assert.equal(first.header!.tlvs.get(0x02)?.toString(), "default.test");
      const ssl = decodeSsl(first.header!.tlvs.get(0x20)!);
      assert.deepEqual([ssl.client, ssl.verify, ssl.sub.get(0x21), ssl.sub.get(0x22)], [0x07, 0, "TLSv1.3", "client one"]);
      assert.deepEqual(first.tls, { servername: "default.test", alpn: "http/1.1" });
      // Another client, on the plain bind: a connection of its own, with its own header, over TLS.
      const plain = await plainGets(plainPort, 2);
      assert.equal(origin.seen.length, 2, "the first client's connection was not reused");
      const second = origin.seen[1]!;
      assert.deepEqual([second.header!.command, second.header!.sourcePort, second.header!.destinationPort, second.requests], ["PROXY", plain.localPort, plainPort, 2]);
      assert.deepEqual(second.tls, { servername: "default.test", alpn: "http/1.1" });
    } finally {
      await started?.proxy.stop();
      started?.remove();
      await origin.close();
    }
  });

  test("check-send-proxy over TLS: a tcp check sends v2 LOCAL, an http check v1 UNKNOWN (its addresses are not known before the handshake), each then completes its handshake", { skip }, async () => {
    const v2 = await proxyOrigin("tcp", true);
    const v1 = await proxyOrigin("http", true);
    let started: Awaited<ReturnType<typeof startConfig>> | undefined;
    try {
      started = await startConfig(`
[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
default-backend = "v1"

[backends.v2]
mode = "http"
check = { interval = "100ms", timeout = "5s" }
servers = [{ name = "v2", address = "${v2.address}", send-proxy-v2 = true, tls = ${SERVER_TLS} }]

[backends.v1]
mode = "http"
check = { type = "http", path = "/health", interval = "100ms", timeout = "5s" }
servers = [{ name = "v1", address = "${v1.address}", check-send-proxy = true, tls = ${SERVER_TLS} }]
`, "http");
      // A tcp check passes once its handshake is done and the certificate verified (the origin may
      // see the connection close before the client's last handshake message).
      await waitUntil(
        () => /Health check for server "v2\/v2" succeeded, reason: Layer4 check passed/.test(started!.proxy.stderr) && v1.seen.some((c) => c.requests > 0),
        "a check on each server, through its handshake",
      );
      const local = v2.seen.find((c) => c.header !== null)!;
      assert.deepEqual([local.header!.version, local.header!.command, local.header!.family, local.header!.tlvs.size], [2, "LOCAL", 0, 0]);
      const line = v1.seen.find((c) => c.requests > 0)!;
      assert.deepEqual([line.header!.version, line.header!.command], [1, "UNKNOWN"]);
      assert.deepEqual(line.tls, { servername: "default.test", alpn: "http/1.1" });
      assert.equal(started.proxy.running, true);
    } finally {
      await started?.proxy.stop();
      started?.remove();
      await v2.close();
      await v1.close();
    }
  });

  test("proxy check accepts send-proxy beside a server's tls where the runtime sends the header before the handshake, and refuses it elsewhere", async () => {
    const file = configFile(`
[frontends.web]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "tcp"
servers = [{ name = "a", address = "127.0.0.1:1", send-proxy-v2 = true, tls = { verify = "none" } }]
`);
    const proxy = new CliProcess(["check", "-f", file.path]);
    try {
      const code = await proxy.waitExit();
      if (WRITES_BEFORE_HANDSHAKE) {
        assert.equal(code, 0, proxy.stderr);
      } else {
        assert.notEqual(code, 0);
        assert.match(proxy.stderr, /Server "a" has both "send-proxy-v2" and "tls", which cannot be honoured together on this runtime/);
      }
    } finally {
      await proxy.stop();
      file.remove();
    }
  });
});
