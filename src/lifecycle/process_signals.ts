/**
 * How a running proxy obeys signals, as HAProxy does:
 * - SIGTERM, SIGINT: hard stop, now (the caller closes and exits, which cuts the sessions).
 * - SIGUSR1: graceful stop: after the frontends' `grace` (0 by default: none), during which every
 *   monitor-uri answers 503 while the proxy still listens and serves, stop listening, let
 *   established sessions finish (http keep-alive connections close after their current
 *   response), then stop; `hard-stop-after` bounds the whole.
 * - SIGTTOU: pause: stop listening, keep serving. SIGTTIN: resume: listen again. A new process
 *   taking over an address that cannot be shared (src/lifecycle/handover.ts) pauses the old one,
 *   and resumes it when it fails to bind.
 * - SIGHUP: every server's state to the log (src/lifecycle/state_dump.ts).
 *
 * Nothing here runs per connection or per request: the handlers act on the proxy as a whole.
 *
 * @module
 */

import type { Runtime, SignalName } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { GlobalConfig } from "../config/types.ts";
import { stateDumpLines } from "./state_dump.ts";
import type { BackendState, FrontendState } from "./state_dump.ts";

/** How often the timer that keeps a paused process alive fires (it does nothing else). */
const PAUSED_HOLD_MS = 3_600_000;

/** What the signal handlers control: a `Proxy` of src/engine/proxy.ts, prepared and listening. */
export interface ServedProxy {
  /** Binds again after `stopListening`; rejects (EADDRINUSE...) leaving it unbound. */
  listen(): Promise<void>;
  stopListening(): Promise<void>;
  /** Resolves once no session is left; http sessions are asked to finish. */
  whenIdle(): Promise<void>;
  readonly activeSessions: number;
  /** How long a graceful stop keeps listening while the monitors fail, ms (the longest `grace` of the frontends; 0: none). */
  readonly grace: number;
  /** A graceful stop began: every monitor-uri answers 503 from now on. */
  beginStop(): void;
  readonly frontends: readonly FrontendState[];
  readonly backends: readonly BackendState[];
}

/** A proxy obeying signals, from {@link serveUntilStopped}. */
export interface Serving {
  /** Settles with why once the proxy should be closed and the process exit. */
  readonly stopped: Promise<StopReason>;
  /**
   * A graceful stop asked otherwise than by SIGUSR1 (a -W worker's master); `why` opens the notice.
   * Like SIGUSR1 it is taken once, and pause/resume signals are ignored from then on.
   */
  finish(why: string): void;
}

/** Why the proxy stopped: every session finished, or it was told to stop now (or ran out of `hard-stop-after`). */
export type StopReason = "hard-stop" | "graceful-stop";

/**
 * A graceful stop: first the grace (every monitor-uri fails while the proxy goes on listening and
 * serving, so the balancer in front moves away before anything is refused; skipped when 0), then
 * stop listening and wait for the sessions to end. `hardStopAfter` ms (null: no bound) bounds the
 * whole, grace included, as HAProxy's `hard-stop-after` counts from the soft-stop: "graceful-stop"
 * when every session ended, "hard-stop" when the bound expired (a notice says how many sessions are
 * left to be cut; the caller closes the proxy and exits, which cuts them). The notice that the proxy
 * stopped listening (`why` opens it) comes once the listeners are closed: whoever reads it may
 * connect at once and must be refused, not reset from a closing accept queue.
 */
async function finishSessions(
  proxy: Pick<ServedProxy, "stopListening" | "whenIdle" | "activeSessions" | "grace" | "beginStop">,
  hardStopAfter: number | null,
  runtime: Runtime,
  logger: Logger,
  why: string,
): Promise<StopReason> {
  let timer: unknown = null;
  // Unref'd: it must not hold an embedding program's event loop once the sessions are gone.
  const expired = hardStopAfter === null
    ? null
    : new Promise<"hard-stop">((resolve) => (timer = runtime.setTimer(hardStopAfter, () => resolve("hard-stop"), true)));
  const cut = () => {
    logger.notice(`hard-stop-after (${hardStopAfter} ms) expired: cutting ${proxy.activeSessions} remaining session(s)`);
    return "hard-stop" as const;
  };
  try {
    proxy.beginStop();
    const grace = proxy.grace;
    if (grace > 0) {
      logger.notice(`${why}: grace of ${grace} ms: monitor-uri fails, still listening and serving ${proxy.activeSessions} session(s)`);
      let graceTimer: unknown = null;
      const over = new Promise<"grace-over">((resolve) => (graceTimer = runtime.setTimer(grace, () => resolve("grace-over"), false)));
      const outcome = await (expired === null ? over : Promise.race([over, expired]));
      runtime.clearTimer(graceTimer);
      if (outcome === "hard-stop") return cut();
    }
    await proxy.stopListening();
    logger.notice(`${why}: stopped listening, finishing ${proxy.activeSessions} session(s)`);
    if (expired === null) {
      await proxy.whenIdle();
      return "graceful-stop";
    }
    const outcome = await Promise.race([proxy.whenIdle().then(() => "graceful-stop" as const), expired]);
    return outcome === "hard-stop" ? cut() : outcome;
  } finally {
    if (timer !== null) runtime.clearTimer(timer);
  }
}

/**
 * Subscribes to the signals above; `stopped` settles with the reason once the proxy should stop: at once
 * for SIGTERM/SIGINT, once its last session ended (or `global.hardStopAfter` expired) for SIGUSR1.
 * The caller then calls `close()` on the proxy and exits the process; sessions still running are
 * cut by the exit.
 *
 * Contract, for a standalone process and for a -W worker alike: call once per process, after the
 * proxy listens; needs no terminal, no pid file and no -sf. The subscriptions last as long as the
 * process (see below), so a second call would answer every signal twice. Messages go to `logger`
 * (pass `proxy.logger`, which reaches the [global] log targets): notices for each signal, an
 * error when SIGTTIN cannot bind again (the proxy stays paused; a later SIGTTIN retries).
 */
export function serveUntilStopped(proxy: ServedProxy, global: GlobalConfig, runtime: Runtime, logger: Logger): Serving {
  let finish: (why: string) => void = () => {};
  const stopped = new Promise<StopReason>((resolve) => {
    // The listeners stay subscribed until the process exits: a stop signal arriving twice must not
    // fall back to the default action, and on Deno removing a SIGUSR1 listener while signals are
    // being dispatched opens the inspector (see src/runtime/deno.ts).
    //
    // Node and Bun do not count signal subscriptions as work: a paused proxy without sessions would
    // have nothing left in its event loop and exit. A timer holds it (only while paused).
    let hold: unknown = null;
    const holdProcess = () => {
      hold = runtime.setTimer(PAUSED_HOLD_MS, holdProcess, false);
    };
    const releaseProcess = () => {
      if (hold !== null) runtime.clearTimer(hold);
      hold = null;
    };
    let finished = false;
    const done = (reason: StopReason) => {
      if (finished) return;
      finished = true;
      releaseProcess();
      resolve(reason);
    };
    let stopping = false;
    let paused = false;
    // Pause, resume and stop act on the listeners one at a time, in arrival order: a SIGTTIN
    // right behind a SIGTTOU must find the listeners closed, not closing.
    let control: Promise<void> = Promise.resolve();
    const inTurn = (what: string, step: () => Promise<void>) => {
      control = control.then(step).catch((error: unknown) => {
        logger.error(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    };

    const hardStop = (signal: SignalName) => () => {
      logger.notice(`${signal} received: stopping now, cutting ${proxy.activeSessions} session(s)`);
      done("hard-stop");
    };
    runtime.onSignal("SIGTERM", hardStop("SIGTERM"));
    runtime.onSignal("SIGINT", hardStop("SIGINT"));

    finish = (why: string) => {
      if (stopping || finished) return;
      stopping = true;
      inTurn("Graceful stop", async () => {
        try {
          done(await finishSessions(proxy, global.hardStopAfter, runtime, logger, why));
        } catch (error) {
          done("hard-stop");
          throw error;
        }
      });
    };
    runtime.onSignal("SIGUSR1", () => finish("SIGUSR1 received"));

    runtime.onSignal("SIGTTOU", () => {
      if (stopping || finished) {
        logger.notice("SIGTTOU received: ignored, already stopping");
        return;
      }
      inTurn("Pause", async () => {
        if (stopping || paused) return;
        paused = true;
        holdProcess();
        await proxy.stopListening();
        logger.notice(`SIGTTOU received: paused, stopped listening; ${proxy.activeSessions} session(s) go on`);
      });
    });

    runtime.onSignal("SIGTTIN", () => {
      if (stopping || finished) {
        logger.notice("SIGTTIN received: ignored, already stopping");
        return;
      }
      inTurn("Resume", async () => {
        if (stopping) return;
        if (!paused) {
          logger.notice("SIGTTIN received: already listening");
          return;
        }
        try {
          await proxy.listen();
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          logger.error(`SIGTTIN received: cannot listen again, staying paused (send SIGTTIN again to retry): ${reason}`);
          return;
        }
        paused = false;
        releaseProcess();
        logger.notice("SIGTTIN received: resumed, listening again");
      });
    });

    // HAProxy logs its dump at notice level, one message per line.
    runtime.onSignal("SIGHUP", () => {
      for (const line of stateDumpLines(proxy.frontends, proxy.backends)) logger.notice(line);
    });
  });
  return { stopped, finish: (why) => finish(why) };
}
