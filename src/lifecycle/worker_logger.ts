/**
 * Operator messages of a -W worker: written to standard error in the shape consola gives the
 * master's own messages here (no colours, since stderr is usually a pipe or the journal), each
 * naming the worker. Workers do not load consola: it reads environment variables when imported,
 * which a jailed Deno worker is not allowed to do.
 *
 * @module
 */

import type { Logger } from "../core/logger.ts";

/** How much to say: the CLI's -q (warnings and errors) and -V (debug too). */
export type Verbosity = "quiet" | "normal" | "verbose";

/** -q / -V from the command line: the CLI and its workers read them alike, so workers say as much as their master. */
export function verbosityOfArgs(argv: readonly string[]): Verbosity {
  let verbosity: Verbosity = "normal";
  for (const arg of argv) {
    if (arg === "--") break;
    if (arg === "--quiet" || /^-[a-zA-Z]*q[a-zA-Z]*$/.test(arg)) verbosity = "quiet";
    if (arg === "--verbose" || /^-[a-zA-Z]*V[a-zA-Z]*$/.test(arg)) verbosity = "verbose";
  }
  return verbosity;
}

/**
 * The message level each verbosity prints up to, on consola's scale (errors 0, warnings 1,
 * information 3, debug 4): the master's consola and the workers' logger use the same.
 */
export const VERBOSITY_LEVELS: Readonly<Record<Verbosity, number>> = { quiet: 1, normal: 3, verbose: 4 };

/**
 * A Logger printing `prefix` + message to `write`, one write per message (so lines of several
 * processes sharing a pipe never mix), the way consola's reporter prints without a terminal:
 * errors and warnings as a badge between blank lines, information with "ℹ", debug with "⚙".
 */
export function workerLogger(write: (text: string) => void, prefix: string, verbosity: Verbosity): Logger {
  const level = VERBOSITY_LEVELS[verbosity];
  const error = (message: string) => write(`\n ERROR  ${prefix}${message}\n\n`);
  const info = (message: string) => {
    if (level >= 3) write(`ℹ ${prefix}${message}\n`);
  };
  return {
    emerg: error,
    alert: error,
    error,
    warn: (message) => {
      if (level >= 1) write(`\n WARN  ${prefix}${message}\n\n`);
    },
    notice: info,
    info,
    debug: (message) => {
      if (level >= 4) write(`⚙ ${prefix}${message}\n`);
    },
  };
}

/** The prefix naming a worker: `Worker 2 (pid 1234): `. */
export function workerPrefix(worker: number, pid: number): string {
  return `Worker ${worker} (pid ${pid}): `;
}
