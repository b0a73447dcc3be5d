/**
 * The error type of the configuration domain.
 *
 * @module
 */

/** Stable codes of configuration errors. */
export type ConfigErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_INVALID_VALUE"
  | "CONFIG_MISSING"
  | "CONFIG_UNSUPPORTED";

/** A configuration that cannot run. `path` names the setting (`--backend`, or a key path). */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly path: string;
  constructor(code: ConfigErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
    this.code = code;
    this.path = path;
  }
}
