/**
 * forwardfor, forwarded-proto and forwarded-host end to end: the real CLI started with -f on a TOML
 * file in http mode, and a raw origin that records the request heads it receives.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type * as net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, exchange, startOrigin } from "./_cli_helpers.ts";

/** Answers each request head with a small 200 and records the head's header lines. */
function recordHeads(heads: string[][]): (socket: net.Socket) => void {
  return (socket) => {
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      let end: number;
      while ((end = buffered.indexOf("\r\n\r\n")) !== -1) {
        heads.push(buffered.slice(0, end).split("\r\n").slice(1));
        buffered = buffered.slice(end + 4);
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    });
  };
}

function request(extra = ""): string {
  return `GET / HTTP/1.1\r\nHost: app.example:8080\r\n${extra}Connection: close\r\n\r\n`;
}

test("X-Forwarded-For, -Proto and -Host reach the server as configured", async () => {
  const heads: string[][] = [];
  const origin = await startOrigin(recordHeads(heads));
  const directory = mkdtempSync(join(tmpdir(), "proxy-forwarded-"));
  const file = join(directory, "proxy.toml");
  writeFileSync(file, `
[defaults]
mode = "http"

[frontends.plain]
bind = "127.0.0.1:0"
default-backend = "app"
forwardfor = true

[frontends.local]
bind = "127.0.0.1:0"
default-backend = "app"
forwardfor = { except = "127.0.0.0/8" }

[frontends.all]
bind = "127.0.0.1:0"
default-backend = "app"
forwardfor = { header = "X-Client-IP", if-none = true }
forwarded-proto = true
forwarded-host = true

[frontends.none]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
servers = [{ name = "o", address = "${origin.address}" }]
`);
  const proxy = new CliProcess(["-f", file]);
  try {
    const port = async (name: string) =>
      Number((await proxy.waitFor(new RegExp(`Frontend "${name}" \\(http\\) listening on 127\\.0\\.0\\.1:(\\d+)`)))[1]);
    const plain = await port("plain");
    const local = await port("local");
    const all = await port("all");
    const none = await port("none");
    const send = async (to: number, text: string): Promise<string[]> => {
      const answer = (await exchange(to, text)).toString("latin1");
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
      return heads.shift()!;
    };

    // Appended with the client's address.
    let head = await send(plain, request());
    assert.deepEqual(head.filter((line) => /^x-forwarded-/i.test(line)), ["X-Forwarded-For: 127.0.0.1"]);
    // After an incoming one, as a new line: never merged.
    head = await send(plain, request("X-Forwarded-For: 203.0.113.7\r\n"));
    assert.deepEqual(head.filter((line) => /^x-forwarded-for/i.test(line)), ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-For: 127.0.0.1"]);
    assert.equal(head[head.length - 1], "X-Forwarded-For: 127.0.0.1");
    // The client is in the except network: nothing added, an incoming one kept as is.
    head = await send(local, request("X-Forwarded-For: 203.0.113.7\r\n"));
    assert.deepEqual(head.filter((line) => /^x-forwarded-/i.test(line)), ["X-Forwarded-For: 203.0.113.7"]);
    // Custom header name, Proto and Host.
    head = await send(all, request());
    assert.deepEqual(head.filter((line) => /^x-(forwarded|client)/i.test(line)), [
      "X-Client-IP: 127.0.0.1",
      "X-Forwarded-Proto: http",
      "X-Forwarded-Host: app.example:8080",
    ]);
    // A client cannot claim another scheme or host past us: ours replace theirs.
    head = await send(all, request("X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"));
    assert.deepEqual(head.filter((line) => /^x-forwarded-(proto|host)/i.test(line)), [
      "X-Forwarded-Proto: http",
      "X-Forwarded-Host: app.example:8080",
    ]);
    // Where we do not set them, they pass untouched.
    head = await send(plain, request("X-Forwarded-Proto: https\r\n"));
    assert.deepEqual(head.filter((line) => /^x-forwarded-proto/i.test(line)), ["X-Forwarded-Proto: https"]);
    // if-none: the request already names the client.
    head = await send(all, request("x-client-ip: 192.0.2.1\r\n"));
    assert.deepEqual(head.filter((line) => /^x-client/i.test(line)), ["x-client-ip: 192.0.2.1"]);
    // Off by default.
    head = await send(none, request());
    assert.deepEqual(head.filter((line) => /^x-forwarded-/i.test(line)), []);
  } finally {
    await proxy.stop();
    await origin.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
