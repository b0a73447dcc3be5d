/**
 * A dead server, end to end (issue 17, section 3): three origins on loopback behind the real CLI,
 * one of them closed so that connections to it are refused. With `redispatch`, a refused
 * connection sends the request to another server at once, never after the turn-around delay
 * (min(timeout connect, 1 s): 1 s here); with checks, `fall` refused connections take the server
 * down, however long the check interval (60 s here, so that no check can be what marks it down).
 * In http and tcp mode, and without checks.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { CliProcess, exchange, sleep, startOrigin } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";

/** The turn-around delay with `timeout connect` at 5 s: a request that waited one took at least this long. */
const TURNAROUND_MS = 1_000;
const FALL = 3;
/** Sequential requests after the kill: enough that the dead server is picked more than `fall` times. */
const REQUESTS = 24;
/** Requests served while every origin is alive. */
const WARMUP = 6;

type Origin = { address: string; close: () => Promise<void> };

/** One GET on a fresh connection: the status, the body and how long it took. */
function get(port: number): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", agent: false }, (response) => {
      let body = "";
      response.setEncoding("latin1");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, ms: performance.now() - started }));
      response.on("error", reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error("Request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** One tcp session: what the origin said, and how long it took. */
async function tcpSession(port: number): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const answer = await exchange(port, "", false, 15_000);
  return { status: answer.length > 0 ? 200 : 0, body: answer.toString(), ms: performance.now() - started };
}

function httpNamed(name: string): Promise<Origin> {
  return httpOrigin((_request, response) => response.end(name));
}

function tcpNamed(name: string): Promise<Origin> {
  return startOrigin((socket) => socket.end(name));
}

function config(mode: "http" | "tcp", origins: readonly Origin[], checks: boolean): string {
  return `
[defaults]
mode = "${mode}"
retries = 3
redispatch = true

[defaults.timeout]
connect = "5s"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
log = "stdout"
log-format = "%s %rc"

[backends.app]
${checks ? `check = { interval = "60s", fall = ${FALL}, rise = 2 }` : ""}
servers = [
${origins.map((origin, index) => `  { name = "${"abc"[index]}", address = "${origin.address}" },`).join("\n")}
]
`;
}

/**
 * The traffic log's lines (`%s %rc`: the server that answered, and the retries, `+N` when the
 * session was redispatched), once `count` of them arrived.
 */
async function trafficLines(proxy: CliProcess, count: number): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const lines = proxy.stdout.split("\n").filter((line) => line !== "");
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`Expected ${count} traffic lines; got:\n${proxy.stdout}`);
    await sleep(20);
  }
}

async function deadServerRun(
  mode: "http" | "tcp",
  checks: boolean,
  check: (proxy: CliProcess, redispatched: number) => Promise<void>,
): Promise<void> {
  const named = mode === "http" ? httpNamed : tcpNamed;
  const origins = [await named("a"), await named("b"), await named("c")];
  const file = configFile(config(mode, origins, checks));
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(/Frontend "web" \(\w+\) listening on 127\.0\.0\.1:(\d+)/);
    const port = Number(match[1]);
    // a's first check runs at once (checks are spread over the interval in declaration order): once it
    // passed, a's counter is at its steady top, `fall` failed checks away from down.
    if (checks) await proxy.waitFor(/Health check for server "app\/a" succeeded/);
    const served = mode === "http" ? get : tcpSession;
    // Served while a is alive.
    const before = new Set<string>();
    for (let i = 0; i < WARMUP; i++) before.add((await served(port)).body);
    assert.deepEqual([...before].sort(), ["a", "b", "c"]);
    await origins[0]!.close();
    const answers = [];
    for (let i = 0; i < REQUESTS; i++) answers.push(await served(port));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.ok(answer.body === "b" || answer.body === "c", `answered by "${answer.body}"`);
    }
    // What the proxy did, independent of the machine's speed: a request that met a refusal on a
    // was redispatched on its first retry ("+1"), one that went straight to b or c says "0"; one
    // that retried a after the turn-around would say 1, 2, 3 or "+3".
    const afterKill = (await trafficLines(proxy, WARMUP + REQUESTS)).slice(-REQUESTS);
    for (const line of afterKill) assert.match(line, /^[bc] (0|\+1)$/);
    // What the client saw: no request waited for a turn-around.
    for (const answer of answers) {
      assert.ok(answer.ms < TURNAROUND_MS, `a request took ${Math.round(answer.ms)} ms: it waited for a retry turn-around`);
    }
    await check(proxy, afterKill.filter((line) => line.endsWith("+1")).length);
    assert.equal(proxy.running, true);
  } finally {
    await proxy.stop();
    file.remove();
    for (const origin of origins) await origin.close();
  }
}

for (const mode of ["http", "tcp"] as const) {
  test(`${mode} mode: a refused server costs no turn-around and is marked down after fall refusals`, async () => {
    await deadServerRun(mode, true, async (proxy, redispatched) => {
      const down = await proxy.waitFor(/Server "app\/a" is DOWN, [^\n]*/);
      assert.match(down[0], /reason: Layer4 connection problem, info: "Connection refused", 3 traffic connections in a row\. 2 active and 0 backup servers left/);
      // Exactly fall requests met a refusal: a was out after the third, not after fall x inter (3 min).
      assert.equal(redispatched, FALL);
    });
  });
}

test("without checks, a refused server stays in rotation but each refusal is redispatched at once", async () => {
  await deadServerRun("http", false, async (proxy, redispatched) => {
    // Round robin keeps sending a its share: each of those requests met one refusal, then went elsewhere.
    assert.ok(redispatched > FALL, `${redispatched} of ${REQUESTS} requests met a refusal`);
    assert.doesNotMatch(proxy.stderr, /is DOWN/);
  });
});
