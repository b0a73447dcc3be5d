/**
 * HAProxy's `log-format`: a format string such as `"%ci:%cp [%t] %ft %b/%s"` turned into a
 * function from a {@link LogRecord} to one log line.
 *
 * A log line is written for every session or request, so the format is parsed once, when the
 * configuration is loaded, into literal text and one small writer closure per variable. Writing a
 * line is then a loop that concatenates them: no parsing, no object per line (`new Function` code
 * generation would be faster still, but compiled binaries and Deno's permissions rule it out).
 *
 * Variables and flags are those of HAProxy's configuration manual (8.2.4 "Custom log format"),
 * with these choices:
 * - text variables print "-" when empty (HAProxy's "mandatory" dash) and `""` under +Q, except
 *   %HQ (empty) and %hr/%hs (see below);
 * - +Q quotes every text variable (dates excepted, as HAProxy), +E backslash-escapes `"`, `\`, `[` and `]` in them, +X prints
 *   every number in upper-case hexadecimal (ports on 4 digits and IPv4 addresses on 8, as
 *   HAProxy); a flag that does not apply to a variable is ignored, as in HAProxy;
 * - control characters never reach the line: they become `#XX` (HAProxy's header-capture
 *   encoding), so a request target carrying CR/LF cannot split a line or forge another one;
 * - `%[sample]` expressions are refused, but for the TLS and PROXY-header fetches of
 *   `SAMPLE_FETCHES` written alone (no converter); `%o` is refused.
 *
 * `formatJsonLog` is the structured alternative: one JSON object per line.
 *
 * @module
 */

import type { LogRecord } from "./record.ts";

/** A compiled log format: one log line (without its trailing newline) per record. */
export type LogFormatter = (record: LogRecord) => string;

/** What a compiled format needs besides the record. */
export interface LogFormatOptions {
  /** Print %t, %tr in UTC instead of local time (HAProxy uses local time; tests want determinism). */
  utc?: boolean;
  /** %pid: the process id (src/log cannot ask the machine for it). Default 0. */
  pid?: number;
  /** %H: the host name. Default "" (printed "-"). */
  hostname?: string;
}

/** HAProxy's `option tcplog` format. */
export const TCPLOG_FORMAT = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/** HAProxy's `option httplog` format. */
export const HTTPLOG_FORMAT =
  "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";

/** A log format that cannot be compiled; `column` is the 0-based index in the format string. */
export class LogFormatError extends Error {
  readonly code: "ELOGFORMAT";
  readonly column: number;
  /** The whole format string. */
  readonly format: string;
  constructor(format: string, column: number, message: string) {
    super(message);
    this.name = "LogFormatError";
    this.code = "ELOGFORMAT";
    this.column = column;
    this.format = format;
  }
}

type Writer = (record: LogRecord) => string;

interface Flags {
  quote: boolean;
  escape: boolean;
  hex: boolean;
}

/** The characters to print as `#XX`, and the same set for `replace`. */
interface HashEscapes {
  test: RegExp;
  all: RegExp;
}

/** Control characters and DEL, plus `extra` (already escaped for a character class). */
function hashEscapes(extra: string): HashEscapes {
  const set = "[\\x00-\\x1f\\x7f" + extra + "]";
  return { test: new RegExp(set), all: new RegExp(set, "g") };
}

// HAProxy encodes non-printable bytes of captures as "#XX".
const CONTROL_ESCAPES = hashEscapes("");
// HAProxy's url_encode_map adds '"' (so %{+Q}r cannot be closed early) and '#' (so "#XX" is
// unambiguous) to the request line variables.
const URL_ESCAPES = hashEscapes('"#');
// HAProxy's hdr_encode_map adds the braces that delimit %hr/%hs; '|' is left alone because it is
// the separator between the captured headers joined in the field.
const HEADER_ESCAPES = hashEscapes('"#{}');

const BACKSLASH_TEST = /["\\[\]]/;
const BACKSLASH_ALL = /["\\[\]]/g;

const HEX_DIGITS = "0123456789ABCDEF";

function hashEscape(character: string): string {
  const code = character.charCodeAt(0);
  return "#" + HEX_DIGITS[code >> 4] + HEX_DIGITS[code & 15];
}

function backslashEscape(character: string): string {
  return "\\" + character;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(value: number): string {
  return value < 10 ? "0" + value : "" + value;
}

function pad3(value: number): string {
  return value < 10 ? "00" + value : value < 100 ? "0" + value : "" + value;
}

/** "dd/Mmm/yyyy:HH:MM:SS" of a whole second: the part of HAProxy's dates that a cache can keep. */
function secondText(seconds: number, utc: boolean): string {
  const date = new Date(seconds * 1000);
  if (utc) {
    return pad2(date.getUTCDate()) + "/" + MONTHS[date.getUTCMonth()] + "/" + date.getUTCFullYear() + ":" +
      pad2(date.getUTCHours()) + ":" + pad2(date.getUTCMinutes()) + ":" + pad2(date.getUTCSeconds());
  }
  return pad2(date.getDate()) + "/" + MONTHS[date.getMonth()] + "/" + date.getFullYear() + ":" +
    pad2(date.getHours()) + ":" + pad2(date.getMinutes()) + ":" + pad2(date.getSeconds());
}

/** %t, %tr: "dd/Mmm/yyyy:HH:MM:SS.mmm", the second part recomputed only when the second changes. */
function millisecondDateWriter(get: (record: LogRecord) => number, utc: boolean): Writer {
  let cachedSecond = Number.NaN;
  let cachedText = "";
  return (record) => {
    const time = Math.floor(get(record));
    const second = Math.floor(time / 1000);
    if (second !== cachedSecond) {
      cachedSecond = second;
      cachedText = secondText(second, utc) + ".";
    }
    return cachedText + pad3(time - second * 1000);
  };
}

/**
 * OpenSSL's X509_V_ERR_* numbers of the verification errors node:tls names, for %[ssl_c_verify]
 * (HAProxy prints the number); any other error is 1, X509_V_ERR_UNSPECIFIED.
 */
const X509_VERIFY_CODES: Readonly<Record<string, number>> = {
  UNABLE_TO_GET_ISSUER_CERT: 2,
  CERT_SIGNATURE_FAILURE: 7,
  CERT_NOT_YET_VALID: 9,
  CERT_HAS_EXPIRED: 10,
  DEPTH_ZERO_SELF_SIGNED_CERT: 18,
  SELF_SIGNED_CERT_IN_CHAIN: 19,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 20,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 21,
  CERT_CHAIN_TOO_LONG: 22,
  CERT_REVOKED: 23,
  INVALID_CA: 24,
  INVALID_PURPOSE: 26,
  CERT_UNTRUSTED: 27,
  CERT_REJECTED: 28,
};

function verifyCode(record: LogRecord): number {
  if (record.tlsPeerCertificate !== "invalid") return 0;
  return X509_VERIFY_CODES[record.tlsPeerError] ?? 1;
}

/** HAProxy's TLS and PROXY-header sample fetches a log format may name alone, `%[ssl_fc_sni]`. */
const SAMPLE_FETCHES: Readonly<Record<string, (flags: Flags) => Writer>> = {
  ssl_fc: (flags) => numberWriter((r) => (r.tlsVersion === "" ? 0 : 1), flags),
  ssl_fc_protocol: (flags) => textWriter((r) => r.tlsVersion, flags, CONTROL_ESCAPES, "-"),
  ssl_fc_cipher: (flags) => textWriter((r) => r.tlsCipher, flags, CONTROL_ESCAPES, "-"),
  ssl_fc_sni: (flags) => textWriter((r) => r.tlsServerName, flags, CONTROL_ESCAPES, "-"),
  ssl_fc_alpn: (flags) => textWriter((r) => r.tlsAlpn, flags, CONTROL_ESCAPES, "-"),
  ssl_c_used: (flags) => numberWriter((r) => (r.tlsPeerCertificate === "none" ? 0 : 1), flags),
  ssl_c_verify: (flags) => numberWriter(verifyCode, flags),
  ssl_c_s_dn: (flags) => textWriter((r) => r.tlsPeerSubject, flags, CONTROL_ESCAPES, "-"),
  // The PROXY header of an accept-proxy bind: HAProxy's fetches, fc_pp_tlv with the TLV names it
  // takes written out, since arguments are not parsed here.
  fc_pp_authority: (flags) => textWriter((r) => r.proxied?.authority ?? "", flags, CONTROL_ESCAPES, "-"),
  fc_pp_unique_id: (flags) => textWriter((r) => r.proxied?.uniqueId ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(ALPN)": (flags) => textWriter((r) => r.proxied?.alpn ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(AUTHORITY)": (flags) => textWriter((r) => r.proxied?.authority ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(UNIQUE_ID)": (flags) => textWriter((r) => r.proxied?.uniqueId ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(SSL_VERSION)": (flags) => textWriter((r) => r.proxied?.ssl?.version ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(SSL_CN)": (flags) => textWriter((r) => r.proxied?.ssl?.commonName ?? "", flags, CONTROL_ESCAPES, "-"),
  "fc_pp_tlv(SSL_CIPHER)": (flags) => textWriter((r) => r.proxied?.ssl?.cipher ?? "", flags, CONTROL_ESCAPES, "-"),
};

/**
 * HAProxy's line for a connection that never became a session (its `error-log-format` in 2.6):
 * `127.0.0.1:40710 [07/Dec/2026:17:50:01.250] https/1: SSL handshake failure`, the bind by its
 * position in the frontend (HAProxy numbers them from 1 unless named).
 */
export function formatConnectionError(clientAddress: string, clientPort: number, acceptMs: number, frontend: string, bind: string, reason: string): string {
  const second = Math.floor(acceptMs / 1000);
  const address = clientAddress.includes(":") ? `[${clientAddress}]` : clientAddress;
  return `${address}:${clientPort} [${secondText(second, false)}.${pad3(Math.floor(acceptMs) - second * 1000)}] ${frontend}/${bind}: ${reason}`;
}

/** %T: "dd/Mmm/yyyy:HH:MM:SS +0000", always GMT as HAProxy's `%T`. */
function gmtDateWriter(): Writer {
  let cachedSecond = Number.NaN;
  let cachedText = "";
  return (record) => {
    const second = Math.floor(record.acceptDate / 1000);
    if (second !== cachedSecond) {
      cachedSecond = second;
      cachedText = secondText(second, true) + " +0000";
    }
    return cachedText;
  };
}

function hex(value: number): string {
  // -1 means "never happened" for timers and status: hexadecimal would hide that.
  return value < 0 ? "" + value : value.toString(16).toUpperCase();
}

function numberWriter(get: (record: LogRecord) => number, flags: Flags): Writer {
  if (flags.hex) return (record) => hex(get(record));
  return (record) => "" + get(record);
}

function portWriter(get: (record: LogRecord) => number, flags: Flags): Writer {
  if (flags.hex) return (record) => get(record).toString(16).toUpperCase().padStart(4, "0");
  return (record) => "" + get(record);
}

/**
 * A text value: `#XX` for the characters of `escapes` (checked with one regex test first, so the
 * common clean value costs no copy), then +E, then +Q. `empty` is what an empty value prints.
 */
function formatText(value: string, flags: Flags, escapes: HashEscapes, empty: string): string {
  if (value === "") return flags.quote ? '""' : empty;
  if (escapes.test.test(value)) value = value.replace(escapes.all, hashEscape);
  if (flags.escape && BACKSLASH_TEST.test(value)) value = value.replace(BACKSLASH_ALL, backslashEscape);
  return flags.quote ? '"' + value + '"' : value;
}

function textWriter(
  get: (record: LogRecord) => string,
  flags: Flags,
  escapes: HashEscapes,
  empty: string,
): Writer {
  return (record) => formatText(get(record), flags, escapes, empty);
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An address under +X: HAProxy prints an IPv4 address as 8 hexadecimal digits. */
function hexAddress(address: string): string {
  // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses.
  const plain = address.startsWith("::ffff:") ? address.slice(7) : address;
  const match = IPV4.exec(plain);
  // IPv6 addresses stay in their usual notation.
  if (match === null) return address;
  let text = "";
  for (let i = 1; i <= 4; i++) text += Number(match[i]).toString(16).toUpperCase().padStart(2, "0");
  return text;
}

function addressWriter(get: (record: LogRecord) => string, flags: Flags): Writer {
  if (flags.hex) return (record) => formatText(hexAddress(get(record)), flags, CONTROL_ESCAPES, "-");
  return textWriter(get, flags, CONTROL_ESCAPES, "-");
}

/**
 * %hr, %hs. HAProxy prints nothing for them without captures, and its separator logic drops the
 * space before a field that printed nothing, so the httplog line of a request without captures
 * has no `{} {}`. Here: when the format has a single literal space just before the variable, that
 * space is printed by the variable, and only when there is a capture.
 */
function captureWriter(get: (record: LogRecord) => string, flags: Flags, leadingSpace: boolean): Writer {
  const prefix = (leadingSpace ? " " : "") + (flags.quote ? '"{' : "{");
  const suffix = flags.quote ? '}"' : "}";
  const backslash = flags.escape;
  return (record) => {
    let value = get(record);
    if (value === "") return "";
    if (HEADER_ESCAPES.test.test(value)) value = value.replace(HEADER_ESCAPES.all, hashEscape);
    if (backslash && BACKSLASH_TEST.test(value)) value = value.replace(BACKSLASH_ALL, backslashEscape);
    return prefix + value + suffix;
  };
}

/** %r: HAProxy logs "<BADREQ>" when no valid request line was received. */
function requestLineWriter(flags: Flags): Writer {
  const inner = textWriter(
    (record) => record.method + " " + record.uri + " " + record.httpVersion,
    flags,
    URL_ESCAPES,
    "-",
  );
  const badRequest = flags.quote ? '"<BADREQ>"' : "<BADREQ>";
  return (record) => (record.method === "" ? badRequest : inner(record));
}

function pathOf(uri: string): string {
  const query = uri.indexOf("?");
  return query < 0 ? uri : uri.slice(0, query);
}

function queryOf(uri: string): string {
  const query = uri.indexOf("?");
  return query < 0 ? "" : uri.slice(query);
}

type Factory = (flags: Flags, options: LogFormatOptions) => Writer;

const VARIABLES: Record<string, Factory> = {
  ci: (flags) => addressWriter((r) => r.clientAddress, flags),
  cp: (flags) => portWriter((r) => r.clientPort, flags),
  fi: (flags) => addressWriter((r) => r.frontendAddress, flags),
  fp: (flags) => portWriter((r) => r.frontendPort, flags),
  si: (flags) => addressWriter((r) => r.serverAddress, flags),
  sp: (flags) => portWriter((r) => r.serverPort, flags),
  t: (_flags, options) => millisecondDateWriter((r) => r.acceptDate, options.utc === true),
  tr: (_flags, options) => millisecondDateWriter((r) => r.requestDate, options.utc === true),
  T: () => gmtDateWriter(),
  Ts: (flags) => numberWriter((r) => Math.floor(r.acceptDate / 1000), flags),
  f: (flags) => textWriter((r) => r.frontendName, flags, CONTROL_ESCAPES, "-"),
  // HAProxy marks a frontend connection with TLS by a "~" after the name.
  ft: (flags) => textWriter((r) => r.tlsVersion === "" ? r.frontendName : r.frontendName + "~", flags, CONTROL_ESCAPES, "-"),
  sslv: (flags) => textWriter((r) => r.tlsVersion, flags, CONTROL_ESCAPES, "-"),
  sslc: (flags) => textWriter((r) => r.tlsCipher, flags, CONTROL_ESCAPES, "-"),
  // HAProxy logs the frontend as the backend until one is chosen.
  b: (flags) =>
    textWriter((r) => r.backendName === "" ? r.frontendName : r.backendName, flags, CONTROL_ESCAPES, "-"),
  s: (flags) => textWriter((r) => r.serverName ?? "<NOSRV>", flags, CONTROL_ESCAPES, "-"),
  Th: (flags) => numberWriter((r) => r.handshakeTime, flags),
  Ti: (flags) => numberWriter((r) => r.idleTime, flags),
  TR: (flags) => numberWriter((r) => r.requestTime, flags),
  Tw: (flags) => numberWriter((r) => r.queueTime, flags),
  Tc: (flags) => numberWriter((r) => r.connectTime, flags),
  Tr: (flags) => numberWriter((r) => r.responseTime, flags),
  Ta: (flags) => numberWriter((r) => r.activeTime, flags),
  Tt: (flags) => numberWriter((r) => r.totalTime, flags),
  ST: (flags) => numberWriter((r) => r.status, flags),
  B: (flags) => numberWriter((r) => r.bytesRead, flags),
  U: (flags) => numberWriter((r) => r.bytesUploaded, flags),
  ts: (flags) => textWriter((r) => r.terminationState.slice(0, 2), flags, CONTROL_ESCAPES, "-"),
  tsc: (flags) => textWriter((r) => r.terminationState, flags, CONTROL_ESCAPES, "-"),
  ac: (flags) => numberWriter((r) => r.processConnections, flags),
  fc: (flags) => numberWriter((r) => r.frontendConnections, flags),
  bc: (flags) => numberWriter((r) => r.backendConnections, flags),
  sc: (flags) => numberWriter((r) => r.serverConnections, flags),
  rc: (flags) => {
    // HAProxy marks a redispatched session with a "+" before its retry count.
    const count = numberWriter((r) => r.retries, flags);
    return (record) => (record.redispatched ? "+" + count(record) : count(record));
  },
  sq: (flags) => numberWriter((r) => r.serverQueue, flags),
  bq: (flags) => numberWriter((r) => r.backendQueue, flags),
  // No cookie capture yet: HAProxy prints "-" for an uncaptured cookie.
  CC: (flags) => textWriter(() => "", flags, CONTROL_ESCAPES, "-"),
  CS: (flags) => textWriter(() => "", flags, CONTROL_ESCAPES, "-"),
  r: (flags) => requestLineWriter(flags),
  HM: (flags) => textWriter((r) => r.method, flags, URL_ESCAPES, "-"),
  HU: (flags) => textWriter((r) => r.uri, flags, URL_ESCAPES, "-"),
  HV: (flags) => textWriter((r) => r.httpVersion, flags, URL_ESCAPES, "-"),
  HP: (flags) => textWriter((r) => pathOf(r.uri), flags, URL_ESCAPES, "-"),
  // HAProxy prints an absent query string as nothing, not as "-".
  HQ: (flags) => textWriter((r) => queryOf(r.uri), flags, URL_ESCAPES, ""),
  pid: (flags, options) => {
    const pid = options.pid ?? 0;
    const text = flags.hex ? hex(pid) : "" + pid;
    return () => text;
  },
  H: (flags, options) => {
    const text = formatText(options.hostname ?? "", flags, CONTROL_ESCAPES, "-");
    return () => text;
  },
};

/** Variables whose preceding single space belongs to them (printed only with a capture). */
const CAPTURES: Record<string, (r: LogRecord) => string> = {
  hr: (r) => r.capturedRequestHeaders,
  hs: (r) => r.capturedResponseHeaders,
};

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** Reads the flags of `%{...}` (between `start` and `end`, exclusive) into `flags`. */
function parseFlags(format: string, start: number, end: number, flags: Flags): void {
  let itemStart = start;
  while (itemStart <= end) {
    let itemEnd = format.indexOf(",", itemStart);
    if (itemEnd < 0 || itemEnd > end) itemEnd = end;
    const item = format.slice(itemStart, itemEnd);
    // "%{}" carries no flag at all; an empty item between commas is a mistake.
    if (!(item === "" && start === end)) {
      const sign = item[0];
      const name = item.slice(1);
      if ((sign !== "+" && sign !== "-") || (name !== "Q" && name !== "E" && name !== "X")) {
        throw new LogFormatError(
          format,
          itemStart,
          `Unknown log format flag "${item}" at column ${itemStart} (expected +Q, +E, +X or their - forms)`,
        );
      }
      const on = sign === "+";
      if (name === "Q") flags.quote = on;
      else if (name === "E") flags.escape = on;
      else flags.hex = on;
    }
    itemStart = itemEnd + 1;
  }
}

/**
 * Parses `format` once into literal texts and writers: `literals[i]` comes before `writers[i]`,
 * and `literals` has one more entry, the text after the last variable.
 */
function parse(format: string, options: LogFormatOptions): { literals: string[]; writers: Writer[] } {
  const literals: string[] = [];
  const writers: Writer[] = [];
  let literal = "";
  let i = 0;
  const length = format.length;
  while (i < length) {
    const percent = format.indexOf("%", i);
    if (percent < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, percent);
    if (percent + 1 >= length) {
      throw new LogFormatError(
        format,
        percent,
        `Unexpected "%" at the end of the log format at column ${percent} (write "%%" for a literal %)`,
      );
    }
    if (format[percent + 1] === "%") {
      literal += "%";
      i = percent + 2;
      continue;
    }
    const flags: Flags = { quote: false, escape: false, hex: false };
    let nameStart = percent + 1;
    if (format[nameStart] === "{") {
      const close = format.indexOf("}", nameStart + 1);
      if (close < 0) {
        throw new LogFormatError(
          format,
          percent,
          `Unterminated "%{" at column ${percent}: the flags need a closing "}"`,
        );
      }
      parseFlags(format, nameStart + 1, close, flags);
      nameStart = close + 1;
    }
    if (format[nameStart] === "[") {
      const close = format.indexOf("]", nameStart);
      const expression = format.slice(percent, close < 0 ? length : close + 1);
      const fetch = close < 0 ? "" : format.slice(nameStart + 1, close);
      if (!Object.hasOwn(SAMPLE_FETCHES, fetch)) {
        throw new LogFormatError(
          format,
          percent,
          `Sample expressions %[...] are not supported: "${expression}" at column ${percent}` +
            ` (only the TLS and PROXY-header fetches ${Object.keys(SAMPLE_FETCHES).join(", ")}, without converters)`,
        );
      }
      literals.push(literal);
      writers.push(SAMPLE_FETCHES[fetch]!(flags));
      literal = "";
      i = close + 1;
      continue;
    }
    let nameEnd = nameStart;
    while (nameEnd < length && isLetter(format.charCodeAt(nameEnd))) nameEnd++;
    if (nameEnd === nameStart) {
      const found = nameStart < length ? `"${format[nameStart]}"` : "the end of the format";
      throw new LogFormatError(
        format,
        percent,
        `Expected a log variable name after "%" at column ${percent}, found ${found} (write "%%" for a literal %)`,
      );
    }
    const name = format.slice(nameStart, nameEnd);
    const capture = Object.hasOwn(CAPTURES, name) ? CAPTURES[name] : undefined;
    let writer: Writer;
    if (capture !== undefined) {
      const leadingSpace = literal.endsWith(" ") && !literal.endsWith("  ");
      if (leadingSpace) literal = literal.slice(0, -1);
      writer = captureWriter(capture, flags, leadingSpace);
    } else if (Object.hasOwn(VARIABLES, name)) {
      writer = VARIABLES[name](flags, options);
    } else {
      throw new LogFormatError(format, percent, `Unknown log variable "%${name}" at column ${percent}`);
    }
    literals.push(literal);
    writers.push(writer);
    literal = "";
    i = nameEnd;
  }
  literals.push(literal);
  return { literals, writers };
}

/** Compiles an HAProxy log format once; throws a {@link LogFormatError} for a malformed one. */
export function compileLogFormat(format: string, options: LogFormatOptions = {}): LogFormatter {
  const { literals, writers } = parse(format, options);
  const count = writers.length;
  const head = literals[0];
  if (count === 0) return () => head;
  if (count === 1) {
    const writer = writers[0];
    const tail = literals[1];
    return (record) => head + writer(record) + tail;
  }
  return (record) => {
    let line = head;
    for (let i = 0; i < count; i++) line += writers[i](record) + literals[i + 1];
    return line;
  };
}

/** "tcplog", "httplog" or "json" by name; any other string is compiled as a custom format. */
export function resolveLogFormat(name: string, options: LogFormatOptions = {}): LogFormatter {
  if (name === "tcplog") return compileLogFormat(TCPLOG_FORMAT, options);
  if (name === "httplog") return compileLogFormat(HTTPLOG_FORMAT, options);
  if (name === "json") return formatJsonLog;
  return compileLogFormat(name, options);
}

let isoCachedSecond = Number.NaN;
let isoCachedText = "";

/** ISO 8601 in UTC with milliseconds, the second part cached as for the text formats. */
function isoDate(ms: number): string {
  const time = Math.floor(ms);
  const second = Math.floor(time / 1000);
  if (second !== isoCachedSecond) {
    isoCachedSecond = second;
    isoCachedText = new Date(second * 1000).toISOString().slice(0, 19) + ".";
  }
  return isoCachedText + pad3(time - second * 1000) + "Z";
}

function jsonText(value: string): string {
  // JSON.stringify escapes quotes, backslashes and control characters, so no raw newline can
  // reach the line; it allocates only the result.
  return JSON.stringify(value);
}

/**
 * One JSON object per line, keys in this fixed order: accept_date (ISO 8601, UTC), client_ip,
 * client_port, frontend, backend (null before one was chosen), server (null when none was
 * reached), timers {TR, Tw, Tc, Tr, Ta, Tt} (-1: the phase never completed, as HAProxy), status
 * (-1: none), bytes_read, bytes_uploaded, termination_state, connections {active, frontend,
 * backend, server, retries, redispatched}, queues {server, backend}, request {method, uri,
 * version} (null in tcp mode or without a valid request line).
 */
export function formatJsonLog(record: LogRecord): string {
  const request = record.method === ""
    ? "null"
    : '{"method":' + jsonText(record.method) + ',"uri":' + jsonText(record.uri) + ',"version":' +
      jsonText(record.httpVersion) + "}";
  return '{"accept_date":"' + isoDate(record.acceptDate) +
    '","client_ip":' + jsonText(record.clientAddress) +
    ',"client_port":' + record.clientPort +
    ',"frontend":' + jsonText(record.frontendName) +
    ',"backend":' + (record.backendName === "" ? "null" : jsonText(record.backendName)) +
    ',"server":' + (record.serverName === null ? "null" : jsonText(record.serverName)) +
    ',"timers":{"TR":' + record.requestTime + ',"Tw":' + record.queueTime + ',"Tc":' + record.connectTime +
    ',"Tr":' + record.responseTime + ',"Ta":' + record.activeTime + ',"Tt":' + record.totalTime +
    '},"status":' + record.status +
    ',"bytes_read":' + record.bytesRead +
    ',"bytes_uploaded":' + record.bytesUploaded +
    ',"termination_state":' + jsonText(record.terminationState) +
    ',"connections":{"active":' + record.processConnections + ',"frontend":' + record.frontendConnections +
    ',"backend":' + record.backendConnections + ',"server":' + record.serverConnections +
    ',"retries":' + record.retries + ',"redispatched":' + record.redispatched +
    '},"queues":{"server":' + record.serverQueue + ',"backend":' + record.backendQueue +
    '},"request":' + request + "}";
}
