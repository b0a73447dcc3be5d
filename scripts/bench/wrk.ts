/**
 * Runs wrk against a loopback port and parses what it prints; without wrk, runs the built-in
 * load generator, which prints the same format.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ProcessRegistry } from "./processes.ts";
import { runToCompletion } from "./processes.ts";
import type { WrkResult } from "./wrk_output.ts";
import { parseWrkOutput } from "./wrk_output.ts";

/** One wrk run. */
export type WrkRequest = {
  port: number;
  path: string;
  durationSeconds: number;
  connections: number;
  cpuList: string | null;
  /** null runs wrk; otherwise the runtime that runs the built-in load generator. */
  builtinRuntimePath: string | null;
};

/** One wrk thread: the client has one core of its own, and a second thread would only share it. */
const WRK_THREADS = 1;
/** A request slower than this counts as a timeout error rather than stalling the run. */
const WRK_TIMEOUT = "5s";
/** Slack beyond the run's duration before wrk is considered hung and stopped. */
const HANG_MARGIN_MS = 30_000;

function wrkArguments(request: WrkRequest): string[] {
  return [
    "-t",
    String(WRK_THREADS),
    "-c",
    String(request.connections),
    "-d",
    `${request.durationSeconds}s`,
    "--timeout",
    WRK_TIMEOUT,
    "--latency",
    `http://127.0.0.1:${request.port}${request.path}`,
  ];
}

function builtinArguments(request: WrkRequest): string[] {
  const script = join(dirname(fileURLToPath(import.meta.url)), "builtin_load.ts");
  return [
    script,
    String(request.port),
    request.path,
    String(request.durationSeconds),
    String(request.connections),
  ];
}

/** Runs the load generator to completion; throws with its own words when it did not complete a run. */
export async function runWrk(
  registry: ProcessRegistry,
  request: WrkRequest,
): Promise<{ text: string; result: WrkResult }> {
  const useWrk = request.builtinRuntimePath === null;
  const name = useWrk ? "wrk" : "built-in load generator";
  const { stdout, stderr, exit } = await runToCompletion(registry, {
    name,
    command: request.builtinRuntimePath ?? "wrk",
    args: useWrk ? wrkArguments(request) : builtinArguments(request),
    cpuList: request.cpuList,
    raiseFileLimit: false,
  }, request.durationSeconds * 1_000 + HANG_MARGIN_MS);
  const text = stdout + stderr;
  try {
    return { text, result: parseWrkOutput(text) };
  } catch (error) {
    const firstLine = text.trim().split("\n")[0] ?? "";
    throw new Error(`${name} failed (${exit}): ${firstLine || (error as Error).message}`);
  }
}
