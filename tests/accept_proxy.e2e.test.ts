/**
 * `accept-proxy` end to end: the real CLI, raw clients that send PROXY v1 and v2 headers (built by
 * hand from proxy-protocol.txt) before their request, and origins that record what they get. The
 * header's address must be the client's everywhere: X-Forwarded-For, the log line, `source`
 * routes and `balance source`; bad headers are closed and logged while a good client is served.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import type * as http from "node:http";
import { CliProcess, exchange, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import { concat, ipv4Block, ipv6Block, sslValue, v1Header, v2Header } from "./_proxy_header_helpers.ts";

const encoder = new TextEncoder();

function request(path: string): Uint8Array {
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`);
}

/** An origin that answers its name and the X-Forwarded-For it got, and records the paths. */
async function namedOrigin(name: string): Promise<Awaited<ReturnType<typeof httpOrigin>>> {
  return await httpOrigin((req: http.IncomingMessage, res: http.ServerResponse) => {
    const text = `${name} xff=${req.headers["x-forwarded-for"] ?? "-"}`;
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": String(text.length), "Connection": "close" });
    res.end(text);
  });
}

/** The answer's body, after checking its status line. */
function body(answer: Buffer, status = 200): string {
  const text = answer.toString("latin1");
  assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), text);
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

/** Opens a connection, writes `bytes` (no FIN), resolves when the proxy closes it, with what it sent. */
function writeAndWaitClose(port: number, bytes: Uint8Array, timeoutMs = 10_000): Promise<{ received: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = 0;
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The proxy did not close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received, ms: Date.now() - started });
    });
  });
}

test("accept-proxy in http mode: the header's client in X-Forwarded-For, logs, source routes and balance source; bad headers closed and logged", async () => {
  const app = await namedOrigin("app");
  const special = await namedOrigin("special");
  const hashA = await namedOrigin("a");
  const hashB = await namedOrigin("b");
  const file = configFile(`
[global]
log = "stdout"

[defaults]
mode = "http"
log = "global"

[frontends.web]
bind = [{ address = "127.0.0.1:0", accept-proxy = true }, "127.0.0.1:0"]
default-backend = "app"
forwardfor = true
timeout = { client = "1s" }
log-format = "%ci:%cp %fi:%fp %b/%s %ST authority=%[fc_pp_authority] cn=%[fc_pp_tlv(SSL_CN)] %{+Q}r"
routes = [{ backend = "special", source = "203.0.113.0/24" }]

[frontends.hashed]
bind = { address = "127.0.0.1:0", accept-proxy = true }
default-backend = "hashed"
log-format = "%ci %b/%s %{+Q}r"

[backends.app]
servers = [{ name = "o", address = "${app.address}" }]

[backends.special]
servers = [{ name = "s", address = "${special.address}" }]

[backends.hashed]
balance = "source"
servers = [{ name = "a", address = "${hashA.address}" }, { name = "b", address = "${hashB.address}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const web = await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+), 127\.0\.0\.1:(\d+)/);
    const proxied = Number(web[1]);
    const plain = Number(web[2]);
    const hashed = Number((await proxy.waitFor(/Frontend "hashed" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const logLine = async (marker: string): Promise<string> => {
      await waitUntil(() => proxy.stdout.includes(marker), `the log line of ${marker}`);
      return proxy.stdout.split("\n").find((line) => line.includes(marker))!;
    };

    // v1 TCP4: the request follows the header in the same write.
    const v1 = await exchange(proxied, concat(v1Header("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"), request("/v1-tcp4")));
    assert.equal(body(v1), "app xff=192.0.2.10");
    assert.match(await logLine("/v1-tcp4"), /^192\.0\.2\.10:56324 198\.51\.100\.1:443 app\/o 200 authority=- cn=- "GET \/v1-tcp4 HTTP\/1\.1"$/);

    // v1 TCP6.
    const v6 = await exchange(proxied, concat(v1Header("PROXY TCP6 2001:db8::7 2001:db8::1 40000 8443\r\n"), request("/v1-tcp6")));
    assert.equal(body(v6), "app xff=2001:db8::7");
    assert.match(await logLine("/v1-tcp6"), /^\[?2001:db8::7\]?:40000 \[?2001:db8::1\]?:8443 app\/o 200 /);

    // v1 UNKNOWN: the connection's own address.
    const unknown = await exchange(proxied, concat(v1Header("PROXY UNKNOWN\r\n"), request("/v1-unknown")));
    assert.equal(body(unknown), "app xff=127.0.0.1");
    assert.match(await logLine("/v1-unknown"), /^127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ app\/o 200 /);

    // v2 IPv4 with authority and SSL TLVs, the header and the request in separate writes.
    const v2 = concat(v2Header({
      family: 0x11,
      addresses: ipv4Block([192, 0, 2, 20], [198, 51, 100, 2], 1234, 80),
      tlvs: [[0x01, [...encoder.encode("http/1.1")]], [0x02, [...encoder.encode("www.example.com")]], [0x20, sslValue(0x03, 0, [[0x21, "TLSv1.3"], [0x22, "client.example"]])]],
    }));
    const split = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: proxied, allowHalfOpen: true });
      const chunks: Buffer[] = [];
      socket.on("connect", () => {
        socket.write(v2.subarray(0, 7));
        setTimeout(() => socket.write(v2.subarray(7)), 50);
        setTimeout(() => socket.end(request("/v2-tcp4")), 100);
      });
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(body(split), "app xff=192.0.2.20");
    assert.match(await logLine("/v2-tcp4"), /^192\.0\.2\.20:1234 198\.51\.100\.2:80 app\/o 200 authority=www\.example\.com cn=client\.example /);

    // v2 IPv6.
    const source6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x09];
    const destination6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x01];
    const v2six = await exchange(proxied, concat(v2Header({ family: 0x21, addresses: ipv6Block(source6, destination6, 5555, 80) }), request("/v2-tcp6")));
    assert.equal(body(v2six), "app xff=2001:db8::9");

    // v2 LOCAL (the balancer's own health probe): the connection's own address.
    const local = await exchange(proxied, concat(v2Header({ command: 0, family: 0 }), request("/v2-local")));
    assert.equal(body(local), "app xff=127.0.0.1");
    assert.match(await logLine("/v2-local"), /^127\.0\.0\.1:\d+ /);

    // A source route picks by the header's address.
    const routed = await exchange(proxied, concat(v1Header("PROXY TCP4 203.0.113.5 198.51.100.1 1000 80\r\n"), request("/routed")));
    assert.equal(body(routed), "special xff=203.0.113.5");
    assert.match(await logLine("/routed"), /^203\.0\.113\.5:1000 .* special\/s 200 /);

    // balance source hashes the header's address: the same client always lands on the same
    // server, and clients that all come from 127.0.0.1 spread over both.
    const picks = new Map<string, string>();
    for (let round = 0; round < 2; round++) {
      for (let client = 1; client <= 16; client++) {
        const answer = await exchange(hashed, concat(v1Header(`PROXY TCP4 10.1.${client}.${client * 7} 10.0.0.1 999 80\r\n`), request(`/hash-${client}-${round}`)));
        const server = body(answer).split(" ")[0]!;
        if (round === 0) picks.set(`10.1.${client}`, server);
        else assert.equal(server, picks.get(`10.1.${client}`), `client ${client} moved`);
      }
    }
    assert.deepEqual(new Set(picks.values()), new Set(["a", "b"]));
    assert.match(await logLine("/hash-3-1"), /^10\.1\.3\.21 hashed\/[ab] /);

    // A plain bind never reads a header: the PROXY line is a bad request there.
    const passthrough = await exchange(plain, concat(v1Header("PROXY TCP4 192.0.2.66 198.51.100.1 1 2\r\n"), request("/plain")));
    assert.match(passthrough.toString("latin1"), /^HTTP\/1\.1 400 /);
    assert.ok(!proxy.stdout.includes("192.0.2.66"), "the plain bind took the PROXY line's address");

    // Bad input, each closed and logged, while a good client is served between them.
    const bad: Array<[string, Uint8Array, RegExp]> = [
      ["no header", request("/no-header"), /web\/1: Received something which does not look like a PROXY protocol header$/],
      ["malformed v1", v1Header("PROXY TCP4 192.0.2.300 198.51.100.1 1 2\r\n"), /web\/1: Received an invalid PROXY protocol header$/],
      ["bad protocol", v1Header("PROXY UDP4 192.0.2.3 198.51.100.1 1 2\r\n"), /web\/1: Received an unhandled protocol in the PROXY protocol header$/],
      ["v2 over the limit", v2Header({ length: 60_000 }).subarray(0, 16), /web\/1: Received an invalid PROXY protocol header$/],
    ];
    for (const [what, bytes, line] of bad) {
      const before = proxy.stdout.split("\n").length;
      const closed = await writeAndWaitClose(proxied, bytes);
      assert.equal(closed.received, 0, `${what}: the proxy answered`);
      await waitUntil(() => proxy.stdout.split("\n").slice(before - 1).some((text) => line.test(text)), `the log line of ${what}`);
      assert.match(proxy.stdout.split("\n").slice(before - 1).find((text) => line.test(text))!, /^127\.0\.0\.1:\d+ \[\d\d\/\w{3}\/\d{4}:[\d:.]+\] web\/1: /);
    }
    // Truncated: the client ends inside the header.
    const truncated = await exchange(proxied, v1Header("PROXY TCP4 192.0.2.1"));
    assert.equal(truncated.length, 0);
    await waitUntil(() => proxy.stdout.includes("web/1: Truncated PROXY protocol header received"), "the truncated header's line");
    // Closed before any byte.
    assert.equal((await exchange(proxied, "")).length, 0);
    await waitUntil(() => proxy.stdout.includes("web/1: Connection closed while waiting for PROXY protocol header"), "the empty connection's line");

    // Slower than timeout client (1 s): closed and logged, while a good client is served meanwhile.
    const slow = writeAndWaitClose(proxied, v2Header({ addresses: ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) }).subarray(0, 20));
    const meanwhile = await exchange(proxied, concat(v1Header("PROXY TCP4 192.0.2.77 198.51.100.1 1 2\r\n"), request("/meanwhile")));
    assert.equal(body(meanwhile), "app xff=192.0.2.77");
    const slowClosed = await slow;
    assert.ok(slowClosed.ms >= 800 && slowClosed.ms < 5_000, `closed after ${slowClosed.ms} ms`);
    await waitUntil(() => proxy.stdout.includes("web/1: Timeout while waiting for PROXY protocol header"), "the timeout's line");

    // And the frontend still serves.
    const after = await exchange(proxied, concat(v1Header("PROXY TCP4 192.0.2.78 198.51.100.1 1 2\r\n"), request("/after")));
    assert.equal(body(after), "app xff=192.0.2.78");
    assert.ok(proxy.running);
  } finally {
    await proxy.stop();
    file.remove();
    await Promise.all([app.close(), special.close(), hashA.close(), hashB.close()]);
  }
});

test("accept-proxy in tcp mode: the bytes after the header reach the server, the log names the header's client", async () => {
  const received: Buffer[] = [];
  const origin = await startOrigin((socket) => {
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      socket.end("pong");
    });
  });
  const file = configFile(`
[global]
log = "stdout"

[defaults]
mode = "tcp"
log = "global"

[frontends.relay]
bind = { address = "127.0.0.1:0", accept-proxy = true }
default-backend = "db"
log-format = "%ci:%cp %fi:%fp %b/%s %ts"

[backends.db]
servers = [{ name = "d", address = "127.0.0.1:${origin.port}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "relay" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const v2 = v2Header({ family: 0x11, addresses: ipv4Block([192, 0, 2, 44], [198, 51, 100, 9], 4444, 5432) });
    const answer = await exchange(port, concat(v2, encoder.encode("ping")));
    assert.equal(answer.toString(), "pong");
    assert.equal(Buffer.concat(received).toString(), "ping");
    await waitUntil(() => proxy.stdout.includes("192.0.2.44:4444"), "the session's log line");
    assert.match(proxy.stdout, /^192\.0\.2\.44:4444 198\.51\.100\.9:5432 db\/d --$/m);
    // No header in tcp mode: closed and logged too, nothing reaches the server.
    const before = received.length;
    const refused = await exchange(port, encoder.encode("ping"));
    assert.equal(refused.length, 0);
    await waitUntil(() => proxy.stdout.includes("relay/1: Received something which does not look like a PROXY protocol header"), "the refusal's line");
    assert.equal(received.length, before);
  } finally {
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});

test("accept-proxy must be a boolean (beside crt: accept_proxy_tls.e2e.test.ts)", async () => {
  const file = configFile(`
[frontends.web]
mode = "http"
bind = [{ address = "127.0.0.1:0", accept-proxy = "yes" }, { address = "127.0.0.1:0", accept-proxy = true }]
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "127.0.0.1:1" }]
`);
  const proxy = new CliProcess(["check", "-f", file.path]);
  try {
    assert.notEqual(await proxy.waitExit(), 0);
    assert.match(proxy.stderr, /frontends\.web\.bind\[0\]\.accept-proxy: /);
    assert.doesNotMatch(proxy.stderr, /bind\[1\]/);
  } finally {
    await proxy.stop();
    file.remove();
  }
});
