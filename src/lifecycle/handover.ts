/**
 * Taking the listeners over from the processes named by -sf/-st (HAProxy's seamless reload).
 *
 * The sequence is HAProxy's (haproxy.c, `main`): the configuration was validated before anything
 * else (src/cli/run_command.ts), the proxy is built (`prepare`), then bound beside the old
 * processes, which share each address through SO_REUSEPORT; only once we listen are the old
 * processes told to finish (SIGUSR1 for -sf, SIGTERM for -st), so no connection finds nobody.
 *
 * Where an address cannot be shared (the old process bound it without SO_REUSEPORT, or we were
 * started with --no-reuseport), the bind fails with EADDRINUSE: the old processes are paused
 * (SIGTTOU: they close their listeners and keep serving), and the bind is retried every 10 ms for
 * up to 1 s. On success the sequence goes on; on failure the old processes are resumed (SIGTTIN)
 * and we exit 1: they serve as if nothing happened. Between their pause and our bind, new
 * connections are refused: that gap is the price of not sharing the port.
 *
 * @module
 */

import type { Runtime, SignalName } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Proxy } from "../engine/proxy.ts";
import { NetError } from "../runtime/net_error.ts";
import { LifecycleError } from "./errors.ts";
import type { FinishOldProcesses, ProcessOptions } from "./process_options.ts";

/** How often the bind is retried while the old processes are paused: HAProxy's 10 ms. */
export const HANDOVER_RETRY_INTERVAL_MS = 10;
/** How long the bind is retried before giving up: HAProxy's 100 retries of 10 ms. */
export const HANDOVER_RETRY_LIMIT_MS = 1_000;

/** What the hand-over did to the old processes while binding. */
export interface Handover {
  /**
   * The old processes paused (SIGTTOU) to free their addresses: empty when the addresses were
   * shared. Until they are told to finish, a start-up failure must resume them (SIGTTIN) with
   * {@link resumeOldProcesses}.
   */
  readonly paused: readonly number[];
}

/**
 * Prepares `proxy` (build) and binds it, taking the addresses over from `options.finish`'s old
 * processes when they cannot be shared (see the module comment). Without -sf/-st a bind failure is
 * just the error. On any failure the proxy is closed (nothing of it is left open) and the error
 * rethrown: the NetError of `prepare` or of the bind, or a LifecycleError("LIFECYCLE_HANDOVER")
 * naming the address when the old processes were paused and resumed in vain. Usable from a -W
 * worker too (`finish` null): it then only prepares and binds. Messages go to `proxy.logger`, the
 * proxy's logger teed to the [global] log targets once prepared. `beforeBind` runs between the two
 * (the server state of a reload is applied there); its failure fails the start as theirs do.
 */
export async function bindWithHandover(
  proxy: Proxy,
  options: ProcessOptions,
  runtime: Runtime,
  beforeBind?: () => Promise<void>,
): Promise<Handover> {
  await proxy.prepare();
  try {
    // Built, not yet serving nor checking: where a reload's server state is applied.
    await beforeBind?.();
    // `proxy.logger` rather than the caller's: once prepared it also reaches the [global] log targets.
    return await bindTakingOver(() => proxy.listen(), options.finish, runtime, proxy.logger);
  } catch (error) {
    await proxy.close();
    throw error;
  }
}

/**
 * Runs `bind` (all addresses or none: it must leave nothing bound when it rejects), and where an
 * address is in use pauses `finish`'s old processes and retries, as the module comment says. A -W
 * master binds its workers' sockets with it.
 */
export async function bindTakingOver(
  bind: () => Promise<void>,
  finish: FinishOldProcesses | null,
  runtime: Runtime,
  logger: Logger,
): Promise<Handover> {
  try {
    await bind();
    return { paused: [] };
  } catch (error) {
    if (finish === null || !addressInUse(error)) throw error;
    logger.notice(`${(error as Error).message}: pausing old process(es) ${finish.pids.join(", ")} (SIGTTOU) to take the address over`);
  }
  const paused = signalOldProcesses(finish.pids, "SIGTTOU", runtime, logger);
  const deadline = runtime.now() + HANDOVER_RETRY_LIMIT_MS;
  let lastError: unknown;
  do {
    await delay(runtime, HANDOVER_RETRY_INTERVAL_MS);
    try {
      await bind();
      logger.notice(paused.length > 0 ? `Took the listeners over from paused process(es) ${paused.join(", ")}` : "Bound once the address was free");
      return { paused };
    } catch (error) {
      lastError = error;
      if (!addressInUse(error)) break;
    }
  } while (runtime.now() < deadline);
  resumeOldProcesses(paused, runtime, logger);
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  const who = paused.length === 0 ? "no old process could be paused" : `old process(es) ${paused.join(", ")} told to listen again (SIGTTIN)`;
  throw new LifecycleError(
    "LIFECYCLE_HANDOVER",
    addressInUse(lastError)
      ? `${reason}, also after pausing the old process(es) for ${HANDOVER_RETRY_LIMIT_MS} ms: ${who}`
      : `${reason}: ${who}`,
    { cause: lastError },
  );
}

/** Tells the old processes to finish: SIGUSR1 (-sf) or SIGTERM (-st). A process already gone gets a warning. */
export function finishOldProcesses(finish: FinishOldProcesses | null, runtime: Runtime, logger: Logger): void {
  if (finish === null) return;
  const signal = finish.mode === "soft" ? "SIGUSR1" : "SIGTERM";
  const told = signalOldProcesses(finish.pids, signal, runtime, logger);
  if (told.length > 0) {
    logger.notice(`Told old process(es) ${told.join(", ")} to ${finish.mode === "soft" ? "finish their sessions (SIGUSR1)" : "stop now (SIGTERM)"}`);
  }
}

/** Resumes old processes paused by the hand-over (SIGTTIN): they listen again and serve as before. */
export function resumeOldProcesses(pids: readonly number[], runtime: Runtime, logger: Logger): void {
  if (pids.length === 0) return;
  signalOldProcesses(pids, "SIGTTIN", runtime, logger);
  logger.notice(`Told old process(es) ${pids.join(", ")} to listen again (SIGTTIN)`);
}

/** Sends `signal` to each pid; returns those that got it (a process already gone gets a warning). */
function signalOldProcesses(pids: readonly number[], signal: SignalName, runtime: Runtime, logger: Logger): number[] {
  const told: number[] = [];
  for (const pid of pids) {
    try {
      runtime.kill(pid, signal);
      told.push(pid);
    } catch (error) {
      logger.warn(`Cannot send ${signal} to old process ${pid}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return told;
}

function addressInUse(error: unknown): boolean {
  return error instanceof NetError && error.code === "EADDRINUSE";
}

function delay(runtime: Runtime, ms: number): Promise<void> {
  return new Promise((resolve) => runtime.setTimer(ms, resolve, false));
}
