/**
 * The stats service end to end through the CLI: a known traffic pattern (served requests, a denied
 * one, one to a dead server with its retries, a queued one, a server taken down by its check) read
 * back from the stats JSON, the CSV and the Prometheus text, exactly; access by source network and
 * basic auth; and the `--stats` quick-start listener.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { CliProcess, deadPort } from "./_cli_helpers.ts";
import { configFile, getRequest, httpOrigin, rawRequest } from "./_http_helpers.ts";
import { parsePrometheusText } from "./helpers/prometheus_text_parser.ts";
import { readCsv } from "./helpers/csv_reader.ts";
import type { BackendStats, FrontendStats, StatsSnapshot } from "../src/stats/snapshot.ts";

const get = getRequest;

async function readJson(port: number, path = "/stats;json", extra = ""): Promise<StatsSnapshot> {
  const answer = await rawRequest(port, get(path, extra));
  assert.equal(answer.status, 200, answer.body);
  return JSON.parse(answer.body) as StatsSnapshot;
}

function frontend(snapshot: StatsSnapshot, name: string): FrontendStats {
  const found = snapshot.frontends.find((candidate) => candidate.name === name);
  assert.ok(found, `frontend ${name} in the stats`);
  return found;
}

function backend(snapshot: StatsSnapshot, name: string): BackendStats {
  const found = snapshot.backends.find((candidate) => candidate.name === name);
  assert.ok(found, `backend ${name} in the stats`);
  return found;
}

test("stats: counters match a known traffic pattern exactly, in the JSON, the CSV and the Prometheus text", async () => {
  let releaseSlow: () => void = () => {};
  const heldUntil = new Promise<void>((resolve) => (releaseSlow = resolve));
  let slowStarted: () => void = () => {};
  const slowSeen = new Promise<void>((resolve) => (slowStarted = resolve));
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/slow") {
      slowStarted();
      void heldUntil.then(() => {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end("slow");
      });
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("a");
  });
  const dead = await deadPort();
  const checkedDead = await deadPort();
  const file = configFile(`
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
routes = [{ backend = "dead", path = "/dead" }]
http-request = [{ action = "deny", if = { path = "/forbidden" } }]

[frontends.stats]
bind = "127.0.0.1:0"
stats-uri = "/stats"
metrics-uri = "/metrics"

[backends.app]
servers = [
  { name = "a", address = "${origin.address}", maxconn = 1 },
  { name = "down1", address = "127.0.0.1:${checkedDead}", check = { interval = "100ms", fall = 1, rise = 1 } },
]

[backends.dead]
retries = 2
timeout = { connect = "2s" }
servers = [{ name = "gone", address = "127.0.0.1:${dead}" }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const webPort = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const statsPort = Number((await proxy.waitFor(/Frontend "stats" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    // The checked server on a dead port goes down at its first check.
    let snapshot = await readJson(statsPort);
    const deadline = Date.now() + 20_000;
    while (backend(snapshot, "app").servers[1]!.status !== "DOWN" && Date.now() < deadline) snapshot = await readJson(statsPort);
    assert.equal(backend(snapshot, "app").servers[1]!.status, "DOWN");

    let sent = 0;
    let received = 0;
    const statuses: number[] = [];
    const run = async (request: string) => {
      const answer = await rawRequest(webPort, request);
      sent += answer.sent;
      received += answer.received;
      statuses.push(answer.status);
      return answer;
    };
    for (let i = 0; i < 3; i++) await run(get("/"));
    await run(get("/forbidden"));
    await run(get("/dead"));
    // The slow request holds server a's only slot: the next one waits in the backend's queue.
    const slow = run(get("/slow"));
    await slowSeen;
    const queued = run(get("/queued"));
    let during = await readJson(statsPort);
    const queueDeadline = Date.now() + 20_000;
    while (backend(during, "app").queueCurrent !== 1 && Date.now() < queueDeadline) during = await readJson(statsPort);
    assert.equal(backend(during, "app").queueCurrent, 1, "the second request waits in the backend's queue");
    assert.equal(backend(during, "app").servers[0]!.sessionsCurrent, 1);
    releaseSlow();
    await Promise.all([slow, queued]);
    assert.deepEqual(statuses.slice().sort(), [200, 200, 200, 200, 200, 403, 503]);

    snapshot = await readJson(statsPort);
    const web = frontend(snapshot, "web");
    assert.equal(web.mode, "http");
    assert.equal(web.status, "OPEN");
    assert.equal(web.sessionsTotal, 7);
    assert.equal(web.requestsTotal, 7);
    assert.equal(web.sessionsCurrent, 0);
    assert.equal(web.bytesIn, sent);
    assert.equal(web.bytesOut, received);
    assert.deepEqual(web.responses, { "1xx": 0, "2xx": 5, "3xx": 0, "4xx": 1, "5xx": 1, other: 0 });
    assert.equal(web.deniedRequests, 1);
    assert.equal(web.requestErrors, 0);

    const app = backend(snapshot, "app");
    assert.equal(app.status, "UP");
    assert.equal(app.sessionsTotal, 5);
    assert.equal(app.requestsTotal, 5);
    assert.equal(app.queueMax, 1);
    assert.equal(app.queueCurrent, 0);
    assert.deepEqual(app.responses, { "1xx": 0, "2xx": 5, "3xx": 0, "4xx": 0, "5xx": 0, other: 0 });
    assert.equal(app.activeServers, 1);
    const [a, down1] = app.servers;
    assert.equal(a!.sessionsTotal, 5);
    assert.equal(a!.status, "no check");
    assert.equal(a!.sessionsMax, 1);
    assert.equal(down1!.status, "DOWN");
    assert.equal(down1!.downTransitions, 1);
    assert.equal(down1!.checkFailures, 1);
    assert.equal(down1!.check?.status, "L4CON");
    assert.equal(down1!.sessionsTotal, 0);

    const deadBackend = backend(snapshot, "dead");
    assert.equal(deadBackend.sessionsTotal, 1);
    assert.equal(deadBackend.retries, 2);
    assert.equal(deadBackend.connectionErrors, 1);
    assert.equal(deadBackend.servers[0]!.connectionErrors, 1);
    assert.deepEqual(deadBackend.responses, { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, other: 0 });

    // The CSV: HAProxy's header names, a row per frontend, server and backend, the same figures.
    const csv = await rawRequest(statsPort, get("/stats;csv"));
    assert.equal(csv.status, 200);
    const rows = readCsv(csv.body.replace(/^# /, ""));
    const header = rows[0]!;
    const column = (name: string) => {
      const index = header.indexOf(name);
      assert.ok(index >= 0, `CSV column ${name}`);
      return index;
    };
    const row = (proxyName: string, serviceName: string) => {
      const found = rows.find((cells) => cells[0] === proxyName && cells[1] === serviceName);
      assert.ok(found, `CSV row ${proxyName}/${serviceName}`);
      return found;
    };
    assert.equal(row("web", "FRONTEND")[column("stot")], "7");
    assert.equal(row("web", "FRONTEND")[column("bin")], String(sent));
    assert.equal(row("web", "FRONTEND")[column("hrsp_4xx")], "1");
    assert.equal(row("web", "FRONTEND")[column("dreq")], "1");
    assert.equal(row("app", "BACKEND")[column("qmax")], "1");
    assert.equal(row("app", "down1")[column("status")], "DOWN");
    assert.equal(row("dead", "BACKEND")[column("wretr")], "2");
    assert.equal(row("dead", "BACKEND")[column("econ")], "1");

    // Prometheus: parsed by a parser of the text format, with HAProxy's exporter names.
    const metrics = await rawRequest(statsPort, get("/metrics"));
    assert.equal(metrics.status, 200);
    const families = parsePrometheusText(metrics.body);
    const sample = (family: string, labels: Record<string, string>) => {
      const found = families.get(family)?.samples.find((candidate) =>
        Object.entries(labels).every(([key, value]) => candidate.labels[key] === value)
      );
      assert.ok(found, `metric ${family}${JSON.stringify(labels)}`);
      return found.value;
    };
    assert.equal(sample("haproxy_frontend_http_responses_total", { proxy: "web", code: "2xx" }), 5);
    assert.equal(sample("haproxy_frontend_bytes_in_total", { proxy: "web" }), sent);
    assert.equal(sample("haproxy_backend_retry_warnings_total", { proxy: "dead" }), 2);
    assert.equal(sample("haproxy_backend_max_queue", { proxy: "app" }), 1);
    assert.equal(sample("haproxy_server_sessions_total", { proxy: "app", server: "a" }), 5);
  } finally {
    releaseSlow();
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});

test("stats: stats-allow refuses other networks with a 403, stats-auth asks for credentials with a 401", async () => {
  const file = configFile(`
[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
stats-uri = "/stats"
stats-auth = ["admin:s3cret"]

[frontends.closed]
mode = "http"
bind = "127.0.0.1:0"
stats-uri = "/stats"
stats-allow = ["10.0.0.0/8"]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const closedPort = Number((await proxy.waitFor(/Frontend "closed" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const anonymous = await rawRequest(port, get("/stats"));
    assert.equal(anonymous.status, 401);
    const wrong = await rawRequest(port, get("/stats", `Authorization: Basic ${btoa("admin:wrong")}\r\n`));
    assert.equal(wrong.status, 401);
    const page = await rawRequest(port, get("/stats", `Authorization: Basic ${btoa("admin:s3cret")}\r\n`));
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    assert.equal((await rawRequest(closedPort, get("/stats"))).status, 403);
    // Not a stats path: no backend, HAProxy's 503.
    assert.equal((await rawRequest(port, get("/other"))).status, 503);
  } finally {
    await proxy.stop();
    file.remove();
  }
});

test("stats: --stats serves the page at / and /stats, the CSV, the JSON and /metrics beside the quick start", async () => {
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  const proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backend", origin.address, "--stats", "127.0.0.1:0"]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "stats" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    for (const path of ["/", "/stats"]) {
      const page = await rawRequest(port, get(path));
      assert.equal(page.status, 200, path);
      assert.match(page.body, /<html/i);
    }
    const csv = await rawRequest(port, get("/stats;csv"));
    assert.match(csv.body, /^# pxname,svname,/);
    const snapshot = await readJson(port);
    assert.deepEqual(snapshot.backends.map((entry) => entry.name), ["main"]);
    const metrics = await rawRequest(port, get("/metrics"));
    assert.equal(metrics.status, 200);
    assert.ok(parsePrometheusText(metrics.body).has("haproxy_frontend_current_sessions"));
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("stats with -W: two workers' counters summed on either worker's page; the runtime API shows each worker's own", async () => {
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  const dir = configFile("");
  const socket = dir.path.replace(/proxy\.toml$/, "api.sock");
  const file = configFile(`
[global]
workers = 2
stats-socket = { path = "${socket}", level = "admin" }

[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
default-backend = "app"

[frontends.stats]
mode = "http"
bind = "127.0.0.1:0"
stats-uri = "/stats"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${origin.address}" }]
`);
  const proxy = new CliProcess(["-W", "-f", file.path]);
  try {
    const webPort = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const statsPort = Number((await proxy.waitFor(/Frontend "stats" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    await proxy.waitFor(/2 workers ready in/);
    const requests = 20;
    for (let i = 0; i < requests; i++) assert.equal((await rawRequest(webPort, get(`/${i}`))).status, 200);
    // Each worker's figures reach the other within a second: poll until the page shows them all.
    let snapshot = await readJson(statsPort);
    const deadline = Date.now() + 20_000;
    while ((frontend(snapshot, "web").sessionsTotal !== requests || snapshot.info.processes !== 2) && Date.now() < deadline) {
      snapshot = await readJson(statsPort);
    }
    assert.equal(snapshot.info.processes, 2);
    assert.equal(frontend(snapshot, "web").sessionsTotal, requests);
    assert.equal(backend(snapshot, "app").sessionsTotal, requests);
    assert.equal(backend(snapshot, "app").servers[0]!.responses["2xx"], requests);
    // The master's socket answers per worker: their own counts add up to the page's.
    const ctl = new CliProcess(["ctl", "--socket", socket, "show stat"]);
    assert.equal(await ctl.waitExit(), 0, ctl.stderr);
    const parts = ctl.stdout.split(/^@\d \(pid \d+\)$/m).filter((part) => part.trim() !== "");
    assert.equal(parts.length, 2, ctl.stdout);
    let sum = 0;
    for (const part of parts) {
      const rows = readCsv(part.trim().replace(/^# /, ""));
      const web = rows.find((cells) => cells[0] === "web" && cells[1] === "FRONTEND")!;
      sum += Number(web[rows[0]!.indexOf("stot")]);
    }
    assert.equal(sum, requests);
  } finally {
    await proxy.stop();
    file.remove();
    dir.remove();
    await origin.close();
  }
});
