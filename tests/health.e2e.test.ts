/**
 * Server health and overload protection end to end, with real origins: health checks taking a
 * failing origin out and back, an origin killed under load, backups, 503 at once, maxconn queues
 * with `timeout queue`, slow start, and the http retry on another server.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type * as net from "node:net";
import { CliProcess, exchange, sleep, startOrigin } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";

/** One GET (or other method) on a fresh connection; resolves with the status, the body and the time it took. */
function request(port: number, path = "/", method = "GET", headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (response) => {
      let body = "";
      response.setEncoding("latin1");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, ms: Date.now() - started }));
      response.on("error", reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error("Request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** A named origin whose /health status the test sets, answering its name to everything else. */
async function namedOrigin(name: string, delayMs = 0) {
  const state = { health: 200, inFlight: 0, maxInFlight: 0, order: [] as string[] };
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/health") {
      res.writeHead(state.health, { "Content-Type": "text/plain" });
      res.end(state.health === 200 ? "healthy" : "sick");
      return;
    }
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    state.order.push(String(req.headers["x-seq"] ?? ""));
    setTimeout(() => {
      state.inFlight--;
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(name);
    }, delayMs);
  });
  return { name, state, ...origin };
}

/** An http configuration: frontend "web" on a free port in front of backend "app", described by `backend`. */
function webConfig(backend: string, defaults = ""): string {
  return `
[defaults]
mode = "http"
${defaults}

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
${backend}
`;
}

/** Starts the CLI on a config file and returns its port (frontend "web"). */
async function startWithConfig(text: string): Promise<{ proxy: CliProcess; port: number; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/);
    return { proxy, port: Number(match[1]), remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** Waits for `pattern` to appear in the proxy's output after `from` characters; returns when it did (Date.now()). */
async function waitMessage(proxy: CliProcess, pattern: RegExp, from: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(proxy.stderr.slice(from))) return Date.now();
    await sleep(10);
  }
  throw new Error(`Expected ${pattern} in the proxy's output; got:\n${proxy.stderr}`);
}

test("an origin whose health endpoint fails is taken out after fall checks and back after rise checks", async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const interval = 500;
  const { proxy, port, remove } = await startWithConfig(webConfig(`
check = { type = "http", path = "/health", interval = "${interval}ms", rise = 2, fall = 3 }
servers = [
  { name = "a", address = "${a.address}" },
  { name = "b", address = "${b.address}" },
]
`));
  try {
    await sleep(interval * 2);
    const before = await Promise.all([1, 2, 3, 4].map(() => request(port)));
    assert.deepEqual(new Set(before.map((r) => r.body)), new Set(["a", "b"]));

    let mark = proxy.stderr.length;
    const sickAt = Date.now();
    a.state.health = 500;
    const downAt = await waitMessage(proxy, /Server "app\/a" is DOWN, reason: Layer7 wrong status, code: 500/, mark);
    const downAfter = downAt - sickAt;
    // The first failing check comes within an interval, then fall - 1 more, one interval apart.
    assert.ok(downAfter >= 2 * interval - 150 && downAfter <= 4 * interval + 250, `marked down after ${downAfter} ms`);
    assert.match(proxy.stderr.slice(mark), /Health check for server "app\/a" failed, reason: Layer7 wrong status, code: 500.*status: 2\/3 UP/);
    const during = [];
    for (let i = 0; i < 10; i++) during.push((await request(port)).body);
    assert.deepEqual(new Set(during), new Set(["b"]), "no traffic to a down server");

    mark = proxy.stderr.length;
    const healedAt = Date.now();
    a.state.health = 200;
    const upAt = await waitMessage(proxy, /Server "app\/a" is UP, reason: Layer7 check passed, code: 200/, mark);
    const upAfter = upAt - healedAt;
    assert.ok(upAfter >= interval - 150 && upAfter <= 3 * interval + 250, `marked up after ${upAfter} ms`);
    const after = [];
    for (let i = 0; i < 10; i++) after.push((await request(port)).body);
    assert.deepEqual(new Set(after), new Set(["a", "b"]));
  } finally {
    await proxy.stop();
    remove();
    await a.close();
    await b.close();
  }
});

test("killing origins under load: in-flight requests only may fail, then the backup, then 503 at once", async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const spare = await namedOrigin("spare");
  const { proxy, port, remove } = await startWithConfig(webConfig(`
check = { interval = "200ms", fall = 2, rise = 2 }
servers = [
  { name = "a", address = "${a.address}" },
  { name = "b", address = "${b.address}" },
  { name = "spare", address = "${spare.address}", backup = true },
]
`, `
retries = 1

[defaults.timeout]
connect = "1s"
`));
  const results: Array<{ at: number; status: number; body: string }> = [];
  let running = true;
  const loops = [1, 2, 3, 4].map(async () => {
    while (running) {
      try {
        const response = await request(port);
        results.push({ at: Date.now(), status: response.status, body: response.body });
      } catch {
        results.push({ at: Date.now(), status: 0, body: "" });
      }
    }
  });
  try {
    await sleep(500);
    let mark = proxy.stderr.length;
    const killedA = Date.now();
    await a.close();
    const aDown = await waitMessage(proxy, /Server "app\/a" is DOWN/, mark);
    await sleep(200);
    const afterA = results.filter((r) => r.at > aDown);
    assert.ok(afterA.length > 0);
    assert.deepEqual(new Set(afterA.map((r) => r.body)), new Set(["b"]), "after a is down, b serves everything");
    const failedAroundA = results.filter((r) => r.at >= killedA && r.status !== 200);
    assert.ok(failedAroundA.length <= 4, `${failedAroundA.length} requests failed when a died (4 clients)`);

    mark = proxy.stderr.length;
    await b.close();
    const bDown = await waitMessage(proxy, /Server "app\/b" is DOWN.*0 active and 1 backup servers left/, mark);
    // Requests that met b's refusals before it was marked down wait out their retry turn-around
    // (min(timeout connect, 1 s)) before going elsewhere; everything after that is the backup's.
    await sleep(1_500);
    const afterB = results.filter((r) => r.at > bDown + 1_100);
    assert.ok(afterB.length > 0);
    assert.deepEqual(new Set(afterB.map((r) => `${r.status} ${r.body}`)), new Set(["200 spare"]), "the backup serves");

    mark = proxy.stderr.length;
    await spare.close();
    await waitMessage(proxy, /Backend "app" has no server available!/, mark);
    running = false;
    await Promise.all(loops);
    const lastOnes = await Promise.all([1, 2, 3].map(() => request(port)));
    for (const response of lastOnes) {
      assert.equal(response.status, 503);
      assert.ok(response.ms < 500, `503 after ${response.ms} ms: it must not wait for a timeout`);
    }
  } finally {
    running = false;
    await Promise.all(loops);
    await proxy.stop();
    remove();
    await a.close();
    await b.close();
    await spare.close();
  }
});

test("maxconn 1 with a slow origin: requests are served one at a time in arrival order; too long a wait gets 503", async () => {
  const slow = await namedOrigin("slow", 500);
  const { proxy, port, remove } = await startWithConfig(webConfig(`
timeout = { queue = "1600ms" }
servers = [{ name = "slow", address = "${slow.address}", maxconn = 1 }]
`));
  try {
    const pending = [];
    for (let seq = 1; seq <= 5; seq++) {
      pending.push(request(port, "/", "GET", { "X-Seq": String(seq) }));
      await sleep(40);
    }
    const responses = await Promise.all(pending);
    // Sent 40 ms apart, served 500 ms each: the 4th waits about 1380 ms, the 5th would wait 1840 ms.
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 503]);
    assert.deepEqual(slow.state.order, ["1", "2", "3", "4"], "served in arrival order");
    assert.equal(slow.state.maxInFlight, 1, "never two requests at once on the server");
    const queued = responses[4]!;
    assert.ok(queued.ms >= 1_550 && queued.ms < 2_600, `503 after ${queued.ms} ms of queue`);
    assert.match(queued.body, /503/);
  } finally {
    await proxy.stop();
    remove();
    await slow.close();
  }
});

test("slowstart: a returning server's share grows over the window", async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const window = 3_000;
  const { proxy, port, remove } = await startWithConfig(webConfig(`
slowstart = "${window}ms"
check = { type = "http", path = "/health", interval = "100ms", rise = 1, fall = 1 }
servers = [
  { name = "a", address = "${a.address}" },
  { name = "b", address = "${b.address}" },
]
`));
  try {
    let mark = proxy.stderr.length;
    a.state.health = 503;
    await waitMessage(proxy, /Server "app\/a" is DOWN/, mark);
    mark = proxy.stderr.length;
    a.state.health = 200;
    const upAt = await waitMessage(proxy, /Server "app\/a" is UP/, mark);
    const served: Array<{ at: number; body: string }> = [];
    const loops = [1, 2].map(async () => {
      while (Date.now() - upAt < window + 600) {
        const response = await request(port);
        served.push({ at: Date.now() - upAt, body: response.body });
      }
    });
    await Promise.all(loops);
    const share = (from: number, to: number) => {
      const slice = served.filter((s) => s.at >= from && s.at < to);
      return slice.filter((s) => s.body === "a").length / Math.max(1, slice.length);
    };
    const shares = [share(0, window / 3), share(window / 3, (2 * window) / 3), share((2 * window) / 3, window), share(window + 100, window + 600)];
    assert.ok(served.length > 60, `only ${served.length} requests measured`);
    assert.ok(shares[0]! < 0.3, `first third share ${shares[0]}`);
    assert.ok(shares[0]! < shares[1]! && shares[1]! < shares[2]!, `shares grow: ${shares.join(", ")}`);
    assert.ok(shares[3]! > 0.4, `after the window: ${shares[3]}`);
  } finally {
    await proxy.stop();
    remove();
    await a.close();
    await b.close();
  }
});

test("a request whose fresh server connection closes before any response byte is retried on another server (idempotent only)", async () => {
  // An origin that accepts and hangs up on every request as soon as it arrives.
  const hangup = await startOrigin((socket: net.Socket) => {
    socket.once("data", () => socket.destroy());
  });
  const good = await namedOrigin("good");
  const { proxy, port, remove } = await startWithConfig(webConfig(`
servers = [
  { name = "hangup", address = "127.0.0.1:${hangup.port}" },
  { name = "good", address = "${good.address}" },
]
`, `
balance = "roundrobin"
`));
  try {
    const gets = [];
    for (let i = 0; i < 6; i++) gets.push(await request(port));
    assert.deepEqual(gets.map((r) => `${r.status} ${r.body}`), Array(6).fill("200 good"));
    assert.ok(hangup.connections() >= 3, "the hanging-up server got its share first");
    const posts = [];
    for (let i = 0; i < 4; i++) posts.push((await request(port, "/", "POST")).status);
    assert.deepEqual(posts.sort(), [200, 200, 502, 502], "a POST is not replayed");
  } finally {
    await proxy.stop();
    remove();
    await hangup.close();
    await good.close();
  }
});

test("tcp mode: a session beyond the server's maxconn waits for a slot, and is closed after timeout queue", async () => {
  // Each connection is answered 600 ms after it opens, with the order it was accepted in.
  let accepted = 0;
  const origin = await startOrigin((socket: net.Socket) => {
    const seq = ++accepted;
    setTimeout(() => socket.end(`served ${seq}`), 600);
  });
  const file = configFile(`
[frontends.db]
bind = "127.0.0.1:0"
default-backend = "db"

[backends.db]
timeout = { queue = "800ms" }
servers = [{ name = "only", address = "${origin.address}", maxconn = 1 }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "db" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const started = Date.now();
    const first = exchange(port, "", false);
    await sleep(50);
    const second = exchange(port, "", false);
    await sleep(50);
    const third = exchange(port, "", false);
    const [one, two, three] = await Promise.all([first, second, third]);
    // The second waits about 550 ms for the first's slot; the third would wait 1100 ms.
    assert.equal(one.toString(), "served 1");
    assert.equal(two.toString(), "served 2");
    assert.equal(three.toString(), "", "closed without a server");
    assert.equal(accepted, 2, "the origin never saw more than its maxconn");
    assert.ok(Date.now() - started >= 1_100, "the second was served after the first");
  } finally {
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});
