/**
 * `workers` and `cpu-map`: how many processes serve, and which cores each one is pinned to
 * (HAProxy's `nbthread` and `cpu-map`).
 *
 * Core numbers are checked against `cpuCount()`, the number of cores this process may run on: on
 * a machine whose cores are all available, that is every core number. A proxy started inside a
 * narrower set (`taskset -c 2,3`, a container's cpuset) sees fewer cores numbered from 0 and may be
 * refused a core that is not in its set: the kernel's error is then reported when pinning.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { CpuMapConfig, GlobalConfig } from "../config/types.ts";
import { LifecycleError } from "./errors.ts";

/** Worker processes to run: `workers`, with "auto" meaning one per core this process may use. */
export function workerCount(global: GlobalConfig, runtime: Runtime): number {
  return global.workers === "auto" ? runtime.cpuCount() : global.workers;
}

/**
 * The cores worker number `worker` (1-based) is pinned to, or null when it is not pinned:
 * "auto" gives worker N core N-1, wrapping round the cores; explicit sets give the worker's own
 * set, else the `all` set.
 */
export function coresOfWorker(cpuMap: CpuMapConfig | null, worker: number, cpuCount: number): readonly number[] | null {
  if (cpuMap === null) return null;
  if (cpuMap === "auto") return [(worker - 1) % cpuCount];
  return cpuMap.byWorker[worker] ?? cpuMap.all;
}

/**
 * Checks at start that `cpu-map` can be applied here: the runtime can pin, and every core named
 * exists. Throws a LifecycleError saying what to change.
 */
export function checkCpuMap(global: GlobalConfig, runtime: Runtime): void {
  const cpuMap = global.cpuMap;
  if (cpuMap === null) return;
  if (!runtime.info.affinity) {
    const { name, version, os } = runtime.info;
    throw new LifecycleError(
      "LIFECYCLE_AFFINITY",
      `"cpu-map" cannot be applied: ${name} ${version} cannot pin processes to cores on ${os} (${affinityHint(runtime)}); ` +
        `remove "cpu-map" from [global], or pin the whole proxy with taskset`,
    );
  }
  if (cpuMap === "auto") return;
  const cpuCount = runtime.cpuCount();
  const sets: [string, readonly number[] | null][] = [
    ["all", cpuMap.all],
    ...Object.entries(cpuMap.byWorker).map(([worker, cores]): [string, readonly number[]] => [worker, cores]),
  ];
  for (const [key, cores] of sets) {
    const missing = cores?.find((core) => core >= cpuCount);
    if (missing !== undefined) {
      throw new LifecycleError(
        "LIFECYCLE_AFFINITY",
        `Core ${missing} (global.cpu-map.${key}) does not exist here: this process may run on ${cpuCount} ` +
          `${cpuCount === 1 ? "core (0)" : `cores (0 to ${cpuCount - 1})`}`,
      );
    }
  }
}

/**
 * Pins process `pid` to `cores` and says so ("Worker 2 (pid 4242) pinned to cores 1");
 * `label` names the process. Throws a LifecycleError when the runtime or the kernel refused.
 */
export function pinProcess(runtime: Runtime, pid: number, cores: readonly number[], logger: Logger, label: string): void {
  try {
    runtime.setAffinity(pid, cores);
  } catch (error) {
    throw new LifecycleError(
      "LIFECYCLE_AFFINITY",
      `Cannot apply "cpu-map" to ${label}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  logger.info(`${label} pinned to ${cores.length === 1 ? "core" : "cores"} ${formatCores(cores)}`);
}

/**
 * `cpu-map` for a process serving on its own (`workers = 1`, no -W): checks it, and pins this
 * process as worker 1. Called before binding, so the runtime's threads started later inherit the set.
 */
export function pinStandalone(global: GlobalConfig, runtime: Runtime, logger: Logger): void {
  checkCpuMap(global, runtime);
  const cores = coresOfWorker(global.cpuMap, 1, runtime.cpuCount());
  if (cores !== null) pinProcess(runtime, runtime.pid, cores, logger, `Proxy (pid ${runtime.pid})`);
}

/** Sorted core numbers as `cpu-map` writes them: "0-3,6". */
export function formatCores(cores: readonly number[]): string {
  const sorted = [...new Set(cores)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let index = 0; index < sorted.length;) {
    const first = sorted[index]!;
    let last = first;
    while (index + 1 < sorted.length && sorted[index + 1] === last + 1) last = sorted[++index]!;
    parts.push(first === last ? `${first}` : last === first + 1 ? `${first},${last}` : `${first}-${last}`);
    index++;
  }
  return parts.join(",");
}

/** Why this runtime cannot pin here, and what would let it. */
function affinityHint(runtime: Runtime): string {
  const { name, os } = runtime.info;
  if (os !== "linux") return "pinning is implemented with sched_setaffinity, on Linux only";
  if (name === "node") return "Node has no FFI to call sched_setaffinity; run the proxy under Bun or Deno";
  if (name === "deno") return "Deno needs --allow-ffi to call sched_setaffinity";
  return "the runtime cannot call sched_setaffinity";
}
