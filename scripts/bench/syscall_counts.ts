/**
 * System calls per request (issue 21: "the number of write and setsockopt calls per request (count
 * them with `strace -c`)"): one more instance of each contender asked for, in http mode, with
 * `strace -c -f` attached for one wrk run on 16-byte responses.
 *
 * strace stops the process at every call, so these runs are several times slower than the
 * measured ones, and an event loop then finds fewer requests ready per wake-up: counts of
 * epoll_wait and friends per request are higher than unstraced; the reads, writes and socket
 * options per request are what they are.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BODY_PATHS } from "./bodies.ts";
import type { ContenderSetup, ContenderSpec } from "./contenders.ts";
import { startContender } from "./contenders.ts";
import type { TrackedProcess } from "./processes.ts";
import { markdownTable } from "./table.ts";
import { runWrk } from "./wrk.ts";

/** One line of `strace -c`'s table. */
export type SyscallCount = { syscall: string; calls: number; errors: number };

/** One contender's straced run. */
export type SyscallRun = {
  contender: string;
  requests: number;
  requestsPerSecond: number;
  counts: SyscallCount[];
};

/** How long strace may take to attach to every thread. */
const ATTACH_TIMEOUT_MS = 5_000;
/** How long strace may take to write its table once interrupted. */
const DETACH_TIMEOUT_MS = 10_000;
/** Rows of the table: the system calls with the most calls per request in any column. */
const TABLE_ROWS = 20;

/**
 * Parses the table `strace -c` writes ("% time seconds usecs/call calls errors syscall"); the
 * errors column is empty for a call that never failed, and the total line is left out.
 */
export function parseStraceSummary(text: string): SyscallCount[] {
  const counts: SyscallCount[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d+(\.\d+)?$/.test(fields[0]!)) continue;
    const syscall = fields.at(-1)!;
    if (syscall === "total" || !/^[a-z_0-9]+$/.test(syscall)) continue;
    counts.push({
      syscall,
      calls: Number(fields[3]),
      errors: fields.length >= 6 ? Number(fields[4]) : 0,
    });
  }
  return counts;
}

/** System calls per request, one column per contender, the busiest calls first, and their total. */
export function syscallTable(runs: readonly SyscallRun[], rows: number = TABLE_ROWS): string {
  const perRequest = (run: SyscallRun, syscall: string): number | null => {
    const count = run.counts.find((entry) => entry.syscall === syscall);
    return run.requests > 0 ? (count?.calls ?? 0) / run.requests : null;
  };
  const names = [...new Set(runs.flatMap((run) => run.counts.map((count) => count.syscall)))];
  const busiest = (syscall: string): number => Math.max(...runs.map((run) => perRequest(run, syscall) ?? 0));
  names.sort((a, b) => busiest(b) - busiest(a) || a.localeCompare(b));
  const cell = (value: number | null): string => value === null ? "-" : value.toFixed(2);
  const body = names.slice(0, rows).map((
    syscall,
  ) => [syscall, ...runs.map((run) => cell(perRequest(run, syscall)))]);
  body.push([
    "all calls",
    ...runs.map((run) =>
      cell(run.requests > 0 ? run.counts.reduce((sum, count) => sum + count.calls, 0) / run.requests : null)
    ),
  ]);
  body.push(["requests (under strace)", ...runs.map((run) => run.requests.toLocaleString("en-US"))]);
  body.push([
    "req/s (under strace)",
    ...runs.map((run) => Math.round(run.requestsPerSecond).toLocaleString("en-US")),
  ]);
  const columns = runs.map((_, index) => index + 1);
  return markdownTable(
    ["syscall, calls per request", ...runs.map((run) => run.contender)],
    body,
    new Set(columns),
  );
}

/** What the straced runs need. */
export type SyscallCountSetup = {
  contenderSetup: ContenderSetup;
  originPorts: readonly number[];
  /** Where strace writes its tables. */
  directory: string;
  durationSeconds: number;
  connections: number;
  clientCpuList: string | null;
};

async function waitForTracer(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (/^TracerPid:\s*[1-9]/m.test(status)) return true;
    } catch {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

async function stopStrace(strace: TrackedProcess): Promise<void> {
  try {
    process.kill(strace.pid, "SIGINT");
  } catch {
    // already gone
  }
  await Promise.race([strace.exited, new Promise((resolve) => setTimeout(resolve, DETACH_TIMEOUT_MS))]);
}

/** Straces one run of each spec in http mode; a contender that fails is an incident, the others still run. */
export async function countSyscalls(
  specs: readonly ContenderSpec[],
  setup: SyscallCountSetup,
): Promise<{ runs: SyscallRun[]; incidents: string[] }> {
  const runs: SyscallRun[] = [];
  const incidents: string[] = [];
  const { registry } = setup.contenderSetup;
  for (const spec of specs) {
    const started = await startContender(spec, "http", setup.originPorts, setup.contenderSetup);
    if ("unavailable" in started) {
      incidents.push(`strace ${spec.name} http: ${started.unavailable}`);
      continue;
    }
    const outputPath = join(setup.directory, `strace-${spec.name.replace(/[^a-z0-9]+/gi, "-")}-http.txt`);
    const strace = registry.spawn({
      name: `strace ${spec.name}`,
      command: "strace",
      // -f with -p attaches every thread of the process, not only its main one.
      args: ["-c", "-f", "-o", outputPath, "-p", String(started.process.pid)],
      cpuList: setup.clientCpuList,
      raiseFileLimit: false,
    });
    try {
      if (!(await waitForTracer(started.process.pid, ATTACH_TIMEOUT_MS))) {
        incidents.push(`strace ${spec.name} http: strace did not attach within ${ATTACH_TIMEOUT_MS} ms`);
        continue;
      }
      const { result } = await runWrk(registry, {
        port: started.port,
        path: BODY_PATHS.small,
        durationSeconds: setup.durationSeconds,
        connections: setup.connections,
        cpuList: setup.clientCpuList,
        builtinRuntimePath: null,
      });
      await stopStrace(strace);
      const counts = parseStraceSummary(readFileSync(outputPath, "utf8"));
      if (counts.length === 0) {
        incidents.push(`strace ${spec.name} http: no table in "${outputPath}"`);
        continue;
      }
      runs.push({
        contender: spec.name,
        requests: result.requests,
        requestsPerSecond: result.requestsPerSecond,
        counts,
      });
    } catch (error) {
      incidents.push(`strace ${spec.name} http: ${(error as Error).message}`);
    } finally {
      if (strace.exitDescription === null) await stopStrace(strace);
      await registry.stop(started.process);
    }
  }
  return { runs, incidents };
}
