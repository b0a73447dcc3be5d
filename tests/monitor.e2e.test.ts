/**
 * The health endpoint for the tier in front, end to end through the CLI: `monitor-uri` answered by
 * the proxy itself (never forwarded, never logged), `monitor-fail` turning it to 503 while a
 * backend is under its minimum of usable servers, and `grace`: on a graceful stop the monitor
 * fails while the proxy still listens and serves, so a client that leaves on the first 503 never
 * meets a refused connection.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { exchange, sleep, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin, startWithConfig } from "./_http_helpers.ts";
import { freePort, MasterProcess } from "./_process_helpers.ts";

/** Deno arms its SIGUSR1 inspector 500 ms after start (src/runtime/deno.ts): signal only processes older than that. */
const DENO_SIGUSR1_ARMING_MS = 600;

/** One request on a fresh connection: its status and body, or the error's code (ECONNREFUSED...). */
function request(port: number, path: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = "";
      response.setEncoding("latin1");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", (error: NodeJS.ErrnoException) => resolve({ status: 0, body, error: error.code ?? error.message }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error("Request timed out")));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ status: 0, body: "", error: error.code ?? error.message }));
    req.end();
  });
}

/** An origin that answers its name, counts the requests that are not health checks, and fails /health on demand. */
async function namedOrigin(name: string) {
  const state = { health: 200, served: 0 };
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/health") {
      res.writeHead(state.health, { "Content-Type": "text/plain" });
      res.end();
      return;
    }
    state.served++;
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(name);
  });
  return { state, ...origin };
}

function config(frontend: string, servers: string, extra = ""): string {
  return `
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
monitor-uri = "/healthz"
log = "stdout"
log-format = "%ST %r"
${frontend}

[backends.app]
check = { type = "http", path = "/health", interval = "200ms", timeout = "10s", fall = 1, rise = 1 }
servers = [${servers}]
${extra}
`;
}

test("monitor-uri: 200 by the proxy itself, not forwarded nor logged; 503 under monitor-fail's minimum, then 200 again", async () => {
  const a = await namedOrigin("a");
  const b = await namedOrigin("b");
  const { proxy, port, remove } = await startWithConfig(config(
    `monitor-fail = [{ backend = "app", min-servers = 2 }]`,
    `{ name = "a", address = "${a.address}" }, { name = "b", address = "${b.address}" }`,
  ));
  try {
    const ready = await request(port, "/healthz");
    assert.equal(ready.status, 200);
    assert.match(ready.body, /Service ready\./);
    assert.equal((await request(port, "/healthz?from=lb")).status, 200, "the query is not part of the path compared");
    // Kept alive like any answer, pipelined requests included; HEAD gets the head alone.
    const pipelined = (await exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false))
      .toString("latin1");
    const answers = pipelined.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, pipelined);
    assert.match(answers[0]!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n<html><body><h1>200 OK<\/h1>\nService ready\.\n<\/body><\/html>\n$/);
    assert.doesNotMatch(answers[0]!, /Connection:/);
    assert.match(answers[1]!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: \d+\r\n[\s\S]*\r\n\r\n$/);
    assert.equal(a.state.served + b.state.served, 0, "a monitor request never reaches an origin");
    // Any other path is forwarded, and logged: once its line is out, a monitor line would be too.
    assert.equal((await request(port, "/healthz/deeper")).status, 200);
    assert.equal(a.state.served + b.state.served, 1);
    await waitUntil(() => proxy.stdout.includes("200 GET /healthz/deeper HTTP/1.1"), "the forwarded request's log line");
    assert.doesNotMatch(proxy.stdout, /GET \/healthz[ ?]/, "monitor requests are not logged");

    let mark = proxy.stderr.length;
    a.state.health = 500;
    await waitUntil(() => /Server "app\/a" is DOWN/.test(proxy.stderr.slice(mark)), "app/a to go DOWN");
    const failing = await request(port, "/healthz");
    assert.equal(failing.status, 503);
    assert.equal((await request(port, "/")).body, "b", "normal traffic still goes to the server left");

    mark = proxy.stderr.length;
    a.state.health = 200;
    await waitUntil(() => /Server "app\/a" is UP/.test(proxy.stderr.slice(mark)), "app/a to come back UP");
    assert.equal((await request(port, "/healthz")).status, 200);
  } finally {
    await proxy.stop();
    remove();
    await a.close();
    await b.close();
  }
});

test("grace: on SIGUSR1 the monitor fails while http and tcp frontends still accept and serve, then they stop listening", async () => {
  const a = await namedOrigin("a");
  const { proxy, port, remove } = await startWithConfig(config(
    `grace = "4s"`,
    `{ name = "a", address = "${a.address}" }`,
    `
[frontends.raw]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "plain"

[backends.plain]
mode = "tcp"
servers = [{ name = "a", address = "${a.address}" }]
`,
  ));
  const started = Date.now();
  try {
    const rawPort = Number((await proxy.waitFor(/Frontend "raw" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    assert.equal((await request(port, "/healthz")).status, 200);
    await sleep(Math.max(0, DENO_SIGUSR1_ARMING_MS - (Date.now() - started)));
    proxy.sendSignal("SIGUSR1");
    await proxy.waitFor(/SIGUSR1 received: grace of 4000 ms: monitor-uri fails, still listening and serving/);
    assert.equal((await request(port, "/healthz")).status, 503);
    const normal = await request(port, "/page");
    assert.deepEqual([normal.status, normal.body], [200, "a"], "normal requests are still served on new connections");
    const tunnelled = await exchange(rawPort, "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(tunnelled.toString("latin1"), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n1\r\na\r\n0\r\n\r\n$/, "the tcp frontend still accepts too");
    assert.doesNotMatch(proxy.stderr, /stopped listening/, "the grace is not over yet");

    await proxy.waitFor(/SIGUSR1 received: stopped listening, finishing \d+ session\(s\)/);
    assert.ok(Date.now() - started >= 4_000, "the listeners stayed for the whole grace");
    assert.equal((await request(port, "/healthz")).error, "ECONNREFUSED");
    await assert.rejects(exchange(rawPort, "", false), /ECONNREFUSED/);
    assert.equal(await proxy.waitExit(), 0);
  } finally {
    await proxy.stop();
    remove();
    await a.close();
  }
});

test("a client that leaves on the first 503 of the monitor never meets a refused connection", async () => {
  const a = await namedOrigin("a");
  const { proxy, port, remove } = await startWithConfig(config(`grace = "2s"`, `{ name = "a", address = "${a.address}" }`));
  const started = Date.now();
  try {
    // The tier in front: probe, send traffic while the probe says 200, leave on the first 503.
    const outcomes: string[] = [];
    let served = 0;
    let signalled = false;
    for (let round = 0; round < 10_000; round++) {
      const probe = await request(port, "/healthz");
      if (probe.status === 503) break;
      outcomes.push(probe.error ?? String(probe.status));
      if (probe.status !== 200) break;
      const page = await request(port, "/");
      outcomes.push(page.error ?? String(page.status));
      if (page.status === 200) served++;
      if (!signalled && served >= 5 && Date.now() - started >= DENO_SIGUSR1_ARMING_MS) {
        signalled = true;
        proxy.sendSignal("SIGUSR1");
      }
    }
    assert.ok(signalled, "the stop was signalled");
    assert.deepEqual(outcomes.filter((outcome) => outcome !== "200"), [], "every probe and request before the first 503 succeeded");
    assert.ok(served >= 5);
    // The proxy then goes away on its own, refusing only a client that did not listen to the monitor.
    await proxy.waitFor(/stopped listening/);
    assert.equal((await request(port, "/")).error, "ECONNREFUSED");
    assert.equal(await proxy.waitExit(), 0);
  } finally {
    await proxy.stop();
    remove();
    await a.close();
  }
});

/** A -W configuration with one worker and a grace, on a fixed port (the master binds it). */
function masterConfig(port: number, origin: string): string {
  return `
[defaults]
mode = "http"
grace = "3s"

[frontends.web]
bind = "127.0.0.1:${port}"
default-backend = "app"
monitor-uri = "/healthz"

[backends.app]
servers = [{ name = "a", address = "${origin}" }]
`;
}

test("-W: SIGUSR1 to the master: its worker fails the monitor for the grace while serving, then stops", async () => {
  const a = await namedOrigin("a");
  const port = await freePort();
  const file = configFile(masterConfig(port, a.address));
  const master = new MasterProcess(["-W", "-f", file.path]);
  try {
    await master.waitFor(/1 workers? ready/);
    assert.equal((await request(port, "/healthz")).status, 200);
    await sleep(Math.max(0, DENO_SIGUSR1_ARMING_MS - (Date.now() - master.startedAt)));
    master.signalMaster("SIGUSR1");
    await master.waitFor(/Master asked to finish: grace of 3000 ms: monitor-uri fails/);
    assert.equal((await request(port, "/healthz")).status, 503);
    assert.equal((await request(port, "/")).body, "a");
    assert.equal(await master.waitAllGone(), 0);
    assert.match(master.stderr, /Master asked to finish: stopped listening/);
  } finally {
    await master.stop();
    file.remove();
    await a.close();
  }
});

test("-W reload: the old worker keeps its grace beside the new one, and no request meets a refused connection", async () => {
  const a = await namedOrigin("a");
  const port = await freePort();
  const file = configFile(masterConfig(port, a.address));
  const master = new MasterProcess(["-W", "-f", file.path]);
  try {
    await master.waitFor(/1 workers? ready/);
    const mark = master.stderr.length;
    master.signalMaster("SIGUSR2");
    await master.waitFor(/Master asked to finish: grace of 3000 ms: monitor-uri fails/, mark);
    // Until the old worker stops listening, the kernel hands connections to either generation:
    // every one is served, the monitor answering 200 from the new worker and 503 from the old.
    const statuses = new Set<number>();
    const errors: string[] = [];
    for (let round = 0; round < 2_000 && !/Master asked to finish: stopped listening/.test(master.stderr.slice(mark)); round++) {
      const page = await request(port, "/");
      if (page.error !== undefined) errors.push(page.error);
      const probe = await request(port, "/healthz");
      if (probe.error !== undefined) errors.push(probe.error);
      else statuses.add(probe.status);
    }
    assert.deepEqual(errors, []);
    assert.ok([...statuses].every((status) => status === 200 || status === 503), [...statuses].join());
    await master.waitFor(/Worker \d \(pid \d+\) exited with code 0/, mark);
    assert.equal((await request(port, "/healthz")).status, 200, "the new worker answers alone");
  } finally {
    await master.stop();
    file.remove();
    await a.close();
  }
});

