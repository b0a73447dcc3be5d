/**
 * What a protocol session needs from the frontend that runs it.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import type { TrafficLog } from "../log/traffic_log.ts";
import type { TrafficCounters } from "../core/counters.ts";

/** The frontend side of a session: machine access, timers, logging, and the end-of-session hook. */
export interface SessionHost {
  readonly runtime: Runtime;
  readonly wheel: TimerWheel;
  readonly logger: Logger;
  /** The frontend's name, for log lines. */
  readonly name: string;
  /** Where traffic lines go; null: this frontend logs no traffic. */
  readonly trafficLog: TrafficLog | null;
  /**
   * HAProxy's tune.bufsize: what each connection of a session may hold per direction, given to the
   * runtime with every listen and connect (the write high-water mark: runtime/types.ts).
   */
  readonly bufferSize: number;
  /** Sessions running in this frontend (%fc) and in the whole process (%ac). */
  readonly activeSessions: number;
  readonly processSessions: number;
  /** The frontend's stats counters (sessions count their end on them, see core/counters.ts). */
  readonly counters: TrafficCounters;
  /**
   * Sessions read the clock for their timers: when a traffic log or a stats reader needs them. A
   * clock read costs 40 to 90 ns and a request takes several, which a proxy that shows no timer
   * anywhere should not pay.
   */
  readonly timed: boolean;
  /** Called once when a session has closed both of its connections. */
  sessionEnded(session: object): void;
}
