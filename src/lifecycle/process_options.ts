/**
 * How this process was asked to run, beside its configuration: the command-line flags of the
 * process lifecycle (HAProxy's -p, -sf/-st, -W, and --no-reuseport).
 *
 * @module
 */

import type { Config } from "../config/types.ts";

/** Old processes to tell to finish once our listeners are bound (-sf: gracefully, -st: now). */
export interface FinishOldProcesses {
  readonly mode: "soft" | "hard";
  readonly pids: readonly number[];
}

/** The lifecycle flags of a run. */
export interface ProcessOptions {
  /** -p FILE, overriding `global.pidfile`; null: the configuration's. */
  readonly pidfile: string | null;
  /** -sf/-st PID..., or null. */
  readonly finish: FinishOldProcesses | null;
  /** -W: a master process runs the workers. */
  readonly masterWorker: boolean;
  /** --no-reuseport: bind every listener without SO_REUSEPORT (and take over from -sf pids by pausing them). */
  readonly noReusePort: boolean;
}

/** A run with none of the lifecycle flags. */
export const DEFAULT_PROCESS_OPTIONS: ProcessOptions = Object.freeze({
  pidfile: null,
  finish: null,
  masterWorker: false,
  noReusePort: false,
});

/** The configuration with SO_REUSEPORT off on every bind (--no-reuseport). */
export function disableReusePort(config: Config): Config {
  const frontends = config.frontends.map((frontend) =>
    Object.freeze({
      ...frontend,
      binds: Object.freeze(frontend.binds.map((bind) => Object.freeze({ ...bind, reusePort: false }))),
    })
  );
  return Object.freeze({ ...config, frontends: Object.freeze(frontends) });
}
