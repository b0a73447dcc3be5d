/**
 * A dead server under load (issue 17, section 3): three origins behind the proxy, wrk -c32, and
 * one origin killed with SIGKILL in the middle of the run; the failed requests, the latency and
 * how long the proxy took to mark the server down, for our proxy on Node, Bun and Deno and for
 * HAProxy (retries, redispatch and checks alike) in the same run. See docs/performance.md for the
 * method and the figures, and `--help` for the options.
 *
 * Run with Node 24 (it strips the types): `node_modules/.bin/node scripts/dead_server_bench.ts`.
 * Every process it starts is stopped, also on Ctrl-C.
 *
 * @module
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChecksSetting, DeadServerContender, DeadServerMode, DeadServerOptions, DeadServerResult } from "./bench/dead_server.ts";
import {
  CHECK_INTERVAL_S,
  deadServerTable,
  haproxyDeadServerConfig,
  ORIGIN_COUNT,
  ourDeadServerConfig,
  parseDeadServerOptions,
  saysServerDown,
  USAGE,
  VICTIM_NAME,
} from "./bench/dead_server.ts";
import { childFileLimit } from "./bench/file_limits.ts";
import { describeMachine } from "./bench/machine.ts";
import { startOrigins } from "./bench/origins.ts";
import { processTree } from "./bench/proc_tree.ts";
import { firstOutputLine, freePort, hasCommand, lastErrorLines, ProcessRegistry, waitUntilListening } from "./bench/processes.ts";
import type { TrackedProcess } from "./bench/processes.ts";
import { runWrk } from "./bench/wrk.ts";

/** How long a proxy may take to listen (Deno compiles the TypeScript on its first start). */
const START_TIMEOUT_MS = 30_000;
/** How often the proxy's standard error is read for the DOWN line after the kill. */
const POLL_MS = 5;

/** Set once a signal asked us to stop: the run winds down quietly while its children are stopped. */
let interrupted = false;

function log(line: string): void {
  if (!interrupted) console.log(line);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type RunSetup = {
  options: DeadServerOptions;
  registry: ProcessRegistry;
  directory: string;
  projectRoot: string;
  nginxPath: string | null;
  builtinLoadRuntime: string | null;
};

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The command line of one contender on a configuration file. */
function contenderCommand(contender: DeadServerContender, projectRoot: string, configPath: string): { command: string; args: string[] } {
  if (contender === "haproxy") return { command: "haproxy", args: ["-db", "-f", configPath] };
  const binary = join(projectRoot, "node_modules", ".bin", contender);
  const entry = join(projectRoot, "src", "main.ts");
  return { command: binary, args: contender === "deno" ? ["run", "-A", entry, "-f", configPath] : [entry, "-f", configPath] };
}

/** Kills a process and its descendants at once with SIGKILL (nginx's worker too), as a crash would. */
function killTree(tracked: TrackedProcess): void {
  for (const pid of processTree(tracked.pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Reads the proxy's standard error until it says the victim is down; resolves with the time, or null once `until` resolved. */
async function watchForDown(proxy: TrackedProcess, killedAt: number, until: { done: boolean }): Promise<number | null> {
  while (!until.done) {
    if (saysServerDown(readText(proxy.stderrPath), VICTIM_NAME)) return Math.round(performance.now() - killedAt);
    await sleep(POLL_MS);
  }
  return saysServerDown(readText(proxy.stderrPath), VICTIM_NAME) ? Math.round(performance.now() - killedAt) : null;
}

/** Starts the origins and the contender, runs the baseline (when asked) and the run with the kill; one result each. */
async function runContender(
  setup: RunSetup,
  contender: DeadServerContender,
  mode: DeadServerMode,
  checks: ChecksSetting,
): Promise<DeadServerResult[]> {
  const { options, registry, directory } = setup;
  const outcome = (killed: boolean): DeadServerResult => ({ contender, mode, checks, killed, wrk: null, downAfterMs: null, problem: null });
  const origins = await startOrigins({
    registry,
    directory,
    nginxPath: setup.nginxPath,
    cpuList: null,
    limits: { clientConnections: 1_024, fileLimit: childFileLimit() },
    runtimePath: process.execPath,
  }, ORIGIN_COUNT);
  let proxy: TrackedProcess | null = null;
  try {
    const port = await freePort();
    const backends = origins.ports.map((originPort) => `127.0.0.1:${originPort}`);
    const configPath = join(directory, `${contender}-${mode}-${checks}-${port}.${contender === "haproxy" ? "cfg" : "toml"}`);
    writeFileSync(
      configPath,
      contender === "haproxy"
        ? haproxyDeadServerConfig(mode, port, backends, checks)
        : ourDeadServerConfig(mode, port, backends, checks),
    );
    const { command, args } = contenderCommand(contender, setup.projectRoot, configPath);
    proxy = registry.spawn({ name: `${contender} ${mode}`, command, args, cwd: setup.projectRoot, cpuList: null, raiseFileLimit: true });
    try {
      await waitUntilListening(proxy, port, START_TIMEOUT_MS);
    } catch (error) {
      const failed = outcome(true);
      failed.problem = `failed to start: ${proxy.exitDescription !== null ? firstOutputLine(proxy) : (error as Error).message}`;
      return [failed];
    }
    // Every server checked once (the first checks are spread over one interval): the counters are
    // at their steady top, as on a proxy that has been running for a while.
    if (checks === "on") await sleep(CHECK_INTERVAL_S * 1_000 + 500);
    const results: DeadServerResult[] = [];
    const wrkRequest = {
      port,
      path: "/",
      durationSeconds: options.durationSeconds,
      connections: options.connections,
      cpuList: null,
      builtinRuntimePath: setup.builtinLoadRuntime,
    };
    if (options.baseline) {
      const baseline = outcome(false);
      try {
        baseline.wrk = (await runWrk(registry, wrkRequest)).result;
      } catch (error) {
        baseline.problem = (error as Error).message;
      }
      results.push(baseline);
    }
    const result = outcome(true);
    const load = runWrk(registry, wrkRequest);
    const loadEnded = { done: false };
    void load.finally(() => (loadEnded.done = true)).catch(() => {});
    await sleep(options.killAfterSeconds * 1_000);
    const killedAt = performance.now();
    killTree(origins.processes[ORIGIN_COUNT - 1]!);
    const down = watchForDown(proxy, killedAt, loadEnded);
    try {
      result.wrk = (await load).result;
    } catch (error) {
      result.problem = (error as Error).message;
    }
    result.downAfterMs = await down;
    if (proxy.exitDescription !== null) {
      result.problem = `the proxy exited (${proxy.exitDescription}): ${lastErrorLines(proxy, 3).join(" / ")}`;
    }
    results.push(result);
    return results;
  } finally {
    if (proxy !== null) await registry.stop(proxy);
    for (const origin of origins.processes) await registry.stop(origin);
  }
}

async function main(): Promise<number> {
  let options: DeadServerOptions;
  try {
    options = parseDeadServerOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    console.error(USAGE);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const directory = mkdtempSync(join(tmpdir(), "dead-server-bench-"));
  const registry = new ProcessRegistry(directory);
  const stop = (): void => {
    interrupted = true;
    void registry.stopAll().finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("exit", () => registry.killAllNow());

  const contenders = options.contenders.filter((contender) => {
    if (contender === "haproxy" && !hasCommand("haproxy")) {
      log("haproxy: skipped (not installed: apt-get install -y haproxy)");
      return false;
    }
    return true;
  });
  const builtinLoadRuntime = hasCommand("wrk") ? null : process.execPath;
  if (builtinLoadRuntime !== null) {
    log("wrk is not installed (apt-get install -y wrk): the built-in load generator drives the runs; its latencies are its own");
  }
  const nginxPath = hasCommand("nginx") ? "nginx" : null;
  const machine = describeMachine(projectRoot);
  log(`# A dead server under load: ${ORIGIN_COUNT} origins (${nginxPath !== null ? "nginx" : "built-in"}), ${VICTIM_NAME} killed with SIGKILL ` +
    `${options.killAfterSeconds} s into each ${options.durationSeconds} s run, ${options.connections} connections`);
  log(`machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.kernel}; ${machine.versions.haproxy}; wrk ${machine.versions.wrk}`);
  log("");

  const setup: RunSetup = { options, registry, directory, projectRoot, nginxPath, builtinLoadRuntime };
  const results: DeadServerResult[] = [];
  try {
    for (const mode of options.modes) {
      for (const checks of options.checks) {
        for (const contender of contenders) {
          if (interrupted) break;
          log(`${contender} ${mode}, checks ${checks}...`);
          for (const result of await runContender(setup, contender, mode, checks)) {
            if (result.problem !== null) log(`  ${result.problem}`);
            results.push(result);
          }
        }
      }
    }
  } finally {
    await registry.stopAll();
  }
  log("");
  log(deadServerTable(results));
  if (options.jsonPath !== null) {
    writeFileSync(options.jsonPath, JSON.stringify({ options, machine, loadGenerator: builtinLoadRuntime === null ? "wrk" : "built-in", results }, null, 2));
  }
  rmSync(directory, { recursive: true, force: true });
  return 0;
}

process.exitCode = await main();
