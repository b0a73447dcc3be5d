/**
 * The one place where errors become exit codes.
 *
 * @module
 */

import { ConfigError } from "../config/errors.ts";
import { NetError } from "../runtime/net_error.ts";
import { LifecycleError } from "../lifecycle/errors.ts";
import { ControlError } from "../control/errors.ts";

/** Success, or a requested stop. */
export const EXIT_OK = 0;
/** The configuration cannot run, or starting failed (bind, resolve): HAProxy exits 1 for both. */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong (unknown flag or command). */
export const EXIT_USAGE = 2;
/** `proxy ctl`: the runtime API cannot be reached, or gave no answer. */
export const EXIT_UNREACHABLE = 2;
/** A bug: an error nobody expected (sysexits' EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

/** An error in the command line, before any configuration is built. */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Picks the exit code for an error that ended the program. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof ControlError) return EXIT_UNREACHABLE;
  if (error instanceof ConfigError || error instanceof NetError || error instanceof LifecycleError) return EXIT_FAILURE;
  // citty's own argument errors (bad enum value, missing positional).
  if (error instanceof Error && (error as { code?: unknown }).code === "EARG") return EXIT_USAGE;
  return EXIT_INTERNAL;
}
