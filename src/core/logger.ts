/**
 * The operator-message interface the core and protocol layers log through. The CLI provides one
 * backed by consola; embedders can provide their own. Traffic logs do not go through here.
 *
 * @module
 */

/** Syslog-style severities, as HAProxy uses them for operator messages. */
export interface Logger {
  alert(message: string): void;
  error(message: string): void;
  warn(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = Object.freeze({
  alert() {},
  error() {},
  warn() {},
  notice() {},
  info() {},
  debug() {},
});
