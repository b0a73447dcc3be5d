import { test } from "node:test";
import assert from "node:assert/strict";
import { CHECK_STATES, escapeLabelValue, formatPrometheus, serverState } from "../src/stats/prometheus.ts";
import { parsePrometheusText, type MetricFamily, sampleValue } from "./helpers/prometheus_text_parser.ts";
import { backend, frontend, makeSnapshot, processStats, server } from "./helpers/stats_fixture.ts";

function families(text = formatPrometheus(makeSnapshot())): Map<string, MetricFamily> {
  return parsePrometheusText(text);
}

/**
 * Names and types from HAProxy 2.6's exporter (promex_st_metrics[] and promex_global_metrics[] in
 * addons/promex/service-prometheus.c, tag v2.6.0) for everything we have data for.
 */
const HAPROXY_METRICS: Record<string, "gauge" | "counter"> = {
  haproxy_process_nbthread: "gauge",
  haproxy_process_nbproc: "gauge",
  haproxy_process_relative_process_id: "gauge",
  haproxy_process_uptime_seconds: "gauge",
  haproxy_process_start_time_seconds: "gauge",
  haproxy_process_max_connections: "gauge",
  haproxy_process_current_connections: "gauge",
  haproxy_process_connections_total: "counter",
  haproxy_process_requests_total: "counter",
  haproxy_process_current_connection_rate: "gauge",
  haproxy_process_max_connection_rate: "gauge",
  haproxy_process_idle_time_percent: "gauge",
  haproxy_process_stopping: "gauge",
  haproxy_process_build_info: "gauge",
  haproxy_frontend_current_sessions: "gauge",
  haproxy_frontend_max_sessions: "gauge",
  haproxy_frontend_limit_sessions: "gauge",
  haproxy_frontend_sessions_total: "counter",
  haproxy_frontend_bytes_in_total: "counter",
  haproxy_frontend_bytes_out_total: "counter",
  haproxy_frontend_requests_denied_total: "counter",
  haproxy_frontend_request_errors_total: "counter",
  haproxy_frontend_status: "gauge",
  haproxy_frontend_max_session_rate: "gauge",
  haproxy_frontend_http_responses_total: "counter",
  haproxy_frontend_http_requests_rate_max: "gauge",
  haproxy_frontend_http_requests_total: "counter",
  haproxy_frontend_intercepted_requests_total: "counter",
  haproxy_frontend_denied_connections_total: "counter",
  haproxy_backend_current_queue: "gauge",
  haproxy_backend_max_queue: "gauge",
  haproxy_backend_current_sessions: "gauge",
  haproxy_backend_max_sessions: "gauge",
  haproxy_backend_limit_sessions: "gauge",
  haproxy_backend_sessions_total: "counter",
  haproxy_backend_bytes_in_total: "counter",
  haproxy_backend_bytes_out_total: "counter",
  haproxy_backend_requests_denied_total: "counter",
  haproxy_backend_connection_errors_total: "counter",
  haproxy_backend_response_errors_total: "counter",
  haproxy_backend_retry_warnings_total: "counter",
  haproxy_backend_redispatch_warnings_total: "counter",
  haproxy_backend_status: "gauge",
  haproxy_backend_weight: "gauge",
  haproxy_backend_active_servers: "gauge",
  haproxy_backend_backup_servers: "gauge",
  haproxy_backend_check_up_down_total: "counter",
  haproxy_backend_check_last_change_seconds: "gauge",
  haproxy_backend_downtime_seconds_total: "counter",
  haproxy_backend_loadbalanced_total: "counter",
  haproxy_backend_max_session_rate: "gauge",
  haproxy_backend_http_responses_total: "counter",
  haproxy_backend_http_requests_total: "counter",
  haproxy_backend_client_aborts_total: "counter",
  haproxy_backend_server_aborts_total: "counter",
  haproxy_backend_last_session_seconds: "gauge",
  haproxy_backend_queue_time_average_seconds: "gauge",
  haproxy_backend_connect_time_average_seconds: "gauge",
  haproxy_backend_response_time_average_seconds: "gauge",
  haproxy_backend_total_time_average_seconds: "gauge",
  haproxy_backend_connection_attempts_total: "counter",
  haproxy_backend_connection_reuses_total: "counter",
  haproxy_backend_max_queue_time_seconds: "gauge",
  haproxy_backend_max_connect_time_seconds: "gauge",
  haproxy_backend_max_response_time_seconds: "gauge",
  haproxy_backend_max_total_time_seconds: "gauge",
  haproxy_backend_uweight: "gauge",
  haproxy_backend_agg_server_check_status: "gauge",
  haproxy_server_current_queue: "gauge",
  haproxy_server_max_queue: "gauge",
  haproxy_server_current_sessions: "gauge",
  haproxy_server_max_sessions: "gauge",
  haproxy_server_limit_sessions: "gauge",
  haproxy_server_sessions_total: "counter",
  haproxy_server_bytes_in_total: "counter",
  haproxy_server_bytes_out_total: "counter",
  haproxy_server_connection_errors_total: "counter",
  haproxy_server_response_errors_total: "counter",
  haproxy_server_retry_warnings_total: "counter",
  haproxy_server_redispatch_warnings_total: "counter",
  haproxy_server_status: "gauge",
  haproxy_server_weight: "gauge",
  haproxy_server_check_failures_total: "counter",
  haproxy_server_check_up_down_total: "counter",
  haproxy_server_check_last_change_seconds: "gauge",
  haproxy_server_downtime_seconds_total: "counter",
  haproxy_server_queue_limit: "gauge",
  haproxy_server_current_throttle: "gauge",
  haproxy_server_loadbalanced_total: "counter",
  haproxy_server_max_session_rate: "gauge",
  haproxy_server_check_status: "gauge",
  haproxy_server_check_code: "gauge",
  haproxy_server_check_duration_seconds: "gauge",
  haproxy_server_http_responses_total: "counter",
  haproxy_server_client_aborts_total: "counter",
  haproxy_server_server_aborts_total: "counter",
  haproxy_server_last_session_seconds: "gauge",
  haproxy_server_queue_time_average_seconds: "gauge",
  haproxy_server_connect_time_average_seconds: "gauge",
  haproxy_server_response_time_average_seconds: "gauge",
  haproxy_server_total_time_average_seconds: "gauge",
  haproxy_server_connection_attempts_total: "counter",
  haproxy_server_connection_reuses_total: "counter",
  haproxy_server_idle_connections_current: "gauge",
  haproxy_server_max_queue_time_seconds: "gauge",
  haproxy_server_max_connect_time_seconds: "gauge",
  haproxy_server_max_response_time_seconds: "gauge",
  haproxy_server_max_total_time_seconds: "gauge",
  haproxy_server_uweight: "gauge",
};

/** Ours, beyond HAProxy's. */
const OUR_METRICS = ["haproxy_process_resident_memory_bytes", "haproxy_process_heap_used_bytes"];

test("the exposition parses, and its families are HAProxy's names with HAProxy's types, HELP and TYPE each", () => {
  const parsed = families();
  for (const [name, type] of Object.entries(HAPROXY_METRICS)) {
    const family = parsed.get(name);
    assert.ok(family, `${name} is exposed`);
    assert.equal(family.type, type, name);
    assert.ok(family.help !== null && family.help.length > 0, `${name} has a HELP`);
  }
  assert.deepEqual([...parsed.keys()].sort(), [...Object.keys(HAPROXY_METRICS), ...OUR_METRICS].sort());
});

test("process metrics", () => {
  const parsed = families();
  assert.equal(sampleValue(parsed, "haproxy_process_uptime_seconds"), 3_725);
  assert.equal(sampleValue(parsed, "haproxy_process_start_time_seconds"), Date.UTC(2025, 0, 1) / 1_000);
  assert.equal(sampleValue(parsed, "haproxy_process_max_connections"), 4_096);
  assert.equal(sampleValue(parsed, "haproxy_process_current_connections"), 7);
  assert.equal(sampleValue(parsed, "haproxy_process_connections_total"), 1_500);
  assert.equal(sampleValue(parsed, "haproxy_process_requests_total"), 9_000);
  assert.equal(sampleValue(parsed, "haproxy_process_max_connection_rate"), 80);
  assert.equal(sampleValue(parsed, "haproxy_process_idle_time_percent"), 97);
  assert.equal(sampleValue(parsed, "haproxy_process_stopping"), 0);
  assert.equal(sampleValue(parsed, "haproxy_process_nbproc"), 1);
  assert.equal(sampleValue(parsed, "haproxy_process_resident_memory_bytes"), 52_428_800);
  assert.equal(sampleValue(parsed, "haproxy_process_build_info", { version: "0.1.0", runtime: "node 24.21.0" }), 1);
});

test("frontend metrics carry proxy labels, http ones only on http frontends", () => {
  const snapshot = makeSnapshot();
  const fe = snapshot.frontends[0]!;
  const parsed = families();
  assert.equal(sampleValue(parsed, "haproxy_frontend_current_sessions", { proxy: "http-in" }), fe.sessionsCurrent);
  assert.equal(sampleValue(parsed, "haproxy_frontend_sessions_total", { proxy: "tcp-in" }), snapshot.frontends[1]!.sessionsTotal);
  assert.equal(sampleValue(parsed, "haproxy_frontend_bytes_in_total", { proxy: "http-in" }), fe.bytesIn);
  assert.equal(sampleValue(parsed, "haproxy_frontend_bytes_out_total", { proxy: "http-in" }), fe.bytesOut);
  assert.equal(sampleValue(parsed, "haproxy_frontend_http_responses_total", { proxy: "http-in", code: "2xx" }), fe.responses["2xx"]);
  assert.equal(sampleValue(parsed, "haproxy_frontend_http_responses_total", { proxy: "http-in", code: "other" }), fe.responses.other);
  assert.equal(parsed.get("haproxy_frontend_http_responses_total")!.samples.length, 6, "six classes, http-in only");
  assert.equal(parsed.get("haproxy_frontend_http_requests_total")!.samples.length, 1);
  assert.equal(sampleValue(parsed, "haproxy_frontend_status", { proxy: "http-in", state: "UP" }), 1);
  assert.equal(sampleValue(parsed, "haproxy_frontend_status", { proxy: "http-in", state: "DOWN" }), 0);
  assert.equal(sampleValue(parsed, "haproxy_frontend_status", { proxy: "tcp-in", state: "UP" }), 1, "FULL is up");
  const stopped = families(formatPrometheus({ info: processStats(), frontends: [frontend({ status: "STOP" })], backends: [] }));
  assert.equal(sampleValue(stopped, "haproxy_frontend_status", { state: "DOWN" }), 1);
});

test("backend metrics: states, time averages in seconds, servers per state", () => {
  const be = makeSnapshot().backends[0]!;
  const parsed = families();
  assert.equal(sampleValue(parsed, "haproxy_backend_status", { proxy: "app", state: "UP" }), 1);
  assert.equal(sampleValue(parsed, "haproxy_backend_status", { proxy: "app", state: "DOWN" }), 0);
  assert.equal(sampleValue(parsed, "haproxy_backend_current_queue", { proxy: "app" }), be.queueCurrent);
  assert.equal(sampleValue(parsed, "haproxy_backend_max_queue", { proxy: "app" }), be.queueMax);
  assert.equal(sampleValue(parsed, "haproxy_backend_response_time_average_seconds", { proxy: "app" }), be.responseTime / 1_000);
  assert.equal(sampleValue(parsed, "haproxy_backend_max_total_time_seconds", { proxy: "app" }), be.totalTimeMax / 1_000);
  assert.equal(sampleValue(parsed, "haproxy_backend_connection_errors_total", { proxy: "app" }), be.connectionErrors);
  assert.equal(sampleValue(parsed, "haproxy_backend_http_responses_total", { proxy: "app", code: "5xx" }), be.responses["5xx"]);
  assert.equal(sampleValue(parsed, "haproxy_backend_active_servers", { proxy: "app" }), 2);
  assert.equal(sampleValue(parsed, "haproxy_backend_weight", { proxy: "app" }), 200);
  assert.equal(sampleValue(parsed, "haproxy_backend_uweight", { proxy: "app" }), 300);
  // web1 UP, web2 DOWN, web3 MAINT, web4 DRAIN, spare UP ("no check").
  const perState = { DOWN: 1, UP: 2, MAINT: 1, DRAIN: 1, NOLB: 0 };
  for (const [state, count] of Object.entries(perState)) {
    assert.equal(sampleValue(parsed, "haproxy_backend_agg_server_check_status", { proxy: "app", state }), count, state);
  }
  assert.equal(parsed.get("haproxy_backend_http_requests_total")!.samples.length, 1, "db is tcp");
});

test("server status is one sample per HAProxy 2.6 state, 1 on the current one", () => {
  const parsed = families();
  const expected: Record<string, string> = { web1: "UP", web2: "DOWN", web3: "MAINT", web4: "DRAIN", spare: "UP" };
  for (const [name, current] of Object.entries(expected)) {
    for (const state of ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"]) {
      assert.equal(sampleValue(parsed, "haproxy_server_status", { proxy: "app", server: name, state }), state === current ? 1 : 0, `${name} ${state}`);
    }
  }
  assert.equal(sampleValue(parsed, "haproxy_server_status", { proxy: "db", server: "db1", state: "UP" }), 1, "going down is still up");
  assert.equal(serverState("NOLB 1/2"), "NOLB");
  assert.equal(serverState("DOWN 1/2"), "DOWN");
  assert.equal(serverState("MAINT (via a/b)"), "MAINT");
});

test("server check metrics follow HAProxy 2.6: state labels while checks run, NaN where its field is empty", () => {
  const parsed = families();
  const checkStatus = parsed.get("haproxy_server_check_status")!;
  // web1, web2, web4 and db1 run checks; web3's are paused (maintenance); spare has none.
  assert.deepEqual([...new Set(checkStatus.samples.map((sample) => sample.labels.server))], ["web1", "web2", "web4", "db1"]);
  assert.equal(checkStatus.samples.filter((sample) => sample.labels.server === "web2").length, CHECK_STATES.length);
  assert.equal(sampleValue(parsed, "haproxy_server_check_status", { server: "web2", state: "L4CON" }), 1);
  assert.equal(sampleValue(parsed, "haproxy_server_check_status", { server: "web2", state: "L4OK" }), 0);
  assert.equal(sampleValue(parsed, "haproxy_server_check_status", { server: "web1", state: "L7OK" }), 1);
  assert.equal(sampleValue(parsed, "haproxy_server_check_code", { server: "web1" }), 200);
  assert.equal(sampleValue(parsed, "haproxy_server_check_code", { server: "web2" }), 0);
  assert.equal(sampleValue(parsed, "haproxy_server_check_duration_seconds", { server: "db1" }), 2.001);
  assert.ok(Number.isNaN(sampleValue(parsed, "haproxy_server_check_failures_total", { server: "spare" })));
  assert.ok(Number.isNaN(sampleValue(parsed, "haproxy_server_downtime_seconds_total", { server: "spare" })));
  assert.equal(sampleValue(parsed, "haproxy_server_check_failures_total", { server: "web2" }), makeSnapshot().backends[0]!.servers[1]!.checkFailures);
  assert.ok(Number.isNaN(sampleValue(parsed, "haproxy_server_limit_sessions", { server: "web2" })), "no maxconn");
  assert.equal(sampleValue(parsed, "haproxy_server_limit_sessions", { server: "web1" }), 50);
  assert.equal(sampleValue(parsed, "haproxy_server_queue_limit", { server: "web1" }), 20);
  assert.ok(Number.isNaN(sampleValue(parsed, "haproxy_server_current_throttle", { server: "web1" })));
  assert.equal(sampleValue(parsed, "haproxy_server_current_throttle", { server: "web4" }), 40);
});

test("server traffic metrics and http-only responses", () => {
  const sv = makeSnapshot().backends[0]!.servers[0]!;
  const parsed = families();
  assert.equal(sampleValue(parsed, "haproxy_server_sessions_total", { proxy: "app", server: "web1" }), sv.sessionsTotal);
  assert.equal(sampleValue(parsed, "haproxy_server_bytes_out_total", { server: "web1" }), sv.bytesOut);
  assert.equal(sampleValue(parsed, "haproxy_server_current_queue", { server: "web1" }), sv.queueCurrent);
  assert.equal(sampleValue(parsed, "haproxy_server_idle_connections_current", { server: "web1" }), sv.idleConnections);
  assert.equal(sampleValue(parsed, "haproxy_server_connect_time_average_seconds", { server: "web1" }), sv.connectTime / 1_000);
  assert.equal(sampleValue(parsed, "haproxy_server_http_responses_total", { server: "web1", code: "4xx" }), sv.responses["4xx"]);
  assert.equal(parsed.get("haproxy_server_http_responses_total")!.samples.filter((sample) => sample.labels.server === "db1").length, 0);
  assert.equal(sampleValue(parsed, "haproxy_server_last_session_seconds", { server: "web1" }), sv.lastSessionSeconds);
});

test("label values are escaped and read back whole", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const snapshot = {
    info: processStats(),
    frontends: [frontend({ name: 'fe "quoted"\\path\nline' })],
    backends: [backend({ name: "b{1}", servers: [server({ name: "s=1,x" })] })],
  };
  const parsed = families(formatPrometheus(snapshot));
  assert.equal(sampleValue(parsed, "haproxy_frontend_current_sessions", { proxy: 'fe "quoted"\\path\nline' }), snapshot.frontends[0]!.sessionsCurrent);
  assert.equal(sampleValue(parsed, "haproxy_server_current_sessions", { proxy: "b{1}", server: "s=1,x" }), snapshot.backends[0]!.servers[0]!.sessionsCurrent);
});

test("scopes and no-maint, as HAProxy's exporter parameters", () => {
  const onlyServers = families(formatPrometheus(makeSnapshot(), { scopes: ["server"] }));
  assert.ok([...onlyServers.keys()].every((name) => name.startsWith("haproxy_server_")));
  const noMaint = families(formatPrometheus(makeSnapshot(), { hideMaintenanceServers: true }));
  assert.equal(noMaint.get("haproxy_server_status")!.samples.filter((sample) => sample.labels.server === "web3").length, 0);
  assert.equal(noMaint.get("haproxy_server_status")!.samples.filter((sample) => sample.labels.server === "web2").length, 5);
  assert.equal(formatPrometheus(makeSnapshot(), { scopes: [] }), "");
});

test("no family is printed without samples", () => {
  const text = formatPrometheus({ info: processStats(), frontends: [frontend({ mode: "tcp" })], backends: [] });
  const parsed = families(text);
  assert.equal(parsed.has("haproxy_frontend_http_responses_total"), false);
  assert.equal(text.includes("haproxy_frontend_http_"), false);
  assert.equal(parsed.has("haproxy_backend_status"), false);
});
