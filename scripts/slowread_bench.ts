/**
 * Slow readers (issue 17): what 1,000 connections that read their answer a few bytes at a time
 * (slowhttptest -X) do to a normal client, and to the proxy's memory, for our proxy on Node, Bun
 * and Deno against HAProxy in the same run. See docs/performance.md, "Slow readers", for the
 * method and the results, and `--help` for the options.
 *
 * Run with Node 24 (it strips the types): `node_modules/.bin/node scripts/slowread_bench.ts`.
 * Every process it starts is stopped, also on Ctrl-C.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { discoverContenders, startContender } from "./bench/contenders.ts";
import type { ContenderSetup, ContenderSpec } from "./bench/contenders.ts";
import { childFileLimit, raiseOwnFileLimit } from "./bench/file_limits.ts";
import { describeMachine } from "./bench/machine.ts";
import { startOrigins } from "./bench/origins.ts";
import { isAlive, treeRssBytes } from "./bench/proc_tree.ts";
import { log, runBenchmark, runInterrupted } from "./bench/benchmark_run.ts";
import { hasCommand, lastErrorLines, runToCompletion } from "./bench/processes.ts";
import type { ProcessRegistry } from "./bench/processes.ts";
import type { TrackedProcess } from "./bench/processes.ts";
import type { SlowReadOptions } from "./bench/slowread_options.ts";
import { parseSlowReadOptions, USAGE } from "./bench/slowread_options.ts";
import type { ClientLatencyReport, SlowReadRun } from "./bench/slowread_results.ts";
import {
  failureSummary,
  parseClientReport,
  slowReadTable,
  summarizeSlowReads,
} from "./bench/slowread_results.ts";

/** A freshly started contender settles (JIT, lazy allocations) before its idle RSS is read. */
const SETTLE_MS = 1_000;
/** The attack is under way when this share of the slow readers is held... */
const HELD_SHARE = 0.95;
/** ...or when this long has passed beyond the time slowhttptest needs to open them all. */
const RAMP_MARGIN_MS = 15_000;
/** After the ramp, the slow readers have asked for their page and filled every buffer. */
const ATTACK_SETTLE_MS = 2_000;
/** How often RSS is sampled under the attack. */
const SAMPLE_INTERVAL_MS = 250;
/** slowhttptest's defaults for -X, the attack the issue ran: read 5 bytes every second, windows of 1-512 bytes. */
const SLOW_READ_ARGS = ["-n", "1", "-z", "5", "-w", "1", "-y", "512", "-k", "1"];

/** Set in the copy of this script that runs inside the private network namespace: the wmem maximum. */
const NAMESPACE_MARK = "SLOWREAD_BENCH_NETNS";
const TCP_WMEM = "/proc/sys/net/ipv4/tcp_wmem";

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Established TCP connections whose local port is `port`: what the contender has accepted and holds. */
function heldConnections(port: number): number {
  const result = spawnSync("ss", ["-Htn", "state", "established", `( sport = :${port} )`], { encoding: "utf8" });
  if (result.status !== 0) return -1;
  return result.stdout.split("\n").filter((line) => line.trim() !== "").length;
}

type Setup = {
  options: SlowReadOptions;
  registry: ProcessRegistry;
  contenderSetup: ContenderSetup;
  originPorts: number[];
  clientCpu: string | null;
  clientScript: string;
};

async function runClient(setup: Setup, port: number, seconds: number): Promise<ClientLatencyReport> {
  const { options } = setup;
  const { stdout, stderr, exit } = await runToCompletion(setup.registry, {
    name: "normal client",
    command: process.execPath,
    args: [setup.clientScript, String(port), String(options.clientRate), String(seconds * 1_000), String(options.timeoutMs)],
    cpuList: setup.clientCpu,
    raiseFileLimit: false,
  }, seconds * 1_000 + options.timeoutMs + 30_000);
  try {
    return parseClientReport(stdout);
  } catch {
    throw new Error(`the normal client failed (${exit}): ${(stderr || stdout).trim().split("\n")[0] ?? ""}`);
  }
}

/** One contender, one round: started fresh, the client alone, then beside the slow readers. */
async function runOne(setup: Setup, spec: ContenderSpec, round: number): Promise<SlowReadRun | string> {
  const { options, registry } = setup;
  const started = await startContender(spec, "http", setup.originPorts, setup.contenderSetup);
  if ("unavailable" in started) return started.unavailable;
  let attack: TrackedProcess | null = null;
  try {
    await sleep(SETTLE_MS);
    const baseline = options.baselineSeconds > 0
      ? await runClient(setup, started.port, options.baselineSeconds)
      : emptyReport();
    const rssIdleBytes = treeRssBytes(started.process.pid);
    const rampMs = (options.slowReaders / options.rampRate) * 1_000;
    attack = registry.spawn({
      name: "slowhttptest",
      command: "slowhttptest",
      args: [
        "-X",
        "-c", String(options.slowReaders),
        "-r", String(options.rampRate),
        "-l", String(Math.ceil((rampMs + RAMP_MARGIN_MS + ATTACK_SETTLE_MS) / 1_000 + options.durationSeconds + 30)),
        "-p", "5",
        ...SLOW_READ_ARGS,
        "-u", `http://127.0.0.1:${started.port}${options.slowPath}`,
      ],
      cpuList: setup.clientCpu,
      raiseFileLimit: true,
    });
    const deadline = Date.now() + rampMs + RAMP_MARGIN_MS;
    while (Date.now() < deadline && attack.exitDescription === null) {
      if (heldConnections(started.port) >= options.slowReaders * HELD_SHARE) break;
      await sleep(500);
    }
    if (attack.exitDescription !== null) {
      throw new Error(`slowhttptest exited (${attack.exitDescription}): ${lastErrorLines(attack, 3).join(" | ")}`);
    }
    await sleep(ATTACK_SETTLE_MS);
    const slowReadersAtStart = heldConnections(started.port);
    let rssPeakBytes = treeRssBytes(started.process.pid);
    const sampler = setInterval(() => {
      rssPeakBytes = Math.max(rssPeakBytes, treeRssBytes(started.process.pid));
    }, SAMPLE_INTERVAL_MS);
    let underAttack: ClientLatencyReport;
    try {
      underAttack = await runClient(setup, started.port, options.durationSeconds);
    } finally {
      clearInterval(sampler);
    }
    rssPeakBytes = Math.max(rssPeakBytes, treeRssBytes(started.process.pid));
    const slowReadersAtEnd = heldConnections(started.port);
    if (!isAlive(started.process.pid)) {
      throw new Error(`exited under the attack (${started.process.exitDescription ?? "unknown"})`);
    }
    return {
      contender: spec.name,
      round,
      baseline,
      underAttack,
      slowReadersAtStart,
      slowReadersAtEnd,
      rssIdleBytes,
      rssPeakBytes,
    };
  } finally {
    if (attack !== null) await registry.stop(attack);
    await registry.stop(started.process);
  }
}

function emptyReport(): ClientLatencyReport {
  return {
    requests: 0,
    successes: 0,
    failures: { refused: 0, reset: 0, timeout: 0, closed: 0, incomplete: 0, status: 0, other: 0 },
    p50Ms: null,
    p99Ms: null,
    maxMs: null,
  };
}

function describeRun(run: SlowReadRun): string {
  const ms = (value: number | null): string => value === null ? "-" : `${value.toFixed(1)} ms`;
  return `  ${run.contender.padEnd(10)} held ${run.slowReadersAtStart}->${run.slowReadersAtEnd} slow readers; ` +
    `p99 alone ${ms(run.baseline.p99Ms)}, attacked p50 ${ms(run.underAttack.p50Ms)} p99 ${ms(run.underAttack.p99Ms)} ` +
    `max ${ms(run.underAttack.maxMs)}; failed ${failureSummary(run.underAttack)} of ${run.underAttack.requests}; ` +
    `RSS ${(run.rssIdleBytes / 1048576).toFixed(1)} -> ${(run.rssPeakBytes / 1048576).toFixed(1)} MB`;
}

/** Why this run cannot move into a network namespace of its own, or null when it can. */
function namespaceUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "a network namespace needs root";
  for (const tool of ["unshare", "ip"]) {
    if (!hasCommand(tool)) return `a network namespace needs ${tool} (apt-get install -y util-linux iproute2)`;
  }
  return null;
}

/** Inside the namespace: loopback up, and the send buffers of a real link (tcp_wmem is per namespace). */
function setUpNamespace(wmemMax: number): string {
  const up = spawnSync("ip", ["link", "set", "lo", "up"], { encoding: "utf8" });
  if (up.status !== 0) throw new Error(`Cannot bring loopback up in the namespace: ${up.stderr.trim()}`);
  const [minimum, initial] = readFileSync(TCP_WMEM, "utf8").trim().split(/\s+/).map(Number);
  const value = `${minimum} ${Math.min(initial!, wmemMax)} ${wmemMax}`;
  writeFileSync(TCP_WMEM, value);
  return `a private network namespace, net.ipv4.tcp_wmem = ${value} (the host's is left as it is)`;
}

async function run(options: SlowReadOptions, registry: ProcessRegistry, directory: string): Promise<number> {
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const machine = describeMachine(projectRoot);
  log(`Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.memoryTotal}, ${machine.kernel}`);
  log(`Versions: ${Object.entries(machine.versions).map(([tool, version]) => `${tool} ${version}`).join("; ")}`);
  const skipped: string[] = [];
  for (const [tool, install] of [["slowhttptest", "slowhttptest"], ["ss", "iproute2"]] as const) {
    if (!hasCommand(tool)) {
      log(`Skipped: the slow-reader scenario needs ${tool} (apt-get install -y ${install})`);
      return 0;
    }
  }
  const inNamespace = process.env[NAMESPACE_MARK] !== undefined;
  const network = inNamespace ? setUpNamespace(options.wmemMax) : "the host's loopback, kernel settings as they are";
  log(`Network: ${network}`);
  const pin = options.pinCpus && registry.canPin && machine.cpus >= 2;
  const contenderCpu = pin ? "0" : null;
  const clientCpu = pin ? "1" : null;
  log(pin ? "Pinning: contender on CPU 0; origins, slowhttptest and the normal client on CPU 1" : "Pinning: none");
  log(
    `Settings: ${options.slowReaders} slow readers of ${options.slowPath} (opened at ${options.rampRate}/s), ` +
      `normal client GET / at ${options.clientRate}/s on new connections for ${options.durationSeconds} s ` +
      `(${options.baselineSeconds} s alone first), timeout ${options.timeoutMs} ms, ${options.rounds} round(s)` +
      (Object.keys(options.proxyEnv).length > 0 ? `, proxy env ${JSON.stringify(options.proxyEnv)}` : ""),
  );

  raiseOwnFileLimit(options.slowReaders + 1_024);
  const limits = { clientConnections: options.slowReaders + 500, fileLimit: childFileLimit() };
  const origins = await startOrigins({
    registry,
    directory,
    nginxPath: hasCommand("nginx") ? "nginx" : null,
    cpuList: clientCpu,
    limits,
    runtimePath: process.execPath,
  });
  log(`Note: ${origins.note}`);

  const discovery = discoverContenders(projectRoot);
  const specs: ContenderSpec[] = [];
  for (const name of options.only) {
    const spec = discovery.specs.find((candidate) => candidate.name === name && candidate.modes.includes("http"));
    if (spec !== undefined) specs.push(spec);
    else {
      skipped.push(
        discovery.skipped.find((line) => line.startsWith(`${name}:`) || line.startsWith(`${name.split("/")[0]}:`)) ??
          `${name}: skipped (not a contender with an http mode here)`,
      );
    }
  }
  for (const line of skipped) log(`  ${line}`);

  const setup: Setup = {
    options,
    registry,
    contenderSetup: {
      registry,
      directory,
      projectRoot,
      cpuList: contenderCpu,
      limits,
      proxyEnv: options.proxyEnv,
      logPort: null,
      certificatePath: null,
    },
    originPorts: origins.ports,
    clientCpu,
    clientScript: join(projectRoot, "scripts", "bench", "slowread_client.ts"),
  };
  const runs: SlowReadRun[] = [];
  const incidents: string[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    log(`\nRound ${round}/${options.rounds}`);
    const shift = (round - 1) % Math.max(1, specs.length);
    for (const spec of [...specs.slice(shift), ...specs.slice(0, shift)]) {
      if (runInterrupted()) break;
      try {
        const outcome = await runOne(setup, spec, round);
        if (typeof outcome === "string") {
          incidents.push(`${spec.name} http round ${round}: skipped (${outcome})`);
          log(`  ! ${incidents.at(-1)}`);
          continue;
        }
        runs.push(outcome);
        log(describeRun(outcome));
      } catch (error) {
        incidents.push(`${spec.name} round ${round}: ${(error as Error).message}`);
        log(`  ! ${incidents.at(-1)}`);
      }
    }
  }

  const summaries = summarizeSlowReads(runs);
  log(`\nSlow readers (http mode; latency of the normal client, medians over rounds; failures summed)\n`);
  log(slowReadTable(summaries));
  if (skipped.length > 0) log(`\nSkipped:\n${skipped.map((line) => `  ${line}`).join("\n")}`);
  if (incidents.length > 0) log(`\nIncidents:\n${incidents.map((line) => `  ${line}`).join("\n")}`);
  if (options.jsonPath !== null) {
    writeFileSync(
      options.jsonPath,
      `${JSON.stringify({ generatedAt: new Date().toISOString(), options, network, machine, runs, summaries, skipped, incidents }, null, 2)}\n`,
    );
    log(`JSON written to ${options.jsonPath}`);
  }
  return 0;
}

async function main(): Promise<number> {
  let options: SlowReadOptions;
  try {
    options = parseSlowReadOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.wmemMax > 0 && process.env[NAMESPACE_MARK] === undefined) {
    const reason = namespaceUnavailable();
    if (reason === null) {
      // The whole run, origins and contenders included, moves into a namespace of its own.
      const inner = spawnSync(
        "unshare",
        ["-n", "--", process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
        { stdio: "inherit", env: { ...process.env, [NAMESPACE_MARK]: String(options.wmemMax) } },
      );
      return inner.status ?? 1;
    }
    console.log(`Note: ${reason}; running on the host's loopback (--wmem-max 0)`);
  }
  return await runBenchmark("proxy-slowread-", options.keepTemp, (registry, directory) => run(options, registry, directory));
}

process.exit(await main());
