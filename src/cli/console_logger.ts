/**
 * Operator messages for people, through consola, on standard error (standard output is kept for
 * access logs). `-q` keeps warnings and errors only; `-V` adds debug messages.
 *
 * @module
 */

import { createConsola } from "consola";
import type { ConsolaInstance } from "consola";
import type { Logger } from "../core/logger.ts";
import { VERBOSITY_LEVELS } from "../lifecycle/worker_logger.ts";
import type { Verbosity } from "../lifecycle/worker_logger.ts";

/** A consola instance writing everything to stderr at the given verbosity. */
export function createConsole(verbosity: Verbosity): ConsolaInstance {
  return createConsola({
    level: VERBOSITY_LEVELS[verbosity],
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { date: false },
  });
}

/** Adapts consola to the core's Logger (emerg, alert and error all print as errors). */
export function consoleLogger(console: ConsolaInstance): Logger {
  return {
    emerg: (message) => console.error(message),
    alert: (message) => console.error(message),
    error: (message) => console.error(message),
    warn: (message) => console.warn(message),
    notice: (message) => console.info(message),
    info: (message) => console.info(message),
    debug: (message) => console.debug(message),
  };
}
