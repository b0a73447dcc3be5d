/**
 * The logging keys: `log` of [global] (where operator messages go, and the targets `log =
 * "global"` names), and `log`, `log-format`, `dontlognull`, `log-separate-errors` of [defaults] and
 * frontends (HAProxy's `log`, `log-format` / `option tcplog` / `option httplog`, `option
 * dontlognull`, `option log-separate-errors`).
 *
 * A target is a string (`"udp://10.0.0.5:514"`, `"tcp://[::1]"`, `"stdout"`, `"stderr"`) or a table
 * with the string as `target` and header settings beside it. Host names are kept as written and
 * resolved at start. A log format is compiled here once, only to report a malformed one at its key;
 * the engine compiles it again for use.
 *
 * @module
 */

import { LogFormatError, resolveLogFormat } from "../log/log_format.ts";
import { SYSLOG_DEFAULT_PORT } from "../log/log_target.ts";
import type { LogTransport } from "../log/log_target.ts";
import {
  parseFacility,
  parseSeverity,
  SYSLOG_DEFAULT_MAX_LENGTH,
  SYSLOG_FACILITIES,
  SYSLOG_FORMATS,
  SYSLOG_SEVERITIES,
  syslogHostnameProblem,
  syslogTagProblem,
} from "../log/syslog_format.ts";
import type { SyslogFacilityName, SyslogFormat, SyslogSeverityName } from "../log/syslog_format.ts";
import { AddressError, parseServerAddress } from "./address.ts";
import { closestMatch } from "./did_you_mean.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { FrontendLogConfig, LogTargetConfig, ProxyMode } from "./types.ts";

/** The logging keys of [defaults] and frontends. */
export const LOG_KEYS = ["log", "log-format", "dontlognull", "log-separate-errors"] as const;

const TARGET_KEYS = ["target", "format", "facility", "level", "tag", "hostname", "pid", "max-length"] as const;
const FACILITY_NAMES = Object.keys(SYSLOG_FACILITIES) as SyslogFacilityName[];
const SEVERITY_NAMES = Object.keys(SYSLOG_SEVERITIES) as SyslogSeverityName[];

/** The settings of a target that its table leaves out, each with its reason. */
const LOG_TARGET_DEFAULTS = Object.freeze({
  /** HAProxy's default: the facility its documentation uses everywhere. */
  facility: "local0" as SyslogFacilityName,
  /** Traffic lines are "info" and errors "err", so both are sent; operator debug messages are not. */
  level: "info" as SyslogSeverityName,
  /** The program name in the header (HAProxy's is "haproxy"). */
  tag: "proxy",
  /** HAProxy always prints its pid in the header. */
  pid: true,
  /** HAProxy's `len` default. */
  maxLength: SYSLOG_DEFAULT_MAX_LENGTH,
});

/** HAProxy's bounds of `len` on a `log` line. */
const MIN_MAX_LENGTH = 80;
const MAX_MAX_LENGTH = 65_535;

const TARGET_FORMS = `"udp://HOST[:PORT]", "tcp://HOST[:PORT]", "stdout" or "stderr"`;

const NO_TARGETS: readonly LogTargetConfig[] = Object.freeze([]);

/** The targets of [global], for `log = "global"`. */
export interface GlobalLog {
  readonly targets: readonly LogTargetConfig[];
  /** [global]'s `log` was read without error: only then does an empty list deserve a warning. */
  readonly clean: boolean;
}

/** What frontends inherit from [defaults]. */
export interface DefaultsLog {
  readonly global: GlobalLog;
  readonly targets: readonly LogTargetConfig[];
  /** null: by each frontend's mode ("httplog" or "tcplog"). */
  readonly format: string | null;
  readonly dontLogNull: boolean;
  readonly separateErrors: boolean;
  /** Frontends that inherit `format`, and those of them that have targets (to warn when none does). */
  readonly usage: { inherited: number; logging: number };
}

/** Where a target is sent, parsed from its string. */
interface TargetAddress {
  readonly transport: LogTransport;
  readonly host: string;
  readonly port: number;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Why `text` is not a target string, with a hint when one is likely meant. */
function unknownTargetMessage(text: string): string {
  // "unix:///dev/log", "unixgram://...", HAProxy's "unix@/dev/log", or a bare path.
  if (/^unix[a-z]*(:\/|@)/.test(text) || text.startsWith("/")) {
    return `Log target "${text}" is a unix socket, which is not supported (Node and Bun cannot open a unix datagram socket, Deno only behind --unstable-net): have the syslog daemon listen on UDP and use "udp://127.0.0.1:514"`;
  }
  const expected = `Expected a log target ${TARGET_FORMS}, found "${text}"`;
  const stream = closestMatch(text, ["stdout", "stderr"]);
  if (stream !== undefined) return `${expected}: did you mean "${stream}"?`;
  // HAProxy's own forms: "udp@HOST:PORT", "ipv4@HOST:PORT" (UDP), and a bare address (UDP too).
  const prefixed = /^(udp|tcp|ipv)[46]?@(.+)$/.exec(text);
  if (prefixed !== null) return `${expected}: did you mean "${prefixed[1] === "tcp" ? "tcp" : "udp"}://${prefixed[2]}"?`;
  if (!text.includes("://") && /[.:]/.test(text)) {
    try {
      parseServerAddress(text);
      return `${expected}: did you mean "udp://${text}"?`;
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
    }
  }
  return expected;
}

/** The transport, host and port of a target string, or why it is not one. */
function parseTargetText(text: string): TargetAddress | string {
  if (text === "stdout" || text === "stderr") return { transport: text, host: "", port: 0 };
  const transport = text.startsWith("udp://") ? "udp" : text.startsWith("tcp://") ? "tcp" : undefined;
  if (transport === undefined) return unknownTargetMessage(text);
  const address = text.slice("udp://".length);
  if (address === "") return `Invalid log target "${text}": missing host`;
  if (address.trim() !== address) return `Invalid log target "${text}": remove the spaces around the address`;
  // parseServerAddress takes a bare IPv6 literal as a host without port, so "udp://::1:514" would be
  // host "::1:514" on port 514: in a URL, IPv6 goes in brackets.
  if (!address.startsWith("[") && address.indexOf(":") !== address.lastIndexOf(":")) {
    return `Invalid log target "${text}": put an IPv6 address in brackets, as in "${transport}://[::1]:514"`;
  }
  try {
    const parsed = parseServerAddress(address);
    return { transport, host: parsed.host, port: parsed.port ?? SYSLOG_DEFAULT_PORT };
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    return `Invalid log target "${text}": ${lowerFirst(error.message)}`;
  }
}

function defaultFormat(transport: LogTransport | undefined, hostname: string | undefined): SyslogFormat {
  // A standard stream is read by a person or a collector that adds its own time stamp, so it gets
  // the bare line. A syslog server gets HAProxy's default, its legacy "local" header without a host
  // name, which `log-send-hostname` (our `hostname`) switches to rfc3164.
  if (transport === "stdout" || transport === "stderr") return "raw";
  return hostname === undefined ? "local" : "rfc3164";
}

/** One target: a string, or a table with `target` and header settings. */
function readTarget(reader: Reader, path: ConfigPath, value: unknown): LogTargetConfig | undefined {
  if (typeof value === "string") {
    const address = parseTargetText(value);
    if (typeof address === "string") {
      reader.error(path, address);
      return undefined;
    }
    return buildTarget(value, address, {});
  }
  if (!isTable(value)) {
    reader.error(path, `Expected a log target such as "udp://127.0.0.1:514" or { target = "stdout", level = "notice" }, found ${describe(value)}`);
    return undefined;
  }
  const table = reader.table(path, value, TARGET_KEYS)!;
  if (table.target === undefined) reader.error(path, `Missing "target": give ${TARGET_FORMS}`);
  const text = reader.string([...path, "target"], table.target);
  let address: TargetAddress | undefined;
  if (text !== undefined) {
    const parsed = parseTargetText(text);
    if (typeof parsed === "string") reader.error([...path, "target"], parsed);
    else address = parsed;
  }
  const settings: TargetSettings = {
    format: reader.oneOf([...path, "format"], table.format, SYSLOG_FORMATS),
    facility: reader.oneOf([...path, "facility"], table.facility, FACILITY_NAMES),
    level: reader.oneOf([...path, "level"], table.level, SEVERITY_NAMES),
    tag: reader.string([...path, "tag"], table.tag),
    hostname: reader.string([...path, "hostname"], table.hostname),
    pid: reader.boolean([...path, "pid"], table.pid),
    maxLength: reader.integer([...path, "max-length"], table["max-length"], MIN_MAX_LENGTH, MAX_MAX_LENGTH),
  };
  // The framer's rules, so that a target the configuration accepts can always be built at start.
  const format = settings.format ?? defaultFormat(address?.transport, settings.hostname);
  const tagProblem = settings.tag === undefined ? null : syslogTagProblem(settings.tag, format);
  if (tagProblem !== null) reader.error([...path, "tag"], tagProblem);
  const hostnameProblem = settings.hostname === undefined ? null : syslogHostnameProblem(settings.hostname, format);
  if (hostnameProblem !== null) reader.error([...path, "hostname"], hostnameProblem);
  if (text === undefined || address === undefined || tagProblem !== null || hostnameProblem !== null) return undefined;
  return buildTarget(text, address, settings);
}

/** The settings a target table gave (undefined: absent or invalid). */
interface TargetSettings {
  readonly format?: SyslogFormat;
  readonly facility?: SyslogFacilityName;
  readonly level?: SyslogSeverityName;
  readonly tag?: string;
  readonly hostname?: string;
  readonly pid?: boolean;
  readonly maxLength?: number;
}

function buildTarget(text: string, address: TargetAddress, settings: TargetSettings): LogTargetConfig {
  return Object.freeze({
    target: text,
    transport: address.transport,
    host: address.host,
    port: address.port,
    format: settings.format ?? defaultFormat(address.transport, settings.hostname),
    facility: parseFacility(settings.facility ?? LOG_TARGET_DEFAULTS.facility)!,
    level: parseSeverity(settings.level ?? LOG_TARGET_DEFAULTS.level)!,
    tag: settings.tag ?? LOG_TARGET_DEFAULTS.tag,
    hostname: settings.hostname ?? null,
    pid: settings.pid ?? LOG_TARGET_DEFAULTS.pid,
    maxLength: settings.maxLength ?? LOG_TARGET_DEFAULTS.maxLength,
  });
}

/**
 * A `log` value: false or [] (none), a target, or an array of targets. Outside [global] (`global`
 * given), "global" stands for [global]'s targets, alone (the same array) or as an array entry
 * (the same objects). `nothing` ends the warning for a "global" that leaves no target at all.
 */
function readTargets(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  global: GlobalLog | undefined,
  nothing: string,
): readonly LogTargetConfig[] | undefined {
  if (value === undefined) return undefined;
  if (value === false) return NO_TARGETS;
  if (value === "global" && global !== undefined) {
    if (global.targets.length === 0 && global.clean) reader.warn(path, `[global] has no log targets, so ${nothing}`);
    return global.targets;
  }
  if (typeof value === "string" || isTable(value)) {
    if (value === "global") {
      reader.error(path, `"global" stands for the targets of [global]: use it in [defaults] or a frontend, and list the targets here`);
      return undefined;
    }
    const target = readTarget(reader, path, value);
    return target === undefined ? undefined : Object.freeze([target]);
  }
  if (!Array.isArray(value)) {
    const forms = `a log target such as "udp://127.0.0.1:514" or { target = "stdout" }, an array of them, or false`;
    reader.error(path, `Expected ${global === undefined ? "" : `"global", `}${forms}, found ${describe(value)}`);
    return undefined;
  }
  const targets: LogTargetConfig[] = [];
  let globalPath: ConfigPath | undefined;
  value.forEach((item: unknown, index) => {
    const itemPath = [...path, index];
    if (item === "global" && global !== undefined) {
      if (globalPath !== undefined) {
        reader.error(itemPath, `"global" is listed twice`);
        return;
      }
      globalPath = itemPath;
      targets.push(...global.targets);
      return;
    }
    if (item === "global") {
      reader.error(itemPath, `"global" stands for the targets of [global]: use it in [defaults] or a frontend, and list the targets here`);
      return;
    }
    const target = readTarget(reader, itemPath, item);
    if (target !== undefined) targets.push(target);
  });
  if (globalPath !== undefined && global !== undefined && global.targets.length === 0 && global.clean) {
    reader.warn(globalPath, `[global] has no log targets, so ${targets.length === 0 ? nothing : `"global" adds none here`}`);
  }
  return Object.freeze(targets);
}

/** `log` of [global]. */
export function readGlobalLog(reader: Reader, value: unknown): GlobalLog {
  const issues = reader.issues.length;
  const targets = readTargets(reader, ["global", "log"], value, undefined, "") ?? NO_TARGETS;
  return { targets, clean: reader.issues.length === issues };
}

/** A `log-format`, compiled once to report a malformed one at its key with the column. */
function readLogFormat(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const format = reader.string(path, value);
  if (format === undefined) return undefined;
  try {
    resolveLogFormat(format);
  } catch (error) {
    if (!(error instanceof LogFormatError)) throw error;
    // The position leads the message, counted from 1 as in file:line:col; the compiler's own
    // 0-based "at column N" is taken out of the reason.
    const reason = lowerFirst(error.message.replace(` at column ${error.column}`, ""));
    reader.error(path, `Invalid log-format at column ${error.column + 1}: ${reason}`);
    return undefined;
  }
  return format;
}

/** The logging keys of [defaults]. */
export function readDefaultsLog(reader: Reader, table: Table, global: GlobalLog): DefaultsLog {
  const path = ["defaults"];
  return {
    global,
    targets: readTargets(reader, [...path, "log"], table.log, global, "the frontends that inherit this log nothing") ??
      NO_TARGETS,
    format: readLogFormat(reader, [...path, "log-format"], table["log-format"]) ?? null,
    dontLogNull: reader.boolean([...path, "dontlognull"], table.dontlognull) ?? false,
    separateErrors: reader.boolean([...path, "log-separate-errors"], table["log-separate-errors"]) ?? false,
    usage: { inherited: 0, logging: 0 },
  };
}

/** The logging keys of frontend `name` at `path`, over what [defaults] gives. */
export function readFrontendLog(
  reader: Reader,
  path: ConfigPath,
  table: Table,
  inherited: DefaultsLog,
  mode: ProxyMode,
  name: string,
): FrontendLogConfig {
  const targets = readTargets(reader, [...path, "log"], table.log, inherited.global, "this frontend logs nothing") ??
    inherited.targets;
  const formatPath = [...path, "log-format"];
  const own = readLogFormat(reader, formatPath, table["log-format"]);
  if (own === undefined && table["log-format"] === undefined && inherited.format !== null) {
    inherited.usage.inherited++;
    if (targets.length > 0) inherited.usage.logging++;
  }
  let format = own ?? inherited.format ?? (mode === "http" ? "httplog" : "tcplog");
  if (own !== undefined && targets.length === 0) {
    reader.warn(formatPath, `"log-format" has no effect: frontend "${name}" has no log targets (add log = "global" or targets of its own)`);
  }
  if (mode === "tcp" && format === "httplog") {
    // As HAProxy: `option httplog` in a tcp proxy falls back to `option tcplog`, with a warning.
    if (own !== undefined && targets.length > 0) {
      reader.warn(formatPath, `"httplog" needs http mode: frontend "${name}" is in tcp mode and logs with "tcplog" instead`);
    } else if (own === undefined && targets.length > 0) {
      reader.warn(
        path,
        `Frontend "${name}" is in tcp mode and inherits log-format "httplog" from [defaults], which needs http mode: it logs with "tcplog" instead (give it its own log-format)`,
      );
    }
    format = "tcplog";
  }
  return Object.freeze({
    targets,
    format,
    dontLogNull: reader.boolean([...path, "dontlognull"], table.dontlognull) ?? inherited.dontLogNull,
    separateErrors: reader.boolean([...path, "log-separate-errors"], table["log-separate-errors"]) ?? inherited.separateErrors,
  });
}

/** Once every frontend is read: a warning for a [defaults] log-format that no frontend logs with. */
export function warnUnusedDefaultsLogFormat(reader: Reader, defaults: DefaultsLog): void {
  if (defaults.format === null || defaults.usage.inherited === 0 || defaults.usage.logging > 0) return;
  reader.warn(
    ["defaults", "log-format"],
    `"log-format" has no effect: no frontend that inherits it has log targets (add a "log" to [defaults] or to the frontends)`,
  );
}
