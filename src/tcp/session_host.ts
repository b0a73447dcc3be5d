/**
 * What a protocol session needs from the frontend that runs it.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";

/** The frontend side of a session: machine access, timers, logging, and the end-of-session hook. */
export interface SessionHost {
  readonly runtime: Runtime;
  readonly wheel: TimerWheel;
  readonly logger: Logger;
  /** Called once when a session has closed both of its connections. */
  sessionEnded(session: object): void;
}
