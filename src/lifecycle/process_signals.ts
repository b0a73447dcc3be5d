/**
 * How a running proxy stops, by signal, as HAProxy does:
 * - SIGTERM, SIGINT: hard stop, now.
 * - SIGUSR1: graceful stop: stop listening at once, let established sessions finish, then exit.
 *
 * @module
 */

import type { Runtime, SignalName } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";

/** What a stop-signal watcher controls. */
export interface Stoppable {
  stopListening(): Promise<void>;
  whenIdle(): Promise<void>;
  readonly activeSessions: number;
}

/** Why the process is stopping. */
export type StopReason = "hard-stop" | "graceful-stop";

/** Resolves with the reason once the proxy has stopped (for graceful stop: once its last session ended). */
export function waitForStopSignal(proxy: Stoppable, runtime: Runtime, logger: Logger): Promise<StopReason> {
  return new Promise((resolve) => {
    // The listeners stay subscribed until the process exits: a stop signal arriving twice must not
    // fall back to the default action, and on Deno removing a SIGUSR1 listener while signals are
    // being dispatched opens the inspector (see src/runtime/deno.ts).
    let finished = false;
    const done = (reason: StopReason) => {
      if (finished) return;
      finished = true;
      resolve(reason);
    };
    const hardStop = (signal: SignalName) => () => {
      logger.notice(`${signal} received: stopping now`);
      done("hard-stop");
    };
    runtime.onSignal("SIGTERM", hardStop("SIGTERM"));
    runtime.onSignal("SIGINT", hardStop("SIGINT"));
    let stopping = false;
    runtime.onSignal("SIGUSR1", () => {
      if (stopping) return;
      stopping = true;
      logger.notice(`SIGUSR1 received: stopped listening, finishing ${proxy.activeSessions} session(s)`);
      proxy.stopListening()
        .then(() => proxy.whenIdle())
        .then(() => done("graceful-stop"), (error: unknown) => {
          logger.error(`Graceful stop failed: ${error instanceof Error ? error.message : String(error)}`);
          done("hard-stop");
        });
    });
  });
}
