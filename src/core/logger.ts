/**
 * The operator-message interface the core and protocol layers log through. The CLI provides one
 * backed by consola; embedders can provide their own. Traffic logs do not go through here.
 *
 * @module
 */

/** Syslog-style severities, as HAProxy uses them for operator messages. */
export interface Logger {
  /** The system is unusable for a part of the traffic (HAProxy: a backend without any server). */
  emerg(message: string): void;
  alert(message: string): void;
  error(message: string): void;
  warn(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = Object.freeze({
  emerg() {},
  alert() {},
  error() {},
  warn() {},
  notice() {},
  info() {},
  debug() {},
});

/** A logger that hands every message to each of `loggers` in turn. */
export function teeLogger(...loggers: Logger[]): Logger {
  return {
    emerg: (message) => loggers.forEach((logger) => logger.emerg(message)),
    alert: (message) => loggers.forEach((logger) => logger.alert(message)),
    error: (message) => loggers.forEach((logger) => logger.error(message)),
    warn: (message) => loggers.forEach((logger) => logger.warn(message)),
    notice: (message) => loggers.forEach((logger) => logger.notice(message)),
    info: (message) => loggers.forEach((logger) => logger.info(message)),
    debug: (message) => loggers.forEach((logger) => logger.debug(message)),
  };
}
