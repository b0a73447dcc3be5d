/**
 * Where a new generation's server states come from (issue 20: changes made through the runtime
 * API hold across reloads). HAProxy has the operator dump `show servers state` into its
 * `server-state-file` before a reload; here the state is handed over from the process being
 * replaced whenever it can answer, and the file is the fallback:
 *
 * 1. the live old generation: under -sf/-st, the old process's runtime API (`stats-socket`),
 *    asked before the new process takes the socket over; under -W, one serving worker of the
 *    current generation, over the control channel (every API change reaches all of them, so any
 *    one has the admin state);
 * 2. under -W, the state the master last saw (it asks a worker again after each change made
 *    through it), when no worker answers;
 * 3. the `server-state-file` of [global], read by the process that reads the configuration (a
 *    -W master, never a jailed worker), at start and at each reload: a missing file is a notice.
 *
 * Every wait is bounded ({@link SERVER_STATE_ANSWER_TIMEOUT_MS}); a source that fails is a
 * warning and the next one is tried, and with none the servers start from the configuration.
 * The text is applied by `src/engine/server_state_apply.ts`, between building the proxy and
 * serving.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { GlobalConfig, StatsSocketConfig } from "../config/types.ts";
import { askRuntimeApi, describeControlAddress } from "../control/client.ts";
import type { ControlAddress } from "../control/client.ts";
import { ControlError } from "../control/errors.ts";
import type { ApiWorker } from "./master_runtime_api.ts";

/** How long a source of server state may take to answer before the next one is tried. */
export const SERVER_STATE_ANSWER_TIMEOUT_MS = 3_000;

/** The command whose answer is the state (HAProxy's server-state format). */
export const SERVER_STATE_COMMAND: readonly string[] = Object.freeze(["show", "servers", "state"]);

/** A server-state text and where it came from (for messages: "the server-state-file \"/x\""). */
export interface HandedServerState {
  readonly text: string;
  readonly source: string;
}

/** What asking needs of the runtime. */
export type StateRuntime = Pick<Runtime, "connect" | "connectUnix" | "lookup" | "setTimer" | "clearTimer" | "readTextFile">;

/** The runtime API address a socket of the configuration listens on. */
function addressOf(socket: StatsSocketConfig): ControlAddress {
  return socket.kind === "unix" ? { kind: "unix", path: socket.path } : { kind: "tcp", host: socket.host, port: socket.port };
}

/**
 * Asks the old process of a -sf/-st reload for its state on the runtime API of `sockets` (the new
 * configuration's, which the old process still holds: the new one takes them over afterwards).
 * The sockets are tried in order until one answers; one that is silent ends the search (a hung
 * process would be as silent on the next). Null, with a notice or a warning, when none answers.
 */
export async function askOldProcess(
  sockets: readonly StatsSocketConfig[],
  runtime: StateRuntime,
  logger: Logger,
  timeoutMs = SERVER_STATE_ANSWER_TIMEOUT_MS,
): Promise<HandedServerState | null> {
  const unreachable: string[] = [];
  for (const socket of sockets) {
    const address = addressOf(socket);
    const where = describeControlAddress(address);
    try {
      const answer = await askRuntimeApi(runtime, address, SERVER_STATE_COMMAND.join(" "), timeoutMs);
      if (answer.failed) {
        logger.warn(`The old process's runtime API at "${where}" refused "show servers state": ${answer.text.trim()}`);
        return null;
      }
      return { text: answer.text, source: `the old process's runtime API at "${where}"` };
    } catch (error) {
      if (error instanceof ControlError && error.code === "CONTROL_UNREACHABLE") {
        unreachable.push(error.message);
        continue;
      }
      logger.warn(`No server state from the old process: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }
  if (unreachable.length > 0) logger.notice(`No server state from the old process: ${unreachable.join("; ")}`);
  return null;
}

/**
 * Reads the `server-state-file`: its text, or null when there is none (a notice, as HAProxy's) or it
 * cannot be read (a warning). Nothing else is checked here: applying it says what is wrong in it.
 */
export async function readServerStateFile(path: string, runtime: Pick<Runtime, "readTextFile">, logger: Logger): Promise<HandedServerState | null> {
  try {
    return { text: await runtime.readTextFile(path), source: `the server-state-file "${path}"` };
  } catch (error) {
    if (isNotFound(error)) {
      logger.notice(`No server-state-file at "${path}": the servers start from the configuration`);
    } else {
      logger.warn(`Cannot read the server-state-file "${path}": ${error instanceof Error ? error.message : String(error)}; the servers start from the configuration`);
    }
    return null;
  }
}

/**
 * The state at start, of a standalone process or of a -W master's first generation: with -sf/-st
 * (`finishing`) and a `stats-socket`, the old process's; else, or when it does not answer, the
 * `server-state-file`'s; null when neither.
 */
export async function initialServerState(
  global: GlobalConfig,
  finishing: boolean,
  runtime: StateRuntime,
  logger: Logger,
): Promise<HandedServerState | null> {
  if (finishing && global.statsSockets.length > 0) {
    const live = await askOldProcess(global.statsSockets, runtime, logger);
    if (live !== null) return live;
  }
  if (global.serverStateFile !== null) return await readServerStateFile(global.serverStateFile, runtime, logger);
  if (finishing) {
    logger.info("Neither a stats-socket nor a server-state-file: the servers start from the configuration, without the old process's runtime API changes");
  }
  return null;
}

/**
 * Asks `worker` (of generation `generation`) for its state over the control channel, waiting at
 * most `timeoutMs`; null with a warning when it does not answer or answers an error.
 */
export async function askWorker(
  worker: ApiWorker,
  generation: number,
  runtime: Pick<Runtime, "setTimer" | "clearTimer">,
  logger: Logger,
  timeoutMs = SERVER_STATE_ANSWER_TIMEOUT_MS,
): Promise<HandedServerState | null> {
  const who = `worker ${worker.number} (pid ${worker.pid}) of generation ${generation}`;
  let timer: unknown = null;
  const answer = await Promise.race([
    worker.ask(SERVER_STATE_COMMAND, "user"),
    new Promise<null>((resolve) => (timer = runtime.setTimer(timeoutMs, () => resolve(null), true))),
  ]);
  runtime.clearTimer(timer);
  if (answer === null) {
    logger.warn(`No server state from ${who} within ${timeoutMs} ms`);
    return null;
  }
  if (answer.kind !== "text") {
    const text = answer.kind === "message" ? answer.text : "an answer of several processes";
    logger.warn(`No server state from ${who}: ${text}`);
    return null;
  }
  return { text: answer.text, source: who };
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === "ENOENT" || (error as { name?: unknown }).name === "NotFound";
}
