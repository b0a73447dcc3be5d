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
  /** Speak HTTPS (wrk only: the built-in load generator has no TLS); default false. */
  tls?: boolean;
  /** Send `Connection: close`: one connection (over TLS one handshake) per request; default false. */
  closeEachConnection?: boolean;
  /** A shared object for LD_PRELOAD (see tls_client.ts); default none. */
  preloadPath?: string | null;
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

/** wrk's command line for one run. */
export function wrkArguments(request: Omit<WrkRequest, "cpuList" | "builtinRuntimePath" | "preloadPath">): string[] {
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
    ...(request.closeEachConnection === true ? ["-H", "Connection: close"] : []),
    `${request.tls === true ? "https" : "http"}://127.0.0.1:${request.port}${request.path}`,
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
  const preloadPath = request.preloadPath ?? null;
  const name = useWrk ? "wrk" : "built-in load generator";
  if (!useWrk && (request.tls === true || request.closeEachConnection === true)) {
    throw new Error("The built-in load generator speaks neither TLS nor Connection: close");
  }
  const { stdout, stderr, exit } = await runToCompletion(registry, {
    name,
    command: request.builtinRuntimePath ?? "wrk",
    args: useWrk ? wrkArguments(request) : builtinArguments(request),
    cpuList: request.cpuList,
    raiseFileLimit: false,
    env: preloadPath === null ? undefined : { ...process.env, LD_PRELOAD: preloadPath },
  }, request.durationSeconds * 1_000 + HANG_MARGIN_MS);
  const text = stdout + stderr;
  try {
    return { text, result: parseWrkOutput(text) };
  } catch (error) {
    const firstLine = text.trim().split("\n")[0] ?? "";
    throw new Error(`${name} failed (${exit}): ${firstLine || (error as Error).message}`);
  }
}
