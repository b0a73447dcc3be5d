/**
 * The project's benchmark: our proxy on Node, Bun and Deno (and dist/proxy) against HAProxy and
 * nginx, behind the same two origins, driven by wrk in interleaved rounds, in tcp mode, http mode
 * and http mode behind TLS termination (keep-alive, and one full handshake per request); and the cost of traffic
 * logging (our proxy and HAProxy with one httplog line per request sent over UDP to a receiver in
 * this process, against themselves without); and the cost of the stats (our proxy with a stats
 * frontend that this process scrapes once a second, against itself without); and, in http mode,
 * the JavaScript peers (Bun.serve + fetch, Deno.serve + fetch, http-proxy and undici on Node: what
 * a user could write in a few lines instead); and, in tcp and http mode, the socket-layer floors
 * (the least work a proxy can do on the socket layer ours uses on each runtime), with ours divided
 * by them. With `--profile DIR`, CPU profiles of ours under the same load and the system calls per
 * request. See docs/performance.md for the method and `--help` for the options.
 *
 * Run with Node 24 (it strips the types): `node_modules/.bin/node scripts/bench.ts --quick`.
 *
 * @module
 */

import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { BODY_PATHS, closesEachConnection } from "./bench/bodies.ts";
import type { ConnectionLimits } from "./bench/configs.ts";
import type { ContenderSetup, ContenderSpec, ProxyMode, RunningContender } from "./bench/contenders.ts";
import { discoverContenders, OUR_ENTRY, runtimeCommand, startContender } from "./bench/contenders.ts";
import { bundleForNode } from "./build/node_bundle.ts";
import { floorComparisons, floorMemoryComparisons } from "./bench/floor_comparison.ts";
import { FLOOR_PROXIES } from "./bench/floor_proxies.ts";
import type { PeerRuntime } from "./bench/peer_proxies.ts";
import type { NodeProfileEntry, ProfileResult } from "./bench/profiles.ts";
import { buildProfilingBundle, PROFILED_MODES, SAMPLING_INTERVAL_MICROS, takeCpuProfiles } from "./bench/profiles.ts";
import { countSyscalls, syscallTable } from "./bench/syscall_counts.ts";
import { startLogReceiver } from "./bench/log_receiver.ts";
import type { LogReceiver } from "./bench/log_receiver.ts";
import { loggingCosts, proxyReportedDrops } from "./bench/logging.ts";
import { scrapeOnce, SCRAPE_INTERVAL_MS, startScraper, STATS_SCRAPE_PATHS } from "./bench/stats_scraper.ts";
import { statsCostFailure, statsCosts } from "./bench/stats_cost.ts";
import { describeMachine } from "./bench/machine.ts";
import type { MachineInfo } from "./bench/machine.ts";
import { childFileLimit, connectionsWithinLimit, raiseOwnFileLimit } from "./bench/file_limits.ts";
import { openIdleConnections } from "./bench/memory_scenario.ts";
import type { BenchOptions } from "./bench/options.ts";
import { parseBenchOptions, USAGE } from "./bench/options.ts";
import { startOrigins } from "./bench/origins.ts";
import type { Origins } from "./bench/origins.ts";
import {
  cpuTimes,
  isAlive,
  ownCpuMicros,
  processTree,
  treeCpuMicros,
  treeRssBytes,
  treesCpuMicros,
} from "./bench/proc_tree.ts";
import { log, runBenchmark } from "./bench/benchmark_run.ts";
import { hasCommand, lastErrorLines } from "./bench/processes.ts";
import type { ProcessRegistry } from "./bench/processes.ts";
import type { TrackedProcess } from "./bench/processes.ts";
import type { BenchMode, BodyName, LogLineCount, RunSample, ScrapeCount } from "./bench/report.ts";
import { ORIGIN_DIRECT_CONTENDER, otherLoadSummary, STATS_SUFFIX, summarize } from "./bench/report.ts";
import { roundOrder, slotGroups } from "./bench/rounds.ts";
import {
  floorMemoryTable,
  floorTable,
  loggingTable,
  memoryTable,
  statsCostTable,
  targetsTable,
  throughputTable,
} from "./bench/table.ts";
import type { IdleMemoryResult } from "./bench/targets.ts";
import { checkTargets } from "./bench/targets.ts";
import { runWrk } from "./bench/wrk.ts";
import {
  BENCH_CERTIFICATE,
  buildFullHandshakeShim,
  checkFullHandshakes,
  describeResumption,
} from "./bench/tls_client.ts";
import type { HandshakeCount } from "./bench/tls_client.ts";

const BODIES: readonly BodyName[] = ["small", "1mb"];
/**
 * TLS rows: small responses on keep-alive connections (the cost of encryption per request), and
 * one connection per request (the cost of a full handshake). 1 MB bodies over TLS would measure
 * the cipher, which is the same library in every contender but ours on Deno.
 */
const TLS_BODIES: readonly BodyName[] = ["small", "small-close"];
/** Every table, in the order printed. */
const TABLE_BODIES: readonly BodyName[] = ["small", "1mb", "small-close"];
/**
 * A logging contender is measured on small responses only: a traffic line costs the same for any
 * body, and only against a small one's per-request cost does it show.
 */
const LOGGING_BODIES: readonly BodyName[] = ["small"];
/**
 * A contender showing its stats is measured on small responses only, for the same reason: the
 * clock reads and the scrapes cost per request and per second, whatever the body.
 */
const STATS_BODIES: readonly BodyName[] = ["small"];
/** After a logging run, the receiver waits until no line arrived for this long (lines in flight land)... */
const LOG_QUIET_MS = 100;
/** ...but no longer than this. */
const LOG_SETTLE_MAX_MS = 2_000;
/** A logging contender must get one traffic line to the receiver within this time to be measured. */
const LOG_CHECK_TIMEOUT_MS = 3_000;
/** Time for a freshly started proxy to settle (JIT, lazy allocations) before RSS is read. */
const SETTLE_MS = 1_000;

/** Other load on the machine (in cores) worth showing next to a sample. */
const NOTABLE_OTHER_LOAD = 0.05;
/** Above this other load (in cores) a sample is taken again. */
const MAX_QUIET_OTHER_LOAD = 0.2;
/** How often one sample may be taken again before the quietest attempt is kept anyway. */
const MAX_NOISY_REPEATS = 2;

/** Which CPUs each party runs on; null everywhere when not pinning. */
type CpuPlan = {
  contender: string | null;
  client: string | null;
  origins: string | null;
  description: string;
};

/** One thing wrk is pointed at in the rounds: a proxy in one mode, or the origin itself. */
type Target = {
  contender: string;
  mode: BenchMode;
  port: number;
  /** The process whose tree's CPU time is charged to this target. */
  process: TrackedProcess;
  /** Sends traffic lines to the log receiver: they are counted for each of its runs. */
  logging: boolean;
  /** Its stats frontend's port, scraped during each of its runs; null when it shows no stats. */
  statsPort: number | null;
  failed: string | null;
};

function planCpus(options: BenchOptions, registry: ProcessRegistry, cpus: number): CpuPlan {
  if (!options.pinCpus) {
    return { contender: null, client: null, origins: null, description: "not pinned (--no-pin)" };
  }
  if (!registry.canPin) {
    return {
      contender: null,
      client: null,
      origins: null,
      description: "not pinned (taskset is not installed)",
    };
  }
  if (cpus < 2) {
    return { contender: null, client: null, origins: null, description: "not pinned (one CPU only)" };
  }
  const origins = cpus >= 3 ? "2" : "1";
  return {
    contender: "0",
    client: "1",
    origins,
    description: `contender on CPU 0, wrk and this script on CPU 1, origins on CPU ${origins}` +
      " (the origin being measured directly moves to CPU 0 for its runs)",
  };
}

/** Moves every thread of a process tree to the given CPUs (this script; the origin measured directly). */
function repin(pid: number, cpuList: string | null): void {
  if (cpuList === null) return;
  for (const member of processTree(pid)) {
    spawnSync("taskset", ["-a", "-p", "-c", cpuList, String(member)], { stdio: "ignore" });
  }
}

/** "ours/node tcp", or "origin direct" for the origin itself. */
function targetLabel(target: { contender: string; mode: BenchMode }): string {
  return target.mode === "direct" ? target.contender : `${target.contender} ${target.mode}`;
}


type ThroughputOutcome = { samples: RunSample[]; incidents: string[]; repeatedSamples: number };

function otherLoadCores(measured: { result: { durationSeconds: number }; otherLoadMicros: number }): number {
  return measured.otherLoadMicros / (measured.result.durationSeconds * 1_000_000);
}

async function runThroughputRounds(
  options: BenchOptions,
  registry: ProcessRegistry,
  targets: Target[],
  originPids: readonly number[],
  cpu: CpuPlan,
  builtinRuntimePath: string | null,
  receiver: LogReceiver | null,
  fullHandshakeShim: string | null,
): Promise<ThroughputOutcome> {
  const samples: RunSample[] = [];
  const incidents: string[] = [];
  let repeatedSamples = 0;
  // A logging target's runs follow those of the same contender without logging (see rounds.ts).
  const groups = slotGroups(
    targets,
    (target) =>
      target.logging
        ? LOGGING_BODIES
        : target.statsPort !== null
        ? STATS_BODIES
        : target.mode === "https"
        ? TLS_BODIES
        : BODIES,
  );
  const slots = groups.flat();
  // Every process this benchmark keeps running: contenders (idle or not) and both origins.
  const ourRoots = [...new Set([...targets.map((target) => target.process.pid), ...originPids])];

  const measure = async (target: Target, body: BodyName, seconds: number) => {
    const isDirect = target.mode === "direct";
    if (isDirect) repin(target.process.pid, cpu.contender);
    try {
      const contenderCpu = cpu.contender === null ? null : Number(cpu.contender);
      const cpuTimesBefore = contenderCpu === null ? null : cpuTimes(contenderCpu);
      const machineBefore = cpuTimes("all");
      const oursBefore = treesCpuMicros(ourRoots) + ownCpuMicros();
      const cpuBefore = treeCpuMicros(target.process.pid);
      const logBefore = target.logging && receiver !== null ? receiver.counts() : null;
      const closing = closesEachConnection(body);
      // The scraper runs in this process, on the client's CPU, for as long as wrk does.
      const scraper = target.statsPort === null ? null : startScraper(target.statsPort);
      let scrapes: ScrapeCount | null = null;
      let result: Awaited<ReturnType<typeof runWrk>>["result"];
      try {
        ({ result } = await runWrk(registry, {
          port: target.port,
          path: BODY_PATHS[body],
          tls: target.mode === "https",
          closeEachConnection: closing,
          preloadPath: closing ? fullHandshakeShim : null,
          durationSeconds: seconds,
          connections: options.connections,
          cpuList: cpu.client,
          builtinRuntimePath,
        }));
      } finally {
        // A scrape under way when wrk stops is waited for: its cost is the contender's too.
        if (scraper !== null) scrapes = await scraper.stop();
      }
      const cpuMicros = treeCpuMicros(target.process.pid) - cpuBefore;
      const machineAfter = cpuTimes("all");
      const oursMicros = treesCpuMicros(ourRoots) + ownCpuMicros() - oursBefore;
      // Whatever the machine did besides our processes (other users, the hypervisor): the noise
      // interleaving is meant to spread. Tick sampling can make it slightly negative when idle.
      const otherLoadMicros =
        Math.max(0, machineAfter.processMicros - machineBefore.processMicros - oursMicros) +
        machineAfter.stealMicros - machineBefore.stealMicros;
      const softirqMicros = contenderCpu === null || cpuTimesBefore === null
        ? null
        : cpuTimes(contenderCpu).interruptMicros - cpuTimesBefore.interruptMicros;
      let log: LogLineCount | null = null;
      if (logBefore !== null && receiver !== null) {
        // After the CPU figures: waiting for the last lines must not count as the contender's time.
        await receiver.settle(LOG_QUIET_MS, LOG_SETTLE_MAX_MS);
        const after = receiver.counts();
        log = {
          lines: after.lines - logBefore.lines,
          kernelDrops: after.kernelDrops === null || logBefore.kernelDrops === null
            ? null
            : after.kernelDrops - logBefore.kernelDrops,
        };
      }
      return { result, cpuMicros, softirqMicros, otherLoadMicros, log, scrapes };
    } finally {
      if (isDirect) repin(target.process.pid, cpu.origins);
    }
  };

  const checkAlive = (target: Target, when: string): boolean => {
    if (target.failed !== null) return false;
    if (isAlive(target.process.pid)) return true;
    const lines = lastErrorLines(target.process, 5);
    target.failed = `exited ${when} (${target.process.exitDescription ?? "unknown"})`;
    incidents.push(
      `${targetLabel(target)}: ${target.failed}${
        lines.length > 0 ? `; last stderr: ${lines.join(" | ")}` : ""
      }`,
    );
    log(`  ! ${incidents.at(-1)}`);
    return false;
  };

  if (options.warmupSeconds > 0) {
    log(`\nWarm-up: ${options.warmupSeconds} s per contender and body, discarded`);
    for (const { target, body } of slots) {
      if (!checkAlive(target, "before warm-up")) continue;
      try {
        await measure(target, body, options.warmupSeconds);
      } catch (error) {
        incidents.push(`${targetLabel(target)} ${body} warm-up: ${(error as Error).message}`);
        log(`  ! ${incidents.at(-1)}`);
      }
      checkAlive(target, `during warm-up (${body})`);
    }
  }

  for (let round = 0; round < options.rounds; round++) {
    log(`\nRound ${round + 1}/${options.rounds}`);
    // Rotate the order each round so that no contender always runs first or right after another.
    for (const { target, body } of roundOrder(groups, round, options.rounds)) {
      if (!checkAlive(target, `before round ${round + 1}`)) continue;
      try {
        // A sample taken while something else kept the machine busy is taken again (a bounded
        // number of times) and the quietest attempt is kept: medians absorb one noisy round, not
        // three, and the machine this runs on is shared.
        let measured = await measure(target, body, options.durationSeconds);
        for (let repeat = 1; repeat <= MAX_NOISY_REPEATS; repeat++) {
          if (otherLoadCores(measured) <= MAX_QUIET_OTHER_LOAD) break;
          log(
            `  ${targetLabel(target).padEnd(20)} ${body.padEnd(5)} repeated: other load ${
              Math.round(otherLoadCores(measured) * 100)
            }% of a core`,
          );
          repeatedSamples++;
          const again = await measure(target, body, options.durationSeconds);
          if (otherLoadCores(again) < otherLoadCores(measured)) measured = again;
        }
        const { result, cpuMicros, softirqMicros, otherLoadMicros, log: logLines, scrapes } = measured;
        samples.push({
          contender: target.contender,
          mode: target.mode,
          body,
          round: round + 1,
          wrk: result,
          cpuMicros,
          softirqMicros,
          otherLoadMicros,
          log: logLines,
          stats: scrapes,
        });
        const errors = result.socketErrors.connect + result.socketErrors.read + result.socketErrors.write +
          result.socketErrors.timeout;
        const perRequest = result.requests > 0 ? (cpuMicros / result.requests).toFixed(2) : "-";
        log(
          `  ${targetLabel(target).padEnd(20)} ${body.padEnd(5)} ` +
            `${Math.round(result.requestsPerSecond).toLocaleString("en-US").padStart(9)} req/s  ` +
            `${perRequest.padStart(7)} us CPU/req` +
            (otherLoadMicros !== null &&
                otherLoadMicros >= NOTABLE_OTHER_LOAD * result.durationSeconds * 1_000_000
              ? `  other load ${
                Math.round((otherLoadMicros / (result.durationSeconds * 1_000_000)) * 100)
              }% of a core`
              : "") +
            (logLines === null ? "" : `  ${logLines.lines.toLocaleString("en-US")} log lines` +
              (logLines.kernelDrops !== null && logLines.kernelDrops > 0
                ? ` (${logLines.kernelDrops.toLocaleString("en-US")} lost in the kernel)`
                : "")) +
            (scrapes === null
              ? ""
              : `  ${scrapes.scrapes} scrapes${scrapes.failed > 0 ? ` (${scrapes.failed} failed)` : ""}`) +
            (errors > 0 ? `  ${errors} socket errors` : "") +
            (result.non2xxOr3xxResponses > 0 ? `  ${result.non2xxOr3xxResponses} non-2xx` : ""),
        );
        if (scrapes !== null && (scrapes.failed > 0 || scrapes.scrapes === 0)) {
          incidents.push(
            `${targetLabel(target)} ${body} round ${round + 1}: ${
              scrapes.scrapes === 0
                ? "no stats scrape was made"
                : `${scrapes.failed} of ${scrapes.scrapes} stats scrapes failed (first: ${scrapes.firstFailure})`
            }`,
          );
        }
        if (errors > 0 || result.non2xxOr3xxResponses > 0) {
          incidents.push(
            `${targetLabel(target)} ${body} round ${round + 1}: ${errors} socket errors ` +
              `(${JSON.stringify(result.socketErrors)}), ${result.non2xxOr3xxResponses} non-2xx responses`,
          );
        }
      } catch (error) {
        incidents.push(`${targetLabel(target)} ${body} round ${round + 1}: ${(error as Error).message}`);
        log(`  ! ${incidents.at(-1)}`);
      }
      checkAlive(target, `during round ${round + 1} (${body})`);
    }
  }
  return { samples, incidents, repeatedSamples };
}

async function runMemoryScenario(
  count: number,
  available: { spec: ContenderSpec; mode: Exclude<ProxyMode, "https"> }[],
  origins: Origins,
  setup: ContenderSetup,
): Promise<{ results: IdleMemoryResult[]; incidents: string[] }> {
  const results: IdleMemoryResult[] = [];
  const incidents: string[] = [];
  log(`\nMemory scenario: ${count.toLocaleString("en-US")} idle keep-alive connections per contender`);
  for (const { spec, mode } of available) {
    const started = await startContender(spec, mode, origins.ports, setup);
    if ("unavailable" in started) {
      log(`  ${spec.name} ${mode}: skipped (${started.unavailable})`);
      continue;
    }
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const rssBeforeBytes = treeRssBytes(started.process.pid);
      const held = await openIdleConnections(started.port, count);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const rssAfterBytes = treeRssBytes(started.process.pid);
      const result: IdleMemoryResult = {
        contender: spec.name,
        mode,
        requested: count,
        held: held.openCount(),
        rssBeforeBytes,
        rssAfterBytes,
        firstError: held.firstError,
      };
      if (!isAlive(started.process.pid)) {
        incidents.push(
          `${spec.name} ${mode}: exited in the memory scenario (${
            started.process.exitDescription ?? "unknown"
          }); ` +
            `last stderr: ${lastErrorLines(started.process, 5).join(" | ")}`,
        );
      }
      await held.closeAll();
      results.push(result);
      log(
        `  ${`${spec.name} ${mode}`.padEnd(20)} held ${result.held}/${count}, RSS ` +
          `${(rssBeforeBytes / 1048576).toFixed(1)} MB -> ${(rssAfterBytes / 1048576).toFixed(1)} MB` +
          (held.firstError !== null ? ` (first failure: ${held.firstError})` : ""),
      );
      if (result.held < count) {
        incidents.push(
          `${spec.name} ${mode}: held ${result.held} of ${count} idle connections (first failure: ${
            held.firstError ?? "closed while idle"
          })`,
        );
      }
    } finally {
      await setup.registry.stop(started.process);
    }
  }
  return { results, incidents };
}

/**
 * How many idle connections the memory scenario can hold here: each costs the proxy two open
 * files and this process one, and a container may cap the hard limit below what 10,000 need.
 */
function plannedIdleConnections(requested: number, notes: string[]): number {
  if (requested === 0) return 0;
  const ownLimit = raiseOwnFileLimit(requested + 1_024);
  const count = Math.min(requested, connectionsWithinLimit(childFileLimit()), Math.max(0, ownLimit - 256));
  if (count < requested) {
    notes.push(
      `the open-file limit (soft ${ownLimit}, children ${childFileLimit()}; raising it needs CAP_SYS_RESOURCE) ` +
        `allows ${count} of the ${requested} idle connections asked for; the 10,000-connection figure is extrapolated`,
    );
  }
  return count;
}

/** Whether the run asks for ours on Node: "ours/node", "ours/node+log" or "ours/node+stats". */
function runsOursOnNode(only: readonly string[]): boolean {
  return only.length === 0 || only.some((name) => name === "ours/node" || name.startsWith("ours/node+"));
}

/**
 * Bundles ours for Node into the run's directory, as Node runs it in production (node_bundle.ts:
 * 59 MB of RSS at start against 108 MB from the sources); null when that fails. A note says which
 * of the two this run measures.
 */
function prepareNodeBundle(projectRoot: string, directory: string, notes: string[]): string | null {
  const outfile = join(directory, "proxy.cjs");
  const started = performance.now();
  try {
    bundleForNode({
      root: projectRoot,
      entry: join(projectRoot, OUR_ENTRY),
      outfile,
      bun: runtimeCommand(projectRoot, "bun").binary,
      node: runtimeCommand(projectRoot, "node").binary,
    });
  } catch (error) {
    notes.push(
      `the Node bundle could not be built (${(error as Error).message}): ours/node, ours/node+log and ` +
        `ours/node+stats run ${OUR_ENTRY} (type stripping) in this run`,
    );
    return null;
  }
  notes.push(
    `ours/node, ours/node+log and ours/node+stats run the Node bundle built for this run (bundleForNode, as ` +
      `npm run build -- --runtime node --bundle; ${(statSync(outfile).size / 1048576).toFixed(2)} MB in ${
        ((performance.now() - started) / 1_000).toFixed(1)
      } s): node_modules/.bin/node <temporary directory>/proxy.cjs`,
  );
  return outfile;
}

/** The commit measured, and whether the checkout had changes on top of it. */
function describeCommit(projectRoot: string): string {
  const head = spawnSync("git", ["-C", projectRoot, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  if (head.status !== 0) return "unknown commit";
  const status = spawnSync("git", ["-C", projectRoot, "status", "--porcelain", "--untracked-files=no"], {
    encoding: "utf8",
  });
  return `commit ${head.stdout.trim()}${status.stdout.trim() === "" ? "" : " with uncommitted changes"}`;
}

/** What --profile needs from the run. */
type ProfileRequest = {
  options: BenchOptions;
  directory: string;
  projectRoot: string;
  setup: ContenderSetup;
  origins: Origins;
  cpu: CpuPlan;
  machine: MachineInfo;
  nodeBundle: string | null;
  /** Contenders that ran in http mode. */
  measuredHttp: readonly string[];
  /** The plain ours/<runtime> contenders that ran, with their modes. */
  measuredOurs: readonly { name: string; mode: ProxyMode }[];
  specs: readonly ContenderSpec[];
  wrkInstalled: boolean;
  notes: string[];
};

/** The contenders whose system calls are counted, in this order, when they ran in http mode. */
const SYSCALL_CONTENDERS: readonly string[] = [
  ...FLOOR_PROXIES.flatMap((floor) => [`ours/${floor.runtime}`, floor.name]),
  "haproxy",
];

/**
 * --profile DIR: a CPU profile of each ours/<runtime> of the run in http and tcp mode with
 * DIR/summary.txt, and with strace DIR/syscalls.txt (profiles.ts, syscall_counts.ts).
 */
async function takeProfiles(
  request: ProfileRequest,
): Promise<{ results: ProfileResult[]; syscallsPath: string | null; incidents: string[] }> {
  const { options, projectRoot, machine, notes } = request;
  const output = resolve(options.profileDirectory!);
  const incidents: string[] = [];
  if (!request.wrkInstalled) {
    notes.push("--profile: no profiles taken (wrk is not installed: apt-get install -y wrk)");
    return { results: [], syscallsPath: null, incidents };
  }
  mkdirSync(output, { recursive: true });
  log(`\nProfiles and system calls, into ${output}`);
  const runtimes = (["node", "bun", "deno"] as const satisfies readonly PeerRuntime[]).filter((runtime) =>
    request.measuredOurs.some((entry) => entry.name === `ours/${runtime}`)
  );
  const modes = PROFILED_MODES.filter((mode) => request.measuredOurs.some((entry) => entry.mode === mode));

  let nodeEntry: NodeProfileEntry = {
    path: join(projectRoot, OUR_ENTRY),
    modules: null,
    description: `${OUR_ENTRY}, as measured (type stripping: the Node bundle was not built)`,
  };
  if (runtimes.includes("node") && request.nodeBundle !== null) {
    try {
      nodeEntry = {
        ...buildProfilingBundle(projectRoot, join(request.directory, "proxy-profiled.cjs")),
        description: "a twin of the measured bundle with its whitespace kept (the same code; the bundler's " +
          "module comments attribute each function to its source file)",
      };
    } catch (error) {
      nodeEntry = {
        path: request.nodeBundle,
        modules: null,
        description: `the measured bundle (its twin with whitespace kept could not be built: ${
          (error as Error).message
        }; its functions are attributed to the bundle as a whole)`,
      };
    }
  }

  const results = await takeCpuProfiles({
    directory: output,
    projectRoot,
    contenderSetup: request.setup,
    originPorts: request.origins.ports,
    runtimes,
    modes,
    nodeEntry,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    connections: options.connections,
    clientCpuList: request.cpu.client,
  });
  for (const result of results) {
    if (result.failure !== null) incidents.push(`--profile ${result.contender} ${result.mode}: ${result.failure}`);
    log(
      `  ${`${result.contender} ${result.mode}`.padEnd(20)} ${
        result.failure === null ? `profile saved (${result.profilePath})` : `no profile: ${result.failure}`
      }`,
    );
  }
  const header = [
    `CPU profiles of ours under the benchmark's load (npm run bench -- --profile), ${new Date().toISOString()}, ${
      describeCommit(projectRoot)
    }.`,
    `Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.kernel}; ${
      Object.entries(machine.versions).map(([tool, version]) => `${tool} ${version}`).join("; ")
    }.`,
    `Each profile: one more instance of ours/<runtime>, pinned like the measured ones, ${
      options.warmupSeconds > 0 ? `${options.warmupSeconds} s of wrk discarded, then ` : ""
    }${options.durationSeconds} s of wrk (${options.connections} connections, GET / with a 16-byte response) ` +
    "counted, then a graceful stop (SIGUSR1). Samples are counted, one per " +
    `${SAMPLING_INTERVAL_MICROS / 1_000} ms of sampling, and only those inside the counted wrk run.`,
    `Node: --cpu-prof on ${nodeEntry.description}. Bun: --cpu-prof and --cpu-prof-md (Bun's own summary, ` +
    "<name>.md). Deno 2.9 has no --cpu-prof: --inspect=127.0.0.1:0 and the inspector's Profiler domain, " +
    "started and stopped around the counted run; its function names have no line numbers, as the inspector " +
    "numbers the lines of the JavaScript Deno made of each file. Bun samples only while JavaScript runs: " +
    "its shares are of the JavaScript thread's busy time; V8 (Node, Deno) also samples native code, as " +
    "(program).",
  ];
  const body = results.map((result) =>
    result.summary ?? `${result.contender} ${result.mode}: no profile (${result.failure ?? "unknown"})`
  );
  writeFileSync(join(output, "summary.txt"), `${header.join("\n")}\n\n${body.join("\n\n")}\n`);
  notes.push(`CPU profiles and their summary are in ${output} (summary.txt)`);

  if (!hasCommand("strace")) {
    notes.push("--profile: no system call counts (strace is not installed: apt-get install -y strace)");
    return { results, syscallsPath: null, incidents };
  }
  const straced = SYSCALL_CONTENDERS.filter((name) => request.measuredHttp.includes(name))
    .map((name) => request.specs.find((spec) => spec.name === name))
    .filter((spec) => spec !== undefined);
  const syscalls = await countSyscalls(straced, {
    contenderSetup: request.setup,
    originPorts: request.origins.ports,
    directory: output,
    durationSeconds: options.durationSeconds,
    connections: options.connections,
    clientCpuList: request.cpu.client,
  });
  incidents.push(...syscalls.incidents);
  const syscallsPath = join(output, "syscalls.txt");
  writeFileSync(
    syscallsPath,
    [
      `System calls per request, http mode, GET / with a 16-byte response (npm run bench -- --profile), ${
        new Date().toISOString()
      }, ${describeCommit(projectRoot)}.`,
      `One more instance of each contender with strace -c -f attached to all its threads for one wrk run of ${options.durationSeconds} s ` +
      `(${options.connections} connections). strace stops the process at every call: these runs are several ` +
      "times slower than the measured ones, and an event loop then finds fewer requests ready per wake-up, so " +
      "epoll calls per request are higher than unstraced; reads and writes per request are what they are. " +
      "wrk opens its connections at the start of the run, so the calls that set one up (accept4, socket, " +
      "connect, setsockopt...) are spread over the few requests of a straced run and read high. strace's own " +
      "tables: strace-<contender>-http.txt.",
      "",
      syscallTable(syscalls.runs),
      "",
    ].join("\n"),
  );
  log(`  system calls per request: ${syscallsPath}`);
  notes.push(`system calls per request (strace -c) are in ${syscallsPath}`);
  return { results, syscallsPath, incidents };
}

async function run(options: BenchOptions, registry: ProcessRegistry, directory: string): Promise<number> {
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const machine: MachineInfo = describeMachine(projectRoot);
  const cpu = planCpus(options, registry, machine.cpus);
  // This process opens the memory scenario's connections: keep it off the contender's core too.
  if (cpu.client !== null) repin(process.pid, cpu.client);
  const notes: string[] = [];
  const skipped: string[] = [];
  const incidents: string[] = [];

  log(`Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.memoryTotal}, ${machine.kernel}`);
  log(
    `Versions: ${Object.entries(machine.versions).map(([tool, version]) => `${tool} ${version}`).join("; ")}`,
  );
  log(`Pinning: ${cpu.description}`);
  log(
    `Settings: ${options.durationSeconds} s x ${options.rounds} rounds, ${options.connections} connections, ` +
      `${options.warmupSeconds} s warm-up, ${options.idleConnections} idle connections` +
      (Object.keys(options.proxyEnv).length > 0 ? `, proxy env ${JSON.stringify(options.proxyEnv)}` : ""),
  );

  const builtinRuntimePath = hasCommand("wrk") ? null : process.execPath;
  if (builtinRuntimePath !== null) {
    notes.push(
      "wrk is not installed (apt-get install -y wrk): the built-in load generator drives the runs; " +
        "its figures are bound by its own CPU and only show that each contender works",
    );
  }
  const modes = options.modes.filter((mode) => mode !== "https" || builtinRuntimePath === null);
  if (modes.length < options.modes.length) {
    skipped.push("https: skipped (the built-in load generator has no TLS: apt-get install -y wrk)");
  }
  const tls = modes.includes("https") ? prepareTls(projectRoot, directory, notes) : null;
  if (tls !== null) {
    const count = await checkFullHandshakes(registry, tls.certificatePath, tls.shimPath, cpu.client);
    tls.check = count;
    notes.push(
      `wrk with Connection: close against a counting node:tls server, ${
        tls.shimPath === null ? "as is" : "with the full-handshake shim"
      }: ${describeResumption(count)}`,
    );
  }

  const idleConnections = plannedIdleConnections(options.idleConnections, notes);
  const limits: ConnectionLimits = {
    clientConnections: Math.max(idleConnections, options.connections) + 100,
    fileLimit: childFileLimit(),
  };
  const origins = await startOrigins({
    registry,
    directory,
    nginxPath: hasCommand("nginx") ? "nginx" : null,
    cpuList: cpu.origins,
    limits,
    runtimePath: process.execPath,
  });
  notes.push(origins.note);
  const nodeBundle = runsOursOnNode(options.only) ? prepareNodeBundle(projectRoot, directory, notes) : null;
  for (const note of notes) log(`Note: ${note}`);

  const discovery = discoverContenders(projectRoot, { nodeBundle });
  skipped.push(...discovery.skipped);
  const wanted = (name: string): boolean => options.only.length === 0 || options.only.includes(name);
  // The origin served directly and the logging contenders have plain http rows only.
  const plainRows = modes.includes("tcp") || modes.includes("http");
  // The syslog receiver of the logging contenders runs in this process, on the client's CPU.
  const receiver = discovery.specs.some((spec) => spec.logging && wanted(spec.name) && modes.includes("http"))
    ? await startLogReceiver()
    : null;
  if (receiver !== null) {
    log(
      `Log receiver: UDP 127.0.0.1:${receiver.port}, receive buffer ${
        (receiver.receiveBufferBytes / 1048576).toFixed(1)
      } MB (as the kernel reports it)`,
    );
  }
  const setup: ContenderSetup = {
    registry,
    directory,
    projectRoot,
    cpuList: cpu.contender,
    limits,
    proxyEnv: options.proxyEnv,
    logPort: receiver?.port ?? null,
    certificatePath: tls?.certificatePath ?? null,
  };

  log("\nStarting contenders");
  const running: { contender: RunningContender; logging: boolean }[] = [];
  // Our runtimes whose "+stats" contender this run was asked for: its target is reported even
  // when it could not start (as not measured).
  const statsAttempted: string[] = [];
  const available: { spec: ContenderSpec; mode: Exclude<ProxyMode, "https"> }[] = [];
  for (const spec of discovery.specs) {
    if (!wanted(spec.name)) continue;
    for (const mode of spec.modes) {
      if (!modes.includes(mode)) continue;
      if (spec.stats) statsAttempted.push(spec.name.slice(0, -STATS_SUFFIX.length));
      const started = await startContender(spec, mode, origins.ports, setup);
      if ("unavailable" in started) {
        skipped.push(`${spec.name} ${mode}: skipped (${started.unavailable})`);
        log(`  ${skipped.at(-1)}`);
        continue;
      }
      if (spec.logging && receiver !== null && !(await checkLogging(started.port, receiver))) {
        await registry.stop(started.process);
        skipped.push(
          `${spec.name} ${mode}: skipped (no traffic line reached the log receiver within ${
            LOG_CHECK_TIMEOUT_MS / 1_000
          } s)`,
        );
        log(`  ${skipped.at(-1)}`);
        continue;
      }
      // A stats contender whose first scrape fails is measured all the same: its row then says
      // that the scrapes failed, rather than disappearing.
      const firstScrape = started.statsPort === null ? null : await scrapeOnce(started.statsPort);
      log(
        `  ${spec.name} ${mode}: listening on 127.0.0.1:${started.port}` +
          (spec.logging ? `, logging to udp://127.0.0.1:${setup.logPort}` : "") +
          (firstScrape === null
            ? ""
            : `, stats on 127.0.0.1:${started.statsPort} (${
              "failure" in firstScrape
                ? `first scrape FAILED: ${firstScrape.failure}`
                : `first scrape ${(firstScrape.bytes / 1024).toFixed(1)} kB`
            })`),
      );
      if (firstScrape !== null && "failure" in firstScrape) {
        incidents.push(`${spec.name} ${mode}: the first stats scrape failed: ${firstScrape.failure}`);
      }
      running.push({ contender: started, logging: spec.logging });
      // The memory scenario is about idle plain connections, which logging and stats do not change;
      // the peers are compared per request (see ContenderSpec.peer).
      if (!spec.logging && !spec.stats && !spec.peer && mode !== "https") available.push({ spec, mode });
    }
  }
  for (const line of discovery.skipped) log(`  ${line}`);

  const targets: Target[] = [
    ...(plainRows
      ? [{
        contender: ORIGIN_DIRECT_CONTENDER,
        mode: "direct" as const,
        port: origins.ports[0]!,
        process: origins.processes[0]!,
        logging: false,
        statsPort: null,
        failed: null,
      }]
      : []),
    ...running.map(({ contender, logging }) => ({
      contender: contender.name,
      mode: contender.mode,
      port: contender.port,
      process: contender.process,
      logging,
      statsPort: contender.statsPort,
      failed: null,
    })),
  ];

  const throughput = await runThroughputRounds(
    options,
    registry,
    targets,
    origins.processes.map((origin) => origin.pid),
    cpu,
    builtinRuntimePath,
    receiver,
    tls?.shimPath ?? null,
  );
  incidents.push(...throughput.incidents);
  for (const { contender } of running) await registry.stop(contender.process);
  await receiver?.close();
  const profiles = options.profileDirectory === null ? null : await takeProfiles({
    options,
    directory,
    projectRoot,
    setup,
    origins,
    cpu,
    machine,
    nodeBundle,
    measuredHttp: running.filter(({ contender }) => contender.mode === "http").map(({ contender }) => contender.name),
    measuredOurs: running.filter(({ contender }) => /^ours\/(node|bun|deno)$/.test(contender.name))
      .map(({ contender }) => ({ name: contender.name, mode: contender.mode })),
    specs: discovery.specs,
    wrkInstalled: builtinRuntimePath === null,
    notes,
  });
  incidents.push(...(profiles?.incidents ?? []));
  // Our proxy reports the lines it could not send on its stderr (on stop at the latest).
  const senderDrops = new Map<string, number | null>();
  for (const { contender, logging } of running) {
    if (!logging) continue;
    let dropped: number | null = null;
    if (contender.name.startsWith("ours/")) {
      try {
        dropped = proxyReportedDrops(readFileSync(contender.process.stderrPath, "utf8"));
      } catch {
        dropped = null;
      }
    }
    senderDrops.set(contender.name, dropped);
  }
  const logging = loggingCosts(throughput.samples, senderDrops);
  const lostLines = logging.filter((cost) =>
    (cost.kernelDrops ?? 0) > 0 || (cost.senderDrops ?? 0) > 0 ||
    (cost.linesReceived !== null && cost.linesReceived < cost.requests)
  );
  if (lostLines.length > 0) {
    notes.push(
      `traffic lines were lost for ${
        lostLines.map((cost) => cost.variant).join(", ")
      }: UDP loses lines when the receiver's buffer (${
        ((receiver?.receiveBufferBytes ?? 0) / 1048576).toFixed(1)
      } MB) is full ("lost in kernel") or the proxy's queue is ("dropped by proxy")`,
    );
  }

  const stats = statsCosts(throughput.samples);
  const summaries = summarize(throughput.samples);
  const noise = otherLoadSummary(throughput.samples);
  if (throughput.repeatedSamples > 0) {
    notes.push(
      `${throughput.repeatedSamples} measurements were taken again because other load exceeded ${
        MAX_QUIET_OTHER_LOAD * 100
      }% of a core (up to ${MAX_NOISY_REPEATS} repeats each; the quietest attempt is kept)`,
    );
  }
  if (noise !== null) {
    notes.push(
      `other load on the machine while wrk ran (processes not ours, hypervisor steal): median ${
        (noise.median * 100).toFixed(1)
      }% of a core per run, worst ${(noise.worst * 100).toFixed(1)}% (${noise.worstSample})`,
    );
  }
  const memory = idleConnections > 0
    ? await runMemoryScenario(idleConnections, available, origins, setup)
    : { results: [], incidents: [] };
  incidents.push(...memory.incidents);
  // Targets of modes this run left out would only say "not measured".
  const checks = checkTargets(summaries, memory.results, stats, statsAttempted, options.connections)
    .filter((check) => (modes as readonly string[]).includes(check.mode));

  const floors = floorComparisons(summaries);
  const floorMemory = floorMemoryComparisons(memory.results);

  log("");
  for (const body of TABLE_BODIES) {
    if (summaries.some((summary) => summary.body === body)) log(`${throughputTable(summaries, body)}\n`);
  }
  if (floors.length > 0) log(`${floorTable(floors)}\n`);
  if (logging.length > 0) log(`${loggingTable(logging)}\n`);
  if (stats.length > 0) log(`${statsCostTable(stats)}\n`);
  if (memory.results.length > 0) {
    log(`Idle connections (RSS of the proxy's process tree)\n\n${memoryTable(memory.results)}\n`);
  }
  if (floorMemory.length > 0) log(`${floorMemoryTable(floorMemory)}\n`);
  log(`Targets (goals of later work, not pass/fail criteria)\n\n${targetsTable(checks)}\n`);
  if (skipped.length > 0) log(`Skipped:\n${skipped.map((line) => `  ${line}`).join("\n")}\n`);
  if (notes.length > 0) log(`Notes:\n${notes.map((line) => `  ${line}`).join("\n")}\n`);
  if (incidents.length > 0) log(`Incidents:\n${incidents.map((line) => `  ${line}`).join("\n")}\n`);

  if (options.jsonPath !== null) {
    const report = {
      generatedAt: new Date().toISOString(),
      settings: {
        quick: options.quick,
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        rounds: options.rounds,
        connections: options.connections,
        idleConnections: options.idleConnections,
        idleConnectionsAttempted: idleConnections,
        proxyEnv: options.proxyEnv,
        only: options.only,
        modes,
        pinning: cpu.description,
        loadGenerator: builtinRuntimePath === null ? "wrk" : "built-in",
        origins: origins.kind,
        oursOnNode: nodeBundle === null ? `${OUR_ENTRY} (type stripping)` : "the Node bundle built for this run",
        profileDirectory: options.profileDirectory,
      },
      machine,
      summaries,
      samples: throughput.samples,
      repeatedSamples: throughput.repeatedSamples,
      memory: memory.results,
      tls: tls === null ? null : {
        certificate: BENCH_CERTIFICATE,
        fullHandshakeShim: tls.shimPath !== null,
        handshakeCheck: tls.check,
      },
      logging: receiver === null ? null : {
        receiverPort: receiver.port,
        receiveBufferBytes: receiver.receiveBufferBytes,
        costs: logging,
      },
      stats: statsAttempted.length === 0 ? null : {
        scrapeIntervalMs: SCRAPE_INTERVAL_MS,
        scrapePaths: [STATS_SCRAPE_PATHS.metrics, STATS_SCRAPE_PATHS.csv],
        costs: stats.map((cost) => ({ ...cost, failure: statsCostFailure(cost) })),
      },
      floors: { cpu: floors, memory: floorMemory },
      profiles: profiles === null ? null : {
        directory: options.profileDirectory,
        cpu: profiles.results,
        syscalls: profiles.syscallsPath,
      },
      targets: checks,
      skipped,
      notes,
      incidents,
    };
    writeFileSync(options.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    log(`JSON written to ${options.jsonPath}`);
  }
  return 0;
}

/** The https rows' certificate and wrk's full-handshake shim, once per run. */
type TlsSetup = { certificatePath: string; shimPath: string | null; check: HandshakeCount | null };

function prepareTls(projectRoot: string, directory: string, notes: string[]): TlsSetup {
  const shim = buildFullHandshakeShim(directory);
  if ("unavailable" in shim) {
    notes.push(
      `the full-handshake shim for wrk could not be built (${shim.unavailable}): wrk resumes TLS sessions, ` +
        "so the Connection: close rows over TLS mix full and resumed handshakes",
    );
  }
  return {
    certificatePath: join(projectRoot, BENCH_CERTIFICATE),
    shimPath: "path" in shim ? shim.path : null,
    check: null,
  };
}

/** Sends one request through a logging contender and waits for a traffic line to arrive. */
async function checkLogging(port: number, receiver: LogReceiver): Promise<boolean> {
  const before = receiver.counts().lines;
  try {
    const response = await fetch(`http://127.0.0.1:${port}${BODY_PATHS.small}`, {
      signal: AbortSignal.timeout(5_000),
    });
    await response.text();
  } catch {
    return false;
  }
  return await receiver.waitForLines(before, LOG_CHECK_TIMEOUT_MS);
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  return await runBenchmark("proxy-bench-", options.keepTemp, (registry, directory) => run(options, registry, directory));
}

process.exit(await main());
