/**
 * Where log lines go: one syslog server over UDP or TCP, or the process's standard output or
 * error, with the header format and filters of that destination (HAProxy's `log` line).
 *
 * @module
 */

import type { SyslogFormat } from "./syslog_format.ts";

/** How lines reach a target: UDP datagrams, an RFC 6587 TCP stream, or a standard stream. */
export type LogTransport = "udp" | "tcp" | "stdout" | "stderr";

/** HAProxy's syslog port. */
export const SYSLOG_DEFAULT_PORT = 514;

/** One log destination, as configured. */
export interface LogTargetSpec {
  /** As written ("udp://10.0.0.1:514", "stdout"), for messages. */
  readonly target: string;
  readonly transport: LogTransport;
  /** udp/tcp: an IP address or a host name (resolved at start); "" for stdout/stderr. */
  readonly host: string;
  /** udp/tcp: the port (SYSLOG_DEFAULT_PORT unless given); 0 for stdout/stderr. */
  readonly port: number;
  /** The header before each line; "raw" is the bare line. */
  readonly format: SyslogFormat;
  /** Facility code, 0 (kern) to 23 (local7). */
  readonly facility: number;
  /** The least urgent severity sent (0 emerg .. 7 debug): lines with a higher number are not sent. */
  readonly level: number;
  /** The program name in the header (rfc3164 TAG, rfc5424 APP-NAME). */
  readonly tag: string;
  /** The host name in the header; null: the machine's for rfc3164 and rfc5424 ("local" has none). */
  readonly hostname: string | null;
  /** Print the process id in the header. */
  readonly pid: boolean;
  /** Longest line sent, header included; longer lines are truncated. */
  readonly maxLength: number;
}
