/**
 * The two kinds of log lines and where they go: traffic lines (one per tcp session or http
 * request, in the frontend's log format) and operator messages (start, stop, server states) sent
 * to the [global] targets at HAProxy's severities. Neither goes through consola.
 *
 * @module
 */

import type { Logger } from "../core/logger.ts";
import type { LogFormatter } from "./log_format.ts";
import type { LogRecord } from "./record.ts";
import type { LogSink } from "./sink.ts";
import { SYSLOG_SEVERITIES } from "./syslog_format.ts";

const INFO = SYSLOG_SEVERITIES.info;
const ERR = SYSLOG_SEVERITIES.err;

/** How a frontend logs its traffic. */
export interface TrafficLogOptions {
  /** Sessions and connections on which the client sent nothing are not logged (HAProxy's dontlognull). */
  readonly dontLogNull: boolean;
  /** Lines of failed sessions go out at "err" instead of "info" (HAProxy's log-separate-errors). */
  readonly separateErrors: boolean;
}

/** A frontend's traffic log: one compiled format, its targets. */
export class TrafficLog {
  readonly sinks: readonly LogSink[];
  private readonly formatter: LogFormatter;
  private readonly dontLogNull: boolean;
  private readonly separateErrors: boolean;

  constructor(formatter: LogFormatter, sinks: readonly LogSink[], options: TrafficLogOptions) {
    this.formatter = formatter;
    this.sinks = sinks;
    this.dontLogNull = options.dontLogNull;
    this.separateErrors = options.separateErrors;
  }

  /** Hands an already formatted line to every target; `error` lines go out at "err" with log-separate-errors. */
  writeLine(line: string, error: boolean): void {
    const severity = this.separateErrors && error ? ERR : INFO;
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.push(severity, line);
  }

  /** Formats `record` once and hands the line to every target. */
  write(record: LogRecord): void {
    if (this.dontLogNull && record.bytesUploaded === 0) return;
    const line = this.formatter(record);
    const severity = this.separateErrors && isError(record) ? ERR : INFO;
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.push(severity, line);
  }
}

/**
 * HAProxy's `log-separate-errors` test: a 5xx status, an abnormal termination, or a connection
 * that needed retries or a redispatch.
 */
export function isError(record: LogRecord): boolean {
  return record.status >= 500 || record.terminationState.charCodeAt(0) !== 45 /* "-" */ || record.retries > 0 ||
    record.redispatched;
}

/** Operator messages to syslog targets, at the severity of the Logger method called. */
export class SyslogLogger implements Logger {
  private readonly sinks: readonly LogSink[];

  constructor(sinks: readonly LogSink[]) {
    this.sinks = sinks;
  }

  emerg(message: string): void {
    this.send(SYSLOG_SEVERITIES.emerg, message);
  }
  alert(message: string): void {
    this.send(SYSLOG_SEVERITIES.alert, message);
  }
  error(message: string): void {
    this.send(SYSLOG_SEVERITIES.err, message);
  }
  warn(message: string): void {
    this.send(SYSLOG_SEVERITIES.warning, message);
  }
  notice(message: string): void {
    this.send(SYSLOG_SEVERITIES.notice, message);
  }
  info(message: string): void {
    this.send(SYSLOG_SEVERITIES.info, message);
  }
  debug(message: string): void {
    this.send(SYSLOG_SEVERITIES.debug, message);
  }

  private send(severity: number, message: string): void {
    for (const sink of this.sinks) sink.push(severity, message);
  }
}
