/**
 * Server health and overload protection end to end, with real origins: health checks taking a
 * failing origin out and back, an origin killed under load, backups, 503 at once, maxconn queues
 * with `timeout queue`, slow start, and the http retry on another server.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type * as net from "node:net";
import { CliProcess, exchange, sleep, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import { parseRfc5424 } from "./_syslog_helpers.ts";

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
async function namedOrigin(name: string) {
  const state = { health: 200 };
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/health") {
      res.writeHead(state.health, { "Content-Type": "text/plain" });
      res.end(state.health === 200 ? "healthy" : "sick");
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(name);
  });
  return { name, state, ...origin };
}

/**
 * An origin that holds every request until the test releases it (in arrival order), so when a
 * response completes is the test's decision, whatever the machine's speed.
 */
async function heldOrigin(name: string) {
  const state = { inFlight: 0, maxInFlight: 0, order: [] as string[] };
  const held: Array<() => void> = [];
  const origin = await httpOrigin((req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    state.order.push(String(req.headers["x-seq"] ?? ""));
    held.push(() => {
      state.inFlight--;
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(name);
    });
  });
  return {
    ...origin,
    state,
    held: () => held.length,
    releaseOne: () => held.shift()?.(),
    releaseAll: () => {
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** A log date as %t and %tr print it ("07/Dec/2025:14:44:08.123", local time), in epoch ms. */
function localLogDate(text: string): number {
  const match = /^(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(text);
  assert.ok(match !== null, `Not a log date: ${text}`);
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].indexOf(match[2]!);
  return new Date(Number(match[3]), month, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]), Number(match[7])).getTime();
}

/**
 * Waits until `backend` has `count` requests waiting for a server, as the proxy itself reports them
 * in its SIGHUP state dump: the order in which requests join the queue is then known, not guessed
 * from how long the test waited between sending them.
 */
async function waitQueued(proxy: CliProcess, backend: string, count: number, timeoutMs = 20_000): Promise<void> {
  // A frontend of the same name has its own line, which says it has no servers.
  const pattern = new RegExp(`SIGHUP: Proxy ${backend} (?!has no servers)[^\\n]*, (\\d+) pend \\(`);
  const deadline = Date.now() + timeoutMs;
  let seen = "nothing";
  while (Date.now() < deadline) {
    const mark = proxy.stderr.length;
    proxy.sendSignal("SIGHUP");
    const match = await waitMatch(proxy, pattern, mark);
    seen = match[1]!;
    if (Number(seen) === count) return;
    await sleep(20);
  }
  throw new Error(`Expected ${count} requests queued in "${backend}", the proxy reports ${seen}:\n${proxy.stderr}`);
}

/** The first match of `pattern` in the proxy's output after `from` characters; fails after a bound. */
async function waitMatch(proxy: CliProcess, pattern: RegExp, from: number, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = proxy.stderr.slice(from).match(pattern);
    if (match !== null) return match;
    await sleep(10);
  }
  throw new Error(`Expected ${pattern} in the proxy's output; got:\n${proxy.stderr}`);
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
async function waitMessage(proxy: CliProcess, pattern: RegExp, from: number, timeoutMs = 30_000): Promise<number> {
  await waitMatch(proxy, pattern, from, timeoutMs);
  return Date.now();
}

test("an origin whose health endpoint fails is taken out after fall checks and back after rise checks", async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const interval = 500;
  // An explicit check timeout: by default a check may take one interval, and on a loaded machine a
  // check the proxy could not run in time would count as a failure the test did not cause.
  const { proxy, port, remove } = await startWithConfig(webConfig(`
check = { type = "http", path = "/health", interval = "${interval}ms", timeout = "10s", rise = 2, fall = 3 }
servers = [
  { name = "a", address = "${a.address}" },
  { name = "b", address = "${b.address}" },
]
`));
  try {
    // As in HAProxy, a server starts up but one failed check away from down: a's first passed check
    // gives it its full health (fall failed checks away).
    await waitMessage(proxy, /Health check for server "app\/a" succeeded, .*status: 3\/3 UP\./, 0);
    const before = await Promise.all([1, 2, 3, 4].map(() => request(port)));
    assert.deepEqual(new Set(before.map((r) => r.body)), new Set(["a", "b"]));

    let mark = proxy.stderr.length;
    const sickAt = Date.now();
    a.state.health = 500;
    const downAt = await waitMessage(proxy, /Server "app\/a" is DOWN, reason: Layer7 wrong status, code: 500/, mark);
    // fall = 3: two failed checks are logged while the server is still up, the third takes it down.
    assert.deepEqual(
      [...proxy.stderr.slice(mark).matchAll(/Health check for server "app\/a" (\w+), .*status: (\d\/\d \w+)\./g)].map((m) => `${m[1]} ${m[2]}`),
      ["failed 2/3 UP", "failed 1/3 UP"],
    );
    assert.match(proxy.stderr.slice(mark), /Health check for server "app\/a" failed, reason: Layer7 wrong status, code: 500.*status: 2\/3 UP/);
    // Three checks one interval apart cannot take less than two intervals (the wheel is never early
    // on an armed timer). The upper bound only catches checks far slower than their interval: a
    // loaded machine delays the checks and the test's view of the log.
    const downAfter = downAt - sickAt;
    assert.ok(downAfter >= 2 * interval - 150 && downAfter <= 4 * interval + 8_000, `marked down after ${downAfter} ms`);
    const during = [];
    for (let i = 0; i < 10; i++) during.push((await request(port)).body);
    assert.deepEqual(new Set(during), new Set(["b"]), "no traffic to a down server");

    mark = proxy.stderr.length;
    const healedAt = Date.now();
    a.state.health = 200;
    const upAt = await waitMessage(proxy, /Server "app\/a" is UP, reason: Layer7 check passed, code: 200/, mark);
    // rise = 2: one passed check is logged while the server is still down, the second brings it up.
    assert.deepEqual(
      [...proxy.stderr.slice(mark).matchAll(/Health check for server "app\/a" (\w+), .*status: (\d\/\d \w+)\./g)].map((m) => `${m[1]} ${m[2]}`),
      ["succeeded 1/2 DOWN"],
    );
    const upAfter = upAt - healedAt;
    assert.ok(upAfter >= interval - 150 && upAfter <= 3 * interval + 8_000, `marked up after ${upAfter} ms`);
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
  // A long queue timeout: a request with no server left must get its 503 at once, not after it.
  const { proxy, port, remove } = await startWithConfig(webConfig(`
check = { interval = "200ms", timeout = "10s", fall = 2, rise = 2 }
timeout = { queue = "20s" }
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
  // Each result with when its request was sent and when it ended, on the test's clock.
  const results: Array<{ sent: number; at: number; status: number; body: string }> = [];
  let running = true;
  const loops = [1, 2, 3, 4].map(async () => {
    while (running) {
      const sent = Date.now();
      try {
        const response = await request(port);
        results.push({ sent, at: Date.now(), status: response.status, body: response.body });
      } catch {
        results.push({ sent, at: Date.now(), status: 0, body: "" });
      }
    }
  });
  /** Waits until `count` requests sent after `time` have ended, and returns them. */
  const sentAfter = async (time: number, count: number) => {
    await waitUntil(() => results.filter((r) => r.sent > time).length >= count, `${count} requests sent after the change`);
    return results.filter((r) => r.sent > time);
  };
  try {
    await waitUntil(() => results.length >= 8, "traffic before the first kill");
    let mark = proxy.stderr.length;
    const killedA = Date.now();
    await a.close();
    const aDown = await waitMessage(proxy, /Server "app\/a" is DOWN/, mark);
    // A request sent once the test saw a marked down never meets it: b serves everything.
    const afterA = await sentAfter(aDown, 8);
    assert.deepEqual(new Set(afterA.map((r) => `${r.status} ${r.body}`)), new Set(["200 b"]), "after a is down, b serves everything");
    // Only the requests in flight when a died may fail: one per client at most.
    const failedAroundA = results.filter((r) => r.at >= killedA && r.status !== 200);
    assert.ok(failedAroundA.length <= 4, `${failedAroundA.length} requests failed when a died (4 clients)`);

    mark = proxy.stderr.length;
    await b.close();
    const bDown = await waitMessage(proxy, /Server "app\/b" is DOWN.*0 active and 1 backup servers left/, mark);
    // Requests that met b's refusals before it was marked down wait out their retry turn-around
    // (min(timeout connect, 1 s)) before going elsewhere; a request sent after it went down goes
    // to the backup at once.
    const afterB = await sentAfter(bDown, 8);
    assert.deepEqual(new Set(afterB.map((r) => `${r.status} ${r.body}`)), new Set(["200 spare"]), "the backup serves");

    mark = proxy.stderr.length;
    await spare.close();
    await waitMessage(proxy, /Backend "app" has no server available!/, mark);
    running = false;
    await Promise.all(loops);
    const lastOnes = await Promise.all([1, 2, 3].map(() => request(port)));
    for (const response of lastOnes) {
      assert.equal(response.status, 503);
      // Far below timeout queue (20 s): the 503 does not wait for a server to come back.
      assert.ok(response.ms < 5_000, `503 after ${response.ms} ms: it must not wait for a timeout`);
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
  const slow = await heldOrigin("slow");
  const short = await heldOrigin("short");
  const file = configFile(`
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[frontends.short]
bind = "127.0.0.1:0"
default-backend = "short"

[backends.app]
timeout = { queue = "60s" }
servers = [{ name = "slow", address = "${slow.address}", maxconn = 1 }]

[backends.short]
timeout = { queue = "1s" }
servers = [{ name = "only", address = "${short.address}", maxconn = 1 }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const shortPort = Number((await proxy.waitFor(/Frontend "short" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    // The first request holds the only slot; the next three join the queue, one after the other.
    const pending = [request(port, "/", "GET", { "X-Seq": "1" })];
    await waitUntil(() => slow.held() === 1, "the first request at the origin");
    for (let seq = 2; seq <= 4; seq++) {
      pending.push(request(port, "/", "GET", { "X-Seq": String(seq) }));
      await waitQueued(proxy, "app", seq - 1);
    }
    // Each answer frees the slot for the next in line, and for it alone.
    for (let served = 1; served < 4; served++) {
      assert.equal(slow.held(), 1);
      slow.releaseOne();
      await waitUntil(() => slow.state.order.length === served + 1, `request ${served + 1} at the origin`);
    }
    slow.releaseOne();
    const responses = await Promise.all(pending);
    assert.deepEqual(responses.map((r) => `${r.status} ${r.body}`), Array(4).fill("200 slow"));
    assert.deepEqual(slow.state.order, ["1", "2", "3", "4"], "served in arrival order");
    assert.equal(slow.state.maxInFlight, 1, "never two requests at once on the server");

    // timeout queue: a request that waits longer for the only slot gets 503.
    const holder = request(shortPort);
    await waitUntil(() => short.held() === 1, "the request holding the short backend's slot");
    const queued = await request(shortPort);
    assert.equal(queued.status, 503);
    assert.match(queued.body, /503/);
    // Not before timeout queue (1 s; the wheel is never early on an armed timer), and not much
    // after it: the slot is still held, so only the timeout can end the wait.
    assert.ok(queued.ms >= 950 && queued.ms < 10_000, `503 after ${queued.ms} ms of queue`);
    assert.equal(short.state.order.length, 1, "the queued request never reached the server");
    short.releaseAll();
    const held = await holder;
    assert.equal(`${held.status} ${held.body}`, "200 short");
  } finally {
    await proxy.stop();
    file.remove();
    await slow.close();
    await short.close();
  }
});

// Its own bound: up to 4 returns of the server on a loaded machine may take more than bun test's 60 s.
test("slowstart: a returning server's share grows over the window", { timeout: 180_000 }, async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const window = 3_000;
  // The proxy's own log on stdout dates the server's return (RFC 5424 header) and each request
  // (%tr): the shares are measured on the proxy's clock, which a loaded machine cannot skew the way
  // it delays the test's view of the proxy's output.
  const file = configFile(`
[global]
log = [{ target = "stdout", format = "rfc5424" }]

[defaults]
mode = "http"
log = "global"
log-format = "picked %s at %tr"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
slowstart = "${window}ms"
check = { type = "http", path = "/health", interval = "100ms", timeout = "10s", rise = 1, fall = 1 }
servers = [
  { name = "a", address = "${a.address}" },
  { name = "b", address = "${b.address}" },
]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    // The picks by third of the window and after it, over as many returns as it takes to have
    // enough of each: a loaded machine may stall the proxy for a whole third of one window.
    const thirds: Array<Array<{ server: string }>> = [[], [], []];
    const late: Array<{ server: string }> = [];
    const enough = () => thirds.every((slice) => slice.length >= 8) && late.length >= 20;
    // Traffic flows before the server returns, so that the first moments of its return are
    // measured however late the test sees it.
    let running = true;
    let sent = 0;
    const loops = [1, 2, 3, 4].map(async () => {
      while (running) {
        sent++;
        await request(port);
      }
    });
    try {
      for (let cycle = 1; cycle <= 4 && !enough(); cycle++) {
        let mark = proxy.stderr.length;
        a.state.health = 503;
        await waitMessage(proxy, /Server "app\/a" is DOWN/, mark);
        const sentBefore = sent;
        await waitUntil(() => sent >= sentBefore + 8, "traffic before the return");
        mark = proxy.stderr.length;
        const stdoutMark = proxy.stdout.length;
        a.state.health = 200;
        await waitMessage(proxy, /Server "app\/a" is UP/, mark);
        await waitUntil(() => /Server "app\/a" is UP/.test(proxy.stdout.slice(stdoutMark)), "the UP message on stdout");
        const upLine = proxy.stdout.slice(stdoutMark).split("\n").find((line) => /Server "app\/a" is UP/.test(line))!;
        const upAt = parseRfc5424(upLine).timestamp.getTime();
        /** The server each request after the return went to, and when, in ms after the return. */
        const picks = () =>
          [...proxy.stdout.slice(stdoutMark).matchAll(/picked (\w+) at (\S+)$/gm)]
            .map((match) => ({ server: match[1]!, at: localLogDate(match[2]!) - upAt }))
            .filter((pick) => pick.at >= 0);
        // After the window, with the ramp done (it runs one step ahead and ends within it).
        await waitUntil(() => picks().filter((pick) => pick.at >= window + 100).length >= 20, "20 requests after the window", 30_000);
        for (const pick of picks()) {
          if (pick.at >= window + 100) late.push(pick);
          else if (pick.at < window) thirds[Math.floor((pick.at * 3) / window)]!.push(pick);
        }
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const share = (slice: Array<{ server: string }>) => slice.filter((pick) => pick.server === "a").length / slice.length;
    const summary = `shares by third of the window ${thirds.map((slice) => `${share(slice).toFixed(2)} of ${slice.length}`).join(", ")}, ` +
      `after it ${share(late).toFixed(2)} of ${late.length}`;
    // Hundreds of requests a third on an idle machine; a loaded one still serves dozens.
    assert.ok(enough(), `too few requests to measure in 4 returns: ${summary}`);
    // The weight grows from 1/20 of b's to b's over the window: about 0.17, 0.35 and 0.46 of the
    // requests by third, then a half.
    assert.ok(share(thirds[0]!) < 0.3, `first third: ${summary}`);
    assert.ok(share(thirds[0]!) < share(thirds[1]!) && share(thirds[1]!) < share(thirds[2]!), `shares grow: ${summary}`);
    assert.ok(share(late) > 0.4 && share(late) < 0.6, `after the window: ${summary}`);
  } finally {
    await proxy.stop();
    file.remove();
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
  // Each connection is answered "served N" (N: the order it was accepted in) when the test says so.
  const heldTcpOrigin = async () => {
    // Sessions the origin has accepted and not yet ended, at most, when a new one arrives.
    const state = { accepted: 0, ended: 0, maxOpen: 0, answers: [] as Array<() => void> };
    const origin = await startOrigin((socket: net.Socket) => {
      const seq = ++state.accepted;
      state.maxOpen = Math.max(state.maxOpen, state.accepted - state.ended);
      state.answers.push(() => {
        state.ended++;
        socket.end(`served ${seq}`);
      });
    });
    return { ...origin, state, answerOne: () => state.answers.shift()!() };
  };
  const origin = await heldTcpOrigin();
  const short = await heldTcpOrigin();
  const file = configFile(`
[frontends.db]
bind = "127.0.0.1:0"
default-backend = "db"

[frontends.short]
bind = "127.0.0.1:0"
default-backend = "short"

[backends.db]
timeout = { queue = "60s" }
servers = [{ name = "only", address = "${origin.address}", maxconn = 1 }]

[backends.short]
timeout = { queue = "800ms" }
servers = [{ name = "only", address = "${short.address}", maxconn = 1 }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "db" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const shortPort = Number((await proxy.waitFor(/Frontend "short" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const first = exchange(port, "", false);
    await waitUntil(() => origin.state.accepted === 1, "the first session at the origin");
    const second = exchange(port, "", false);
    await waitQueued(proxy, "db", 1);
    const third = exchange(port, "", false);
    await waitQueued(proxy, "db", 2);
    // Each session that ends lets the next in line connect, and it alone.
    origin.answerOne();
    assert.equal((await first).toString(), "served 1");
    await waitUntil(() => origin.state.accepted === 2, "the second session at the origin");
    origin.answerOne();
    assert.equal((await second).toString(), "served 2");
    await waitUntil(() => origin.state.accepted === 3, "the third session at the origin");
    origin.answerOne();
    assert.equal((await third).toString(), "served 3");
    assert.equal(origin.state.maxOpen, 1, "the origin never saw more than its maxconn");

    // timeout queue: a session that waits longer for the only slot is closed without a server.
    const holder = exchange(shortPort, "", false);
    await waitUntil(() => short.state.accepted === 1, "the session holding the short backend's slot");
    const queuedAt = Date.now();
    assert.equal((await exchange(shortPort, "", false)).toString(), "", "closed without a server");
    const waited = Date.now() - queuedAt;
    // Not before timeout queue (the wheel is never early on an armed timer), and not much after it:
    // the slot is still held, so only the timeout can end the wait.
    assert.ok(waited >= 750 && waited < 10_000, `closed after ${waited} ms in the queue`);
    assert.equal(short.state.accepted, 1, "the origin never saw the session that timed out");
    short.answerOne();
    assert.equal((await holder).toString(), "served 1");
  } finally {
    for (const answer of [...origin.state.answers.splice(0), ...short.state.answers.splice(0)]) answer();
    await proxy.stop();
    file.remove();
    await origin.close();
    await short.close();
  }
});
