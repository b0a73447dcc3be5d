/**
 * The frame of a benchmark script's run: a temporary directory for configs and logs, a process
 * registry, and every way out (return, exception, SIGINT/SIGTERM/SIGHUP, process exit) stopping
 * every process the run started and removing the directory unless asked to keep it.
 *
 * @module
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessRegistry } from "./processes.ts";

/** Set once a signal asked the run to stop: it winds down quietly while its children are stopped. */
let interrupted = false;

/** True once a signal asked the run to stop. */
export function runInterrupted(): boolean {
  return interrupted;
}

/** Prints a line unless the run is being interrupted. */
export function log(line: string): void {
  if (!interrupted) console.log(line);
}

/**
 * Runs `body` with a fresh registry and temporary directory (named `prefix`...), and resolves with
 * its exit code: 1 when it threw, 130 when a signal stopped it. `restore` (a sysctl put back...) runs
 * on every way out, and may say what it could not do.
 */
export async function runBenchmark(
  prefix: string,
  keepTemp: boolean,
  body: (registry: ProcessRegistry, directory: string) => Promise<number>,
  restore: () => string | null = () => null,
): Promise<number> {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  const registry = new ProcessRegistry(directory);
  const removeTemporaryFiles = (): void => {
    if (keepTemp) console.log(`Temporary files kept in ${directory}`);
    else rmSync(directory, { recursive: true, force: true });
  };
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nReceived ${signal}: stopping every process this benchmark started`);
    restore();
    void registry.stopAll().finally(() => {
      removeTemporaryFiles();
      process.exit(130);
    });
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, stopOnSignal);
  // Whatever path leads out, no child may outlive us, and what was changed goes back.
  process.on("exit", () => {
    registry.killAllNow();
    restore();
  });
  try {
    return await body(registry, directory);
  } catch (error) {
    if (interrupted) return 130;
    console.error(`Benchmark failed: ${(error as Error).stack ?? error}`);
    return 1;
  } finally {
    await registry.stopAll();
    const problem = restore();
    if (problem !== null) console.error(problem);
    if (!interrupted) removeTemporaryFiles();
  }
}
