/**
 * Routes, http-request / http-response rules and errorfiles end to end: the real CLI started with
 * -f on a TOML file, node:http origins that say who they are and what they received, raw clients.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CliProcess, deadPort, exchange } from "./_cli_helpers.ts";
import { configFile, httpOrigin, RawClient } from "./_http_helpers.ts";

/** An origin answering its name, the path it saw and the request headers it got (as JSON). */
function namedOrigin(name: string) {
  return httpOrigin((request, response) => {
    response.setHeader("X-Origin", name);
    response.setHeader("X-Path", request.url ?? "");
    response.setHeader("X-Internal", "secret");
    response.setHeader("X-Request-Headers", JSON.stringify(request.headers));
    response.end(name);
  });
}

interface Answer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** Parses one response with a Content-Length body out of raw text. */
function parseResponse(text: string): Answer {
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end > 0, `no complete head in ${JSON.stringify(text)}`);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const length = Number(headers.get("content-length")?.[0] ?? "0");
  return { status: Number(statusLine!.split(" ")[1]), headers, body: text.slice(end + 4, end + 4 + length) };
}

/** Sends one request with `Connection: close` and parses the answer. */
async function ask(port: number, method: string, target: string, host: string, extra = ""): Promise<Answer> {
  const text = (await exchange(port, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`)).toString("latin1");
  return parseResponse(text);
}

function header(answer: Answer, name: string): string | undefined {
  return answer.headers.get(name)?.[0];
}

function requestHeaders(answer: Answer): Record<string, string> {
  return JSON.parse(header(answer, "x-request-headers") ?? "{}");
}

test("routes pick backends by host, path, method, header and source; rules rewrite and answer", async () => {
  const www = await namedOrigin("www");
  const api = await namedOrigin("api");
  const media = await namedOrigin("static");
  const admin = await namedOrigin("admin");
  const dead = await deadPort();
  const file = configFile("");
  const page503 = join(dirname(file.path), "503.http");
  writeFileSync(page503, "HTTP/1.1 503 Service Unavailable\nContent-Type: text/plain\nCache-Control: no-cache\n\nwe are down, sorry\n");
  writeFileSync(file.path, `
[defaults]
mode = "http"
retries = 0

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "www"
routes = [
  { backend = "api", host = "api.example.com" },
  { backend = "api", path-prefix = "/api/" },
  { backend = "static", host = "*.cdn.example.com", method = ["GET", "HEAD"] },
  { backend = "admin", header = { name = "X-Admin", equals = "yes" }, source = "127.0.0.0/8" },
  { backend = "admin", path-regex = "^/v[0-9]+/admin$" },
]
http-request = [
  { action = "deny", if = { path-prefix = "/private" } },
  { action = "deny", status = 429, if = { path = "/slow-down" } },
  { action = "redirect", scheme = "https", code = 301, if = { host = "secure.example.com" } },
  { action = "redirect", prefix = "/new", if = { path-prefix = "/old" } },
  { action = "redirect", location = "https://example.org/", code = 308, if = { path = "/moved" } },
  { action = "return", status = 200, content-type = "text/plain", body = "pong", if = { path = "/ping" } },
  { action = "set-header", name = "X-Proxy", value = "ours" },
  { action = "add-header", name = "X-Seen", value = "1" },
  { action = "del-header", name = "X-Secret" },
  { action = "set-path", path = "/rewritten", if = { path = "/rewrite-me" } },
  { action = "set-header", name = "X-Not-Get", value = "1", unless = { method = "GET" } },
]
http-response = [{ action = "set-header", name = "X-Frontend", value = "web" }]

[frontends.routes-only]
bind = "127.0.0.1:0"
routes = [{ backend = "api", path = "/only" }]

[frontends.down]
bind = "127.0.0.1:0"
default-backend = "dead"
errorfiles = { 503 = "${page503}" }

[backends.www]
servers = [{ name = "w", address = "${www.address}" }]
http-response = [
  { action = "del-header", name = "X-Internal" },
  { action = "add-header", name = "X-Backend", value = "www" },
]

[backends.api]
servers = [{ name = "a", address = "${api.address}" }]
http-request = [{ action = "set-header", name = "X-Api", value = "1" }]

[backends.static]
servers = [{ name = "s", address = "${media.address}" }]

[backends.admin]
servers = [{ name = "a", address = "${admin.address}" }]

[backends.dead]
servers = [{ name = "d", address = "127.0.0.1:${dead}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = async (name: string) =>
      Number((await proxy.waitFor(new RegExp(`Frontend "${name}" \\(http\\) listening on 127\\.0\\.0\\.1:(\\d+)`)))[1]);
    const web = await port("web");
    const routesOnly = await port("routes-only");
    const down = await port("down");

    // Routing: first match wins, default-backend otherwise.
    assert.equal((await ask(web, "GET", "/", "www.example.com")).body, "www");
    assert.equal((await ask(web, "GET", "/", "API.example.com:8080")).body, "api");
    assert.equal((await ask(web, "GET", "/api/users?x=1", "www.example.com")).body, "api");
    assert.equal((await ask(web, "GET", "/apix", "www.example.com")).body, "www");
    assert.equal((await ask(web, "GET", "/a.png", "img.cdn.example.com")).body, "static");
    assert.equal((await ask(web, "GET", "/a.png", "x.y.cdn.example.com")).body, "static");
    assert.equal((await ask(web, "GET", "/a.png", "cdn.example.com")).body, "www", "*.suffix does not match the bare domain");
    assert.equal((await ask(web, "POST", "/a.png", "img.cdn.example.com", "Content-Length: 0\r\n")).body, "www", "method must match too");
    assert.equal((await ask(web, "GET", "/", "www.example.com", "X-Admin: yes\r\n")).body, "admin");
    assert.equal((await ask(web, "GET", "/", "www.example.com", "X-Admin: no\r\n")).body, "www");
    assert.equal((await ask(web, "GET", "/v2/admin", "www.example.com")).body, "admin");
    assert.equal((await ask(web, "GET", "http://api.example.com/abs", "www.example.com")).body, "api", "the authority of an absolute-form target is the host");

    // No route and no default backend: 503.
    assert.equal((await ask(routesOnly, "GET", "/only", "x")).body, "api");
    assert.equal((await ask(routesOnly, "GET", "/other", "x")).status, 503);

    // Header rules on the way in, per frontend then per backend.
    let answer = await ask(web, "GET", "/", "www.example.com", "X-Proxy: theirs\r\nX-Secret: s3cr3t\r\nX-Seen: 0\r\n");
    let seen = requestHeaders(answer);
    assert.equal(seen["x-proxy"], "ours");
    assert.equal(seen["x-seen"], "0, 1");
    assert.equal(seen["x-secret"], undefined);
    assert.equal(seen["x-api"], undefined);
    assert.equal(seen["x-not-get"], undefined);
    seen = requestHeaders(await ask(web, "GET", "/api/x", "www.example.com"));
    assert.equal(seen["x-api"], "1");
    seen = requestHeaders(await ask(web, "DELETE", "/", "www.example.com"));
    assert.equal(seen["x-not-get"], "1");
    answer = await ask(web, "GET", "/rewrite-me?q=1", "www.example.com");
    assert.equal(header(answer, "x-path"), "/rewritten?q=1");

    // Header rules on the way out: the backend's, then the frontend's.
    assert.equal(header(answer, "x-internal"), undefined);
    assert.equal(header(answer, "x-backend"), "www");
    assert.equal(header(answer, "x-frontend"), "web");
    answer = await ask(web, "GET", "/api/x", "www.example.com");
    assert.equal(header(answer, "x-internal"), "secret", "the api backend keeps it");
    assert.equal(header(answer, "x-frontend"), "web");

    // deny, redirect, return.
    answer = await ask(web, "GET", "/private/x", "www.example.com");
    assert.equal(answer.status, 403);
    assert.match(answer.body, /403 Forbidden/);
    assert.equal(header(answer, "connection"), "close");
    assert.equal((await ask(web, "GET", "/slow-down", "www.example.com")).status, 429);
    answer = await ask(web, "GET", "/a/b?c=d", "secure.example.com");
    assert.equal(answer.status, 301);
    assert.equal(header(answer, "location"), "https://secure.example.com/a/b?c=d");
    answer = await ask(web, "GET", "/old/page?x=1", "www.example.com");
    assert.equal(answer.status, 302);
    assert.equal(header(answer, "location"), "/new/old/page?x=1");
    answer = await ask(web, "GET", "/moved", "www.example.com");
    assert.equal(answer.status, 308);
    assert.equal(header(answer, "location"), "https://example.org/");
    answer = await ask(web, "GET", "/ping", "www.example.com");
    assert.deepEqual([answer.status, header(answer, "content-type"), answer.body], [200, "text/plain", "pong"]);

    // A redirect and a return keep the connection: the next request follows on it.
    const client = new RawClient(web);
    await client.opened;
    client.send("GET /ping HTTP/1.1\r\nHost: www.example.com\r\n\r\nGET /moved HTTP/1.1\r\nHost: www.example.com\r\n\r\nGET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
    const text = await client.until((received) => received.endsWith("www"));
    assert.deepEqual([...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((match) => match[1]), ["200", "308", "200"]);
    assert.equal(client.closed, false);
    client.close();

    // errorfiles replace the built-in page.
    answer = await ask(down, "GET", "/", "x");
    assert.equal(answer.status, 503);
    assert.equal(answer.body, "we are down, sorry\n");
    assert.equal(header(answer, "content-type"), "text/plain");
  } finally {
    await proxy.stop();
    file.remove();
    await Promise.all([www.close(), api.close(), media.close(), admin.close()]);
  }
});
