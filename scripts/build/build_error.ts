/**
 * The error of the build domain: what failed, in a sentence, with a stable code scripts and tests
 * can tell apart.
 *
 * @module
 */

/** Stable codes of {@link BuildError}. */
export type BuildErrorCode =
  | "USAGE"
  | "UNKNOWN_TARGET"
  | "COMPILER_FAILED"
  | "RUNTIME_DOWNLOAD_FAILED"
  | "BINARY_DOES_NOT_RUN";

/** A build step that failed. */
export class BuildError extends Error {
  readonly code: BuildErrorCode;

  constructor(code: BuildErrorCode, message: string) {
    super(message);
    this.name = "BuildError";
    this.code = code;
  }
}
