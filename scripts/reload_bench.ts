/**
 * Reload under load (issue 8): a client keeps a steady request load on the proxy while it is
 * reloaded N times with -sf and N times through the -W master (SIGUSR2), with
 * net.ipv4.tcp_migrate_req off and on, for our proxy on Node, Bun and Deno and for HAProxy as the
 * reference; every failed request is counted by kind. See docs/operations.md for the method and
 * the results, and `--help` for the options.
 *
 * Run as root with Node 24 (it strips the types): `node_modules/.bin/node scripts/reload_bench.ts`.
 * The sysctl is written through /proc and put back as it was on every way out; every process the
 * benchmark starts is stopped, also on Ctrl-C.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "node:net";
import { describeMachine } from "./bench/machine.ts";
import { startOrigins } from "./bench/origins.ts";
import type { Origins } from "./bench/origins.ts";
import { childFileLimit } from "./bench/file_limits.ts";
import { log, runBenchmark, runInterrupted } from "./bench/benchmark_run.ts";
import { freePort, hasCommand, lastErrorLines } from "./bench/processes.ts";
import type { ProcessRegistry } from "./bench/processes.ts";
import type { TrackedProcess } from "./bench/processes.ts";
import { ReloadableProxy } from "./bench/reload_contenders.ts";
import { ResponseReader } from "./bench/reload_http.ts";
import type { ProxyMode } from "./bench/reload_contenders.ts";
import type { ReloadBenchOptions, ReloadContender } from "./bench/reload_options.ts";
import { parseReloadOptions, USAGE } from "./bench/reload_options.ts";
import type { ClientReport, LoadKind, ReloadMode, ReloadWindow, RunResult } from "./bench/reload_results.ts";
import {
  attributeFailures,
  formatFailureKinds,
  parseClientReport,
  resultsTable,
  runResult,
} from "./bench/reload_results.ts";
import { MigrateReqGuard } from "./bench/reload_sysctl.ts";

/** Steady load before the first reload: the proxy is warm and the client at full pace. */
const WARMUP_MS = 1_000;
/** Steady load after the last reload's interval, so that late failures are still counted. */
const TAIL_MS = 500;
/** A failure up to this long after the old process exited still belongs to that reload. */
const ATTRIBUTION_GRACE_MS = 1_000;
/** How long the request that checks a new proxy forwards may take. */
const CHECK_TIMEOUT_MS = 5_000;
/** How long the client may take to report after being told to stop (beyond its request timeout). */
const CLIENT_REPORT_MARGIN_MS = 5_000;


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One run's details kept for the JSON report. */
type RunRecord = { result: RunResult; windows: ReloadWindow[]; report: ClientReport };

type RunSetup = {
  options: ReloadBenchOptions;
  registry: ProcessRegistry;
  directory: string;
  projectRoot: string;
  origins: Origins;
  clientScript: string;
};

/**
 * Sends one request through the proxy on a connection that closes after it: a kept-alive check
 * connection (fetch keeps one for seconds) would hold a tcp-mode proxy's first graceful stop.
 */
function checkForwarding(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const reader = new ResponseReader();
    const socket = connect({ host: "127.0.0.1", port });
    const fail = (message: string): void => {
      socket.destroy();
      reject(new Error(message));
    };
    socket.setTimeout(
      CHECK_TIMEOUT_MS,
      () => fail(`GET / through the proxy: no answer within ${CHECK_TIMEOUT_MS} ms`),
    );
    socket.on(
      "connect",
      () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (chunk: Buffer) => {
      try {
        if (!reader.push(chunk)) return;
      } catch (error) {
        fail(`GET / through the proxy: ${(error as Error).message}`);
        return;
      }
      socket.end();
      if (reader.status === 200) resolve();
      else fail(`GET / through the proxy answered ${reader.status}`);
    });
    socket.on("error", (error) => fail(`GET / through the proxy: ${error.message}`));
    socket.on("close", () => {
      if (!reader.complete) fail("GET / through the proxy: the connection closed before a complete answer");
    });
  });
}

async function collectReport(
  registry: ProcessRegistry,
  client: TrackedProcess,
  timeoutMs: number,
): Promise<ClientReport> {
  if (client.exitDescription !== null) {
    throw new Error(
      `the load client exited early (${client.exitDescription}): ${lastErrorLines(client, 3).join(" | ")}`,
    );
  }
  process.kill(client.pid, "SIGUSR2");
  const limit = timeoutMs + CLIENT_REPORT_MARGIN_MS;
  const outcome = await Promise.race([client.exited, sleep(limit).then(() => null)]);
  if (outcome === null) {
    await registry.stop(client);
    throw new Error(`the load client did not report within ${limit} ms`);
  }
  return parseClientReport(readFileSync(client.stdoutPath, "utf8"));
}

async function measureRun(
  setup: RunSetup,
  contender: ReloadContender,
  reloadMode: ReloadMode,
  proxyMode: ProxyMode,
  load: LoadKind,
  migrateReq: number,
): Promise<RunRecord | { skipped: string } | { failed: string }> {
  const { options, registry } = setup;
  const port = await freePort();
  const proxy = new ReloadableProxy({
    contender,
    reloadMode,
    proxyMode,
    port,
    backends: setup.origins.ports.map((originPort) => `127.0.0.1:${originPort}`),
    directory: setup.directory,
    projectRoot: setup.projectRoot,
    registry,
  });
  const label = `${proxy.label} ${load} tcp_migrate_req=${migrateReq}`;
  let client: TrackedProcess | null = null;
  try {
    try {
      await proxy.start();
      await checkForwarding(port);
    } catch (error) {
      return { skipped: `${label}: skipped (${(error as Error).message})` };
    }
    client = registry.spawn({
      name: `client ${label}`,
      command: process.execPath,
      args: [setup.clientScript, String(port), String(options.connections), load, String(options.timeoutMs)],
      cpuList: null,
      raiseFileLimit: true,
    });
    const loadStartedAt = Date.now();
    await sleep(WARMUP_MS);
    const windows: ReloadWindow[] = [];
    const incidents: string[] = [];
    for (let index = 0; index < options.reloads && !runInterrupted(); index++) {
      const outcome = await proxy.reload();
      windows.push({ startedAt: outcome.startedAt, finishedAt: outcome.finishedAt });
      if (outcome.problem !== null) {
        incidents.push(`reload ${index + 1}: ${outcome.problem}`);
        log(`    ! reload ${index + 1}: ${outcome.problem}`);
      }
      if (!proxy.alive) {
        incidents.push(`reload ${index + 1}: no process serves any more; the run stops here`);
        break;
      }
      await sleep(options.intervalMs);
    }
    await sleep(TAIL_MS);
    const report = await collectReport(registry, client, options.timeoutMs);
    const wallSeconds = (report.stoppedAt - loadStartedAt) / 1_000;
    // Read before stopping: what the processes print about our own SIGTERM is no incident.
    incidents.push(...proxy.errorLines());
    await proxy.stop();
    if (report.cutShort) incidents.push("some requests were still unanswered when the client stopped");
    if (report.samplesDropped > 0) {
      incidents.push(
        `${report.samplesDropped} failures beyond the first ${report.samples.length} are not placed in time`,
      );
    }
    const result = runResult(
      {
        contender: contender === "haproxy" ? "haproxy" : `ours/${contender}`,
        reloadMode,
        proxyMode,
        migrateReq,
        load,
        reloadsAsked: options.reloads,
      },
      report,
      windows,
      wallSeconds,
      incidents,
      ATTRIBUTION_GRACE_MS,
    );
    const attribution = attributeFailures(report.samples, windows, ATTRIBUTION_GRACE_MS);
    log(
      `  ${label.padEnd(44)} ${result.reloadsDone}/${result.reloadsAsked} reloads, ` +
        `${result.requests.toLocaleString("en-US")} requests, ${result.failed} failed` +
        (result.failed > 0 ? ` (${formatFailureKinds(result.failures)})` : "") +
        `, ${wallSeconds.toFixed(1)} s` +
        (result.failed > 0
          ? `; per reload [${attribution.perReload.join(" ")}], outside reloads ${attribution.outside}`
          : ""),
    );
    return { result, windows, report };
  } catch (error) {
    if (runInterrupted()) throw error;
    return { failed: `${label}: failed (${(error as Error).message})` };
  } finally {
    // A client left running would load the next run's proxy too.
    if (client !== null) await registry.stop(client);
    await proxy.stop();
  }
}

async function run(
  options: ReloadBenchOptions,
  registry: ProcessRegistry,
  directory: string,
  guard: MigrateReqGuard,
): Promise<number> {
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const machine = describeMachine(projectRoot);
  const notes: string[] = [];
  const skipped: string[] = [];
  const failed: string[] = [];
  log(`Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.memoryTotal}, ${machine.kernel}`);
  log(
    `Versions: ${Object.entries(machine.versions).map(([tool, version]) => `${tool} ${version}`).join("; ")}`,
  );
  log(
    `Settings: ${options.reloads} reloads per run, ${options.connections} client loops, ` +
      `${options.intervalMs} ms between reloads, ${options.timeoutMs} ms request timeout, ` +
      `tcp_migrate_req ${options.migrateReq.join(" then ")} (found ${guard.original ?? "not available"})`,
  );

  const contenders = options.contenders.filter((contender) => {
    if (contender === "haproxy" && !hasCommand("haproxy")) {
      skipped.push("haproxy: skipped (not installed: apt-get install -y haproxy)");
      return false;
    }
    return true;
  });

  const limits = { clientConnections: options.connections + 100, fileLimit: childFileLimit() };
  const origins = await startOrigins({
    registry,
    directory,
    nginxPath: hasCommand("nginx") ? "nginx" : null,
    cpuList: null,
    limits,
    runtimePath: process.execPath,
  });
  notes.push(origins.note);
  const setup: RunSetup = {
    options,
    registry,
    directory,
    projectRoot,
    origins,
    clientScript: join(projectRoot, "scripts", "bench", "reload_client.ts"),
  };

  const records: RunRecord[] = [];
  for (const migrateReq of options.migrateReq) {
    if (runInterrupted()) break;
    const problem = guard.set(migrateReq);
    if (problem !== null) {
      skipped.push(`tcp_migrate_req=${migrateReq}: not measured (${problem})`);
      log(`\n${skipped.at(-1)}`);
      continue;
    }
    log(`\nnet.ipv4.tcp_migrate_req = ${migrateReq}`);
    for (const contender of contenders) {
      for (const reloadMode of options.reloadModes) {
        for (const proxyMode of options.proxyModes) {
          // A tcp session cannot be told to close, so a kept-alive client only ends at hard-stop-after.
          const loads = proxyMode === "tcp"
            ? options.loads.filter((load) => load === "close")
            : options.loads;
          for (const load of loads) {
            if (runInterrupted()) break;
            const outcome = await measureRun(setup, contender, reloadMode, proxyMode, load, migrateReq);
            if ("failed" in outcome) {
              failed.push(outcome.failed);
              log(`  ! ${outcome.failed}`);
            } else if ("skipped" in outcome) {
              skipped.push(outcome.skipped);
              log(`  ${outcome.skipped}`);
            } else records.push(outcome);
          }
        }
      }
    }
  }
  const restoreProblem = guard.restore();
  if (restoreProblem !== null) notes.push(`tcp_migrate_req not restored: ${restoreProblem}`);
  else if (guard.original !== null) notes.push(`tcp_migrate_req restored to ${guard.original}`);
  if (options.proxyModes.includes("tcp") && options.loads.includes("keepalive")) {
    notes.push("tcp mode runs the close load only: a kept-alive tcp session ends only at hard-stop-after");
  }

  const results = records.map((record) => record.result);
  log("");
  if (results.length > 0) log(`${resultsTable(results)}\n`);
  if (skipped.length > 0) log(`Skipped:\n${skipped.map((line) => `  ${line}`).join("\n")}\n`);
  if (notes.length > 0) log(`Notes:\n${notes.map((line) => `  ${line}`).join("\n")}\n`);
  const incidents = [
    ...failed,
    ...results.flatMap((result) =>
      result.incidents.map((line) =>
        `${result.contender} ${result.reloadMode} ${result.load} ${result.migrateReq}: ${line}`
      )
    ),
  ];
  if (incidents.length > 0) log(`Incidents:\n${incidents.map((line) => `  ${line}`).join("\n")}\n`);

  if (options.jsonPath !== null) {
    writeFileSync(
      options.jsonPath,
      `${
        JSON.stringify(
          {
            generatedAt: new Date().toISOString(),
            options,
            machine,
            origins: origins.kind,
            runs: records,
            skipped,
            failed,
            notes,
          },
          null,
          2,
        )
      }\n`,
    );
    log(`JSON written to ${options.jsonPath}`);
  }
  // A run that failed or a reload that did not complete is a finding to look at: exit 1.
  return failed.length > 0 || results.some((result) => result.reloadsDone < result.reloadsAsked) ? 1 : 0;
}

async function main(): Promise<number> {
  let options: ReloadBenchOptions;
  try {
    options = parseReloadOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const guard = new MigrateReqGuard();
  return await runBenchmark(
    "proxy-reload-bench-",
    options.keepTemp,
    (registry, directory) => run(options, registry, directory, guard),
    () => {
      const problem = guard.restore();
      return problem === null ? null : `Could not restore tcp_migrate_req: ${problem}`;
    },
  );
}

process.exit(await main());
