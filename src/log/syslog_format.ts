/**
 * Syslog framing: the header a log line carries to a syslog server, in the formats HAProxy offers
 * on a `log` target (local, rfc3164, rfc5424, raw), and RFC 6587's octet counting for stream
 * transports.
 *
 * Pure string work, no runtime: the senders (UDP, TCP, stdout) live above and only hand the line
 * on. A line is framed per log record, so what does not change per record is prepared once: the
 * header after the timestamp in the constructor, the PRI per severity, and the timestamp itself
 * per second, as HAProxy refreshes its date string only when the second changes.
 *
 * @module
 */

/** Syslog facility codes by name, HAProxy's list (RFC 5424 6.2.1, with auth2, cron2 for 10, 15). */
export const SYSLOG_FACILITIES = Object.freeze(
  {
    kern: 0,
    user: 1,
    mail: 2,
    daemon: 3,
    auth: 4,
    syslog: 5,
    lpr: 6,
    news: 7,
    uucp: 8,
    cron: 9,
    auth2: 10,
    ftp: 11,
    ntp: 12,
    audit: 13,
    alert: 14,
    cron2: 15,
    local0: 16,
    local1: 17,
    local2: 18,
    local3: 19,
    local4: 20,
    local5: 21,
    local6: 22,
    local7: 23,
  } as const,
);

/** Syslog severity codes by name, HAProxy's spelling (RFC 5424 6.2.1). */
export const SYSLOG_SEVERITIES = Object.freeze(
  {
    emerg: 0,
    alert: 1,
    crit: 2,
    err: 3,
    warning: 4,
    notice: 5,
    info: 6,
    debug: 7,
  } as const,
);

/** A facility name HAProxy accepts. */
export type SyslogFacilityName = keyof typeof SYSLOG_FACILITIES;

/** A severity name HAProxy accepts. */
export type SyslogSeverityName = keyof typeof SYSLOG_SEVERITIES;

/**
 * The header formats of HAProxy's `log ... format` option (without the short/timed variants).
 * "local" is HAProxy's legacy default: an RFC 3164 header without the HOSTNAME field, which the
 * local syslog daemon fills in.
 */
export type SyslogFormat = "local" | "rfc3164" | "rfc5424" | "raw";

/** Every {@link SyslogFormat}, in the order messages list them. */
export const SYSLOG_FORMATS: readonly SyslogFormat[] = ["local", "rfc3164", "rfc5424", "raw"];

/**
 * The HOSTNAME of an rfc3164 header when none is known. RFC 3164 4.1.2 makes the field mandatory,
 * and HAProxy writes this word when `log-send-hostname` is not set.
 */
const RFC3164_UNKNOWN_HOSTNAME = "localhost";

/** HAProxy's default `len`: the longest line sent, header included. */
export const SYSLOG_DEFAULT_MAX_LENGTH = 1024;

/** What a log target's header is made of. */
export interface SyslogHeaderOptions {
  /** Which header precedes the message. */
  format: SyslogFormat;
  /** Facility code, 0 to 23 (see SYSLOG_FACILITIES). */
  facility: number;
  /** The program name: rfc3164's TAG, rfc5424's APP-NAME (HAProxy's `log-tag`). */
  tag: string;
  /** The process id printed after the tag (rfc3164) or as PROCID (rfc5424); null leaves it out. */
  pid: number | null;
  /**
   * The host name; "" prints "localhost" (rfc3164, where the field is mandatory) or "-" (rfc5424).
   * "local" never prints one.
   */
  hostname: string;
  /** Longest line, header included, in UTF-8 bytes (as HAProxy); SYSLOG_DEFAULT_MAX_LENGTH when absent. */
  maxLength?: number;
  /** Print the time in UTC instead of local time (tests, and hosts that log in UTC). */
  utc?: boolean;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// RFC 5424 6: APP-NAME is 1*48 PRINTUSASCII, HOSTNAME 1*255; PRINTUSASCII is %d33-126.
const RFC5424_APP_NAME_MAX = 48;
const RFC5424_HOSTNAME_MAX = 255;

function pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

function pad3(value: number): string {
  return value < 10 ? `00${value}` : value < 100 ? `0${value}` : `${value}`;
}

function isPrintableAsciiWord(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 33 || code > 126) return false;
  }
  return true;
}

/**
 * Why `tag` cannot be the tag of a target in `format`, or null when it can. The framer's rule,
 * exported so the configuration refuses such a tag at its key instead of at start. Both headers
 * are space-separated fields: a space or control character in the tag or the host name would
 * shift every field after it for the receiver.
 */
export function syslogTagProblem(tag: string, format: SyslogFormat): string | null {
  if (tag === "" || !isPrintableAsciiWord(tag)) return `Syslog tag "${tag}" must be printable ASCII without spaces`;
  if (format === "rfc5424" && tag.length > RFC5424_APP_NAME_MAX) {
    return `Syslog tag "${tag}" is longer than rfc5424's ${RFC5424_APP_NAME_MAX} characters`;
  }
  return null;
}

/** Why `hostname` ("" for none) cannot be the host name of a target in `format`, or null when it can. */
export function syslogHostnameProblem(hostname: string, format: SyslogFormat): string | null {
  if (!isPrintableAsciiWord(hostname)) return `Syslog hostname "${hostname}" must be printable ASCII without spaces`;
  if (format === "rfc5424" && hostname.length > RFC5424_HOSTNAME_MAX) {
    return `Syslog hostname "${hostname}" is longer than rfc5424's ${RFC5424_HOSTNAME_MAX} characters`;
  }
  return null;
}

/** Formats log lines for one syslog target; build once per target, call `frame` per line. */
export class SyslogFramer {
  /** The header format this framer writes. */
  readonly format: SyslogFormat;
  /** The longest line returned, header included. */
  readonly maxLength: number;
  private readonly utc: boolean;
  /** "<PRI>" per severity, rfc5424's "<PRI>1 " included. */
  private readonly priorities: string[];
  /** Everything between the timestamp and the message. */
  private readonly headerRest: string;
  private cachedSecond = Number.NaN;
  /** rfc3164: the whole timestamp; rfc5424: up to the seconds. */
  private cachedStamp = "";
  /** rfc5424: the numeric offset after the milliseconds. */
  private cachedOffset = "";

  constructor(options: SyslogHeaderOptions) {
    const { format, facility, tag, pid, hostname } = options;
    const maxLength = options.maxLength ?? SYSLOG_DEFAULT_MAX_LENGTH;
    if (!SYSLOG_FORMATS.includes(format)) {
      throw new RangeError(`Unknown syslog format "${format}"`);
    }
    if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
      throw new RangeError(`Syslog facility "${facility}" is not an integer between 0 and 23`);
    }
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`Syslog line length "${maxLength}" is not a positive integer`);
    }
    if (pid !== null && (!Number.isInteger(pid) || pid < 0)) {
      throw new RangeError(`Syslog pid "${pid}" is not a non-negative integer`);
    }
    const tagProblem = syslogTagProblem(tag, format);
    if (tagProblem !== null) throw new RangeError(tagProblem);
    const hostnameProblem = syslogHostnameProblem(hostname, format);
    if (hostnameProblem !== null) throw new RangeError(hostnameProblem);

    this.format = format;
    this.maxLength = maxLength;
    this.utc = options.utc ?? false;
    // RFC 5424 6.1: the VERSION field "1" follows PRI directly.
    const version = format === "rfc5424" ? "1 " : "";
    this.priorities = [];
    for (let severity = 0; severity < 8; severity++) {
      this.priorities.push(`<${facility * 8 + severity}>${version}`);
    }
    if (format === "local" || format === "rfc3164") {
      const program = pid === null ? tag : `${tag}[${pid}]`;
      // "local" leaves HOSTNAME out and the relay or receiver fills it in (RFC 3164 4.3.2); a
      // receiver that parses rfc3164 strictly would take the tag for a host name, so "rfc3164"
      // always carries one.
      this.headerRest = format === "local"
        ? ` ${program}: `
        : ` ${hostname === "" ? RFC3164_UNKNOWN_HOSTNAME : hostname} ${program}: `;
    } else if (format === "rfc5424") {
      // RFC 5424 6: NILVALUE "-" for an unknown HOSTNAME, and for MSGID and STRUCTURED-DATA, which
      // HAProxy leaves empty.
      this.headerRest = ` ${hostname === "" ? "-" : hostname} ${tag} ${pid ?? "-"} - - `;
    } else {
      this.headerRest = "";
    }
  }

  /** The whole line for `message` at severity 0-7 and wall-clock time `nowMs`, no trailing newline. */
  frame(severity: number, message: string, nowMs: number): string {
    const priority = this.priorities[severity];
    if (priority === undefined) {
      throw new RangeError(`Syslog severity "${severity}" is not an integer between 0 and 7`);
    }
    let line: string;
    if (this.format === "raw") {
      line = message;
    } else {
      const ms = Math.floor(nowMs);
      const second = Math.floor(ms / 1000);
      if (second !== this.cachedSecond) this.refreshTimestamp(second);
      line = this.format !== "rfc5424"
        ? priority + this.cachedStamp + this.headerRest + message
        : priority + this.cachedStamp + "." + pad3(ms - second * 1000) + this.cachedOffset + this.headerRest +
          message;
    }
    // A UTF-16 unit is at most 3 UTF-8 bytes: short lines need no counting.
    return line.length * 3 <= this.maxLength ? line : truncate(line, this.maxLength);
  }

  private refreshTimestamp(second: number): void {
    this.cachedSecond = second;
    const date = new Date(second * 1000);
    const utc = this.utc;
    const month = utc ? date.getUTCMonth() : date.getMonth();
    const day = utc ? date.getUTCDate() : date.getDate();
    const time = `${pad2(utc ? date.getUTCHours() : date.getHours())}:${
      pad2(utc ? date.getUTCMinutes() : date.getMinutes())
    }:${pad2(utc ? date.getUTCSeconds() : date.getSeconds())}`;
    if (this.format !== "rfc5424") {
      // RFC 3164 4.1.2: "Mmm dd", a day below 10 padded with a space, not a zero.
      this.cachedStamp = `${MONTHS[month]} ${day < 10 ? ` ${day}` : `${day}`} ${time}`;
      return;
    }
    // RFC 5424 6.2.3: a four-digit year and a numeric TIME-OFFSET, "+00:00" in UTC too (as HAProxy,
    // which prints its offset with strftime's %z).
    const year = utc ? date.getUTCFullYear() : date.getFullYear();
    this.cachedStamp = `${String(year).padStart(4, "0")}-${pad2(month + 1)}-${pad2(day)}T${time}`;
    const offset = utc ? 0 : -date.getTimezoneOffset();
    const absolute = Math.abs(offset);
    this.cachedOffset = `${offset < 0 ? "-" : "+"}${pad2(Math.floor(absolute / 60))}:${pad2(absolute % 60)}`;
  }
}

/**
 * `line` cut to at most `maxLength` UTF-8 bytes (HAProxy counts bytes), never inside a character:
 * a surrogate pair (4 bytes) is kept whole or dropped whole.
 */
function truncate(line: string, maxLength: number): string {
  let bytes = 0;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    let size = code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
    let units = 1;
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < line.length) {
      const next = line.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        size = 4;
        units = 2;
      }
    }
    if (bytes + size > maxLength) return line.slice(0, i);
    bytes += size;
    i += units - 1;
  }
  return line;
}

/** UTF-8 byte length of `text`, counted from its char codes without encoding it. */
export function utf8ByteLength(text: string): number {
  const length = text.length;
  let i = 0;
  while (i < length && text.charCodeAt(i) < 0x80) i++;
  if (i === length) return length;
  let bytes = i;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else {
      // The rest of the BMP, and a lone surrogate, which UTF-8 encoders replace with U+FFFD (3 bytes).
      bytes += 3;
    }
  }
  return bytes;
}

/** `line` framed for a stream transport by RFC 6587 3.4.1 octet counting: "LENGTH SP line". */
export function octetCount(line: string): string {
  return `${utf8ByteLength(line)} ${line}`;
}

/** The code of facility `name` ("local0" is 16), or undefined for a name HAProxy does not know. */
export function parseFacility(name: string): number | undefined {
  return Object.hasOwn(SYSLOG_FACILITIES, name) ? SYSLOG_FACILITIES[name as SyslogFacilityName] : undefined;
}

/** The code of severity `name` ("info" is 6), or undefined for a name HAProxy does not know. */
export function parseSeverity(name: string): number | undefined {
  return Object.hasOwn(SYSLOG_SEVERITIES, name) ? SYSLOG_SEVERITIES[name as SyslogSeverityName] : undefined;
}
