/**
 * The executable a scenario runs, how it runs here, and the timeouts that follow from that.
 *
 * @module
 */

import type { Launcher } from "./launchers.ts";

/** One executable under test. */
export interface Subject {
  /** Its file name in dist/, which the output lines start with. */
  readonly label: string;
  readonly binary: string;
  readonly launcher: Launcher;
  /** What `proxy version` must say it runs on: `linux/arm64` (the runtime's os/arch names). */
  readonly platform: string;
  /** The target name it was built for (`linux-arm64`), which its build stamp must name; undefined if unknown. */
  readonly target: string | undefined;
  /** A directory the scenarios may write configuration files into. */
  readonly workDirectory: string;
}

/** Until the proxy listens: a native start takes tens of ms, this bounds a broken one. */
const START_MS = 10_000;
/** One request through the proxy. */
const REQUEST_MS = 5_000;
/** A command to complete, or a stopping proxy to exit. */
const EXIT_MS = 10_000;

/** Bounds of every wait, scaled for emulation. */
export function timeouts(subject: Subject): { start: number; request: number; exit: number } {
  const factor = subject.launcher.slowdown;
  return { start: START_MS * factor, request: REQUEST_MS * factor, exit: EXIT_MS * factor };
}
