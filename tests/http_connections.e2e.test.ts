/**
 * http mode connection handling end to end: WebSocket upgrades through the proxy, http-reuse
 * modes, http-server-close / httpclose, tune limits, and the quick start's http default.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { createHash } from "node:crypto";
import { CliProcess, sleep, startOrigin, startProxy } from "./_cli_helpers.ts";
import { configFile, httpOrigin, RawClient } from "./_http_helpers.ts";

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked (server) or masked (client) WebSocket text frame, payload under 126 bytes. */
function frame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const key = mask ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0);
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  const body = Buffer.from(payload.map((byte, index) => (mask ? byte ^ key[index % 4]! : byte)));
  return Buffer.concat([head, key, body]);
}

/** Decodes the payloads of the complete frames in `data` (short frames only). */
function payloads(data: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const masked = (data[at + 1]! & 0x80) !== 0;
    const length = data[at + 1]! & 0x7f;
    const start = at + 2 + (masked ? 4 : 0);
    if (start + length > data.length) break;
    const key = data.subarray(at + 2, at + 6);
    out.push(Buffer.from(data.subarray(start, start + length).map((byte, index) => (masked ? byte ^ key[index % 4]! : byte))).toString());
    at = start + length;
  }
  return out;
}

/** A WebSocket echo origin: answers the handshake with 101, then echoes every text frame in upper case. */
function websocketOrigin(heads: string[]) {
  return startOrigin((socket: net.Socket) => {
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString("latin1");
        heads.push(head);
        buffered = buffered.subarray(end + 4);
        const key = /^sec-websocket-key: *(.+)$/im.exec(head)?.[1]?.trim() ?? "";
        const accept = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        upgraded = true;
      }
      const messages = payloads(buffered);
      if (messages.length === 0) return;
      buffered = Buffer.alloc(0);
      for (const message of messages) socket.write(frame(message.toUpperCase(), false));
    });
  });
}

const UPGRADE_REQUEST = "GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

test("a WebSocket upgrade becomes a tunnel: echo both ways, half-close, then the tunnel timeout", async () => {
  const heads: string[] = [];
  const origin = await websocketOrigin(heads);
  const file = configFile(`
[defaults]
mode = "http"

[defaults.timeout]
tunnel = "1s"
client = "30s"
server = "30s"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "ws"

[backends.ws]
servers = [{ name = "o", address = "${origin.address}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const client = new RawClient(port);
    await client.opened;
    client.send(UPGRADE_REQUEST);
    const head = await client.until((text) => text.includes("\r\n\r\n"));
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(head, /\r\nConnection: upgrade\r\n/i);
    assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    // The server got the upgrade with its headers.
    assert.match(heads[0]!, /\r\nUpgrade: websocket/i);
    assert.match(heads[0]!, /\r\nConnection: upgrade/i);
    const headEnd = client.received.indexOf("\r\n\r\n") + 4;
    // The tunnel's last activity is the echo of these frames, after this moment: measured from
    // here the cut cannot come before `timeout tunnel`, however late the test sees the echo.
    const started = Date.now();
    client.send(frame("hello", true));
    client.send(frame("world", true));
    await client.until(() => payloads(client.received.subarray(headEnd)).length === 2);
    assert.deepEqual(payloads(client.received.subarray(headEnd)), ["HELLO", "WORLD"]);
    // Nothing flows for longer than `timeout tunnel` (1 s, where client and server are 30 s): the
    // proxy cuts the tunnel.
    await client.untilClosed();
    assert.ok(Date.now() - started >= 900, "closed before the tunnel timeout");

    // Half-close: the client's FIN reaches the server, whose answer still comes back.
    const second = new RawClient(port);
    await second.opened;
    second.send(UPGRADE_REQUEST);
    await second.until((text) => text.includes("\r\n\r\n"));
    const secondEnd = second.received.indexOf("\r\n\r\n") + 4;
    second.send(frame("bye", true));
    second.socket.end();
    await second.untilClosed();
    assert.deepEqual(payloads(second.received.subarray(secondEnd)), ["BYE"]);

    assert.ok(proxy.running, proxy.stderr);
  } finally {
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});

test("a 101 that answers no upgrade request is refused with 502", async () => {
  const origin = await startOrigin((socket) => {
    socket.once("data", () => socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"));
  });
  const { proxy, port } = await startProxy(["--backend", origin.address]);
  try {
    const client = new RawClient(port);
    await client.opened;
    client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const text = await client.untilClosed();
    assert.match(text, /^HTTP\/1\.1 502 /);
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

/** Starts the CLI on a one-frontend http config with `extra` lines in [backends.app]. */
async function startWith(address: string, frontendExtra: string, backendExtra: string, globalExtra = "") {
  const file = configFile(`
${globalExtra}
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
${frontendExtra}

[backends.app]
servers = [{ name = "o", address = "${address}" }]
${backendExtra}
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    return { proxy, port, stop: async () => { await proxy.stop(); file.remove(); } };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** Sends `count` requests one after the other on one client connection; resolves with the text received. */
async function sequential(port: number, count: number): Promise<{ text: string; closed: boolean }> {
  const client = new RawClient(port);
  await client.opened;
  for (let i = 1; i <= count; i++) {
    client.send(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await client.until((text) => (text.match(/HTTP\/1\.1 200/g) ?? []).length === i && text.endsWith(`/${i}`));
  }
  await sleep(50);
  const result = { text: client.text, closed: client.closed };
  client.close();
  return result;
}

test("http-reuse never keeps a server connection private; always shares it from the first request", async () => {
  const origin = await httpOrigin((request, response) => response.end(request.url));
  try {
    // never: one client, one private server connection for all its requests; a second client opens its own.
    let proxy = await startWith(origin.address, "", `http-reuse = "never"`);
    try {
      await sequential(proxy.port, 3);
      assert.equal(origin.connections(), 1);
      await sequential(proxy.port, 2);
      assert.equal(origin.connections(), 2, "never: the second client does not take the first one's connection");
    } finally {
      await proxy.stop();
    }
    // always: the second client's first request rides the idle connection of the first client.
    const before = origin.connections();
    proxy = await startWith(origin.address, "", `http-reuse = "always"`);
    try {
      await sequential(proxy.port, 2);
      await sequential(proxy.port, 2);
      assert.equal(origin.connections() - before, 1);
    } finally {
      await proxy.stop();
    }
  } finally {
    await origin.close();
  }
});

test("http-server-close closes each server connection; httpclose closes the client's too", async () => {
  const seen: string[] = [];
  const origin = await httpOrigin((request, response) => {
    seen.push(request.headers.connection ?? "-");
    response.end(request.url);
  });
  try {
    let proxy = await startWith(origin.address, `http-connection-mode = "http-server-close"`, "");
    try {
      const { text, closed } = await sequential(proxy.port, 3);
      assert.equal(origin.connections(), 3);
      assert.deepEqual(seen, ["close", "close", "close"]);
      assert.equal(closed, false, "the client connection stays open");
      assert.doesNotMatch(text, /Connection: close/i);
    } finally {
      await proxy.stop();
    }
    proxy = await startWith(origin.address, "", `http-connection-mode = "httpclose"`);
    try {
      const client = new RawClient(proxy.port);
      await client.opened;
      client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
      const text = await client.untilClosed();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nConnection: close\r\n/i);
    } finally {
      await proxy.stop();
    }
  } finally {
    await origin.close();
  }
});

test("tune.bufsize and tune.http-maxhdr bound request heads, as received and after rules", async () => {
  const origin = await httpOrigin((_request, response) => response.end("ok"));
  const proxy = await startWith(
    origin.address,
    `http-request = [{ action = "add-header", name = "X-Padding", value = "${"p".repeat(700)}", if = { header = { name = "X-Pad" } } }]`,
    "",
    `[global.tune]\nbufsize = 2048\nmaxrewrite = 512\nhttp-maxhdr = 5\n`,
  );
  try {
    const ask = async (extra: string) => {
      const client = new RawClient(proxy.port);
      await client.opened;
      client.send(`GET / HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
      return (await client.untilClosed()).split("\r\n")[0];
    };
    assert.equal(await ask("X-A: 1\r\n"), "HTTP/1.1 200 OK");
    assert.equal(await ask(`X-Big: ${"a".repeat(1600)}\r\n`), "HTTP/1.1 400 Bad Request", "a head over bufsize - maxrewrite");
    assert.equal(await ask("X-A: 1\r\nX-B: 1\r\nX-C: 1\r\nX-D: 1\r\n"), "HTTP/1.1 400 Bad Request", "more header lines than http-maxhdr");
    // Within the limit as received, over the buffer once the rule adds its header: HAProxy's 500.
    assert.equal(await ask(`X-Pad: ${"a".repeat(1400)}\r\n`), "HTTP/1.1 500 Internal Server Error");
    assert.equal(await ask(`X-Pad: ${"a".repeat(100)}\r\n`), "HTTP/1.1 200 OK");
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("the quick start runs http mode by default and balances each request", async () => {
  const a = await httpOrigin((_request, response) => response.end("A"));
  const b = await httpOrigin((_request, response) => response.end("B"));
  const { proxy, port } = await startProxy(["--backend", `${a.address},${b.address}`]);
  try {
    assert.match(proxy.stderr, /Frontend "main" \(http\) listening/);
    const client = new RawClient(port);
    await client.opened;
    client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4));
    const text = await client.until((received) => (received.match(/HTTP\/1\.1 200/g) ?? []).length === 4 && /[AB]$/.test(received));
    const bodies = text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((response) => response.slice(-1));
    assert.deepEqual(bodies, ["A", "B", "A", "B"]);
    client.close();
  } finally {
    await proxy.stop();
    await a.close();
    await b.close();
  }
});

test("balance uri keeps a path on one server; balance hdr keeps a header value on one server", async () => {
  const a = await httpOrigin((_request, response) => response.end("A"));
  const b = await httpOrigin((_request, response) => response.end("B"));
  const file = configFile(`
[defaults]
mode = "http"

[frontends.by-uri]
bind = "127.0.0.1:0"
default-backend = "by-uri"

[frontends.by-header]
bind = "127.0.0.1:0"
default-backend = "by-header"

[backends.by-uri]
balance = "uri"
servers = [{ name = "a", address = "${a.address}" }, { name = "b", address = "${b.address}" }]

[backends.by-header]
balance = "hdr(X-User)"
servers = [{ name = "a", address = "${a.address}" }, { name = "b", address = "${b.address}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = async (name: string) =>
      Number((await proxy.waitFor(new RegExp(`Frontend "${name}" \\(http\\) listening on 127\\.0\\.0\\.1:(\\d+)`)))[1]);
    const byUri = await port("by-uri");
    const byHeader = await port("by-header");
    const served = async (to: number, target: string, extra = ""): Promise<string> => {
      const client = new RawClient(to);
      await client.opened;
      client.send(`GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
      return (await client.untilClosed()).slice(-1);
    };
    const servers = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const path = `/item/${i}`;
      const first = await served(byUri, path);
      servers.add(first);
      // The same path, with another query string, goes to the same server every time.
      assert.equal(await served(byUri, `${path}?v=2`), first);
      assert.equal(await served(byUri, path), first);
    }
    assert.deepEqual([...servers].sort(), ["A", "B"], "sixteen paths all went to one server");
    const users = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const first = await served(byHeader, "/", `X-User: user${i}\r\n`);
      users.add(first);
      assert.equal(await served(byHeader, "/other", `X-User: user${i}\r\n`), first);
    }
    assert.deepEqual([...users].sort(), ["A", "B"]);
    // Without the header: round robin.
    assert.notEqual(await served(byHeader, "/"), await served(byHeader, "/"));
  } finally {
    await proxy.stop();
    file.remove();
    await a.close();
    await b.close();
  }
});
