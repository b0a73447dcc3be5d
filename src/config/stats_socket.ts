/**
 * `stats-socket` in [global]: where the runtime API listens (HAProxy's `stats socket`).
 *
 * ```toml
 * [global]
 * stats-socket = "/run/proxy.sock"                       # UNIX socket, mode 0600, level operator
 * stats-socket = { path = "/run/proxy.sock", mode = "0660", level = "admin" }
 * stats-socket = [
 *   { path = "/run/proxy.sock", level = "admin" },
 *   { address = "127.0.0.1:9999", level = "user" },      # TCP: read-only monitoring
 * ]
 * ```
 *
 * A table may name a `path`, an `address` or both (two sockets with the same level). The admin
 * level on a TCP address is refused unless `expose-admin = true`, and then warned about: anyone
 * who can reach the address can take servers out.
 *
 * @module
 */

import { AddressError, parseBindAddress } from "./address.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader } from "./reader.ts";
import { DEFAULTS } from "./types.ts";
import type { StatsSocketConfig } from "./types.ts";
import { ACCESS_LEVELS, DEFAULT_ACCESS_LEVEL } from "../control/types.ts";
import type { AccessLevel } from "../control/types.ts";

/** Keys of a `stats-socket` table. */
export const STATS_SOCKET_KEYS = ["path", "mode", "level", "address", "expose-admin", "timeout"] as const;

/**
 * Longest socket path in bytes: the kernel's 107 (Linux sun_path less its NUL) less ".PID.tmp",
 * the name it is bound under first, for a pid of up to 7 digits.
 */
export const MAX_STATS_SOCKET_PATH_BYTES = 107 - ".1234567.tmp".length;

/** A mode written as octal text ("0600", "600", "0o600"). */
const OCTAL_MODE = /^(?:0o?)?([0-7]{3,4})$/;

/** A socket read, with where it was written (for the checks that span the document). */
export interface LocatedStatsSocket {
  readonly config: StatsSocketConfig;
  readonly path: ConfigPath;
}

/** Reads `global.stats-socket`: a path, a table, or an array of them. */
export function readStatsSockets(reader: Reader, value: unknown): LocatedStatsSocket[] {
  if (value === undefined) return [];
  const path: ConfigPath = ["global", "stats-socket"];
  if (Array.isArray(value)) {
    if (value.length === 0) {
      reader.error(path, `Expected a socket path, a table or a non-empty array of them, found an empty array`);
      return [];
    }
    return value.flatMap((item: unknown, index) => readOne(reader, [...path, index], item));
  }
  return readOne(reader, path, value);
}

function readOne(reader: Reader, path: ConfigPath, value: unknown): LocatedStatsSocket[] {
  if (typeof value === "string") {
    const socketPath = readPath(reader, path, value);
    if (socketPath === undefined) return [];
    const config: StatsSocketConfig = Object.freeze({
      kind: "unix",
      path: socketPath,
      mode: DEFAULTS.statsSocketMode,
      level: DEFAULT_ACCESS_LEVEL,
      timeout: DEFAULTS.statsSocketTimeout,
    });
    return [{ config, path }];
  }
  if (!isTable(value)) {
    reader.error(path, `Expected a socket path such as "/run/proxy.sock" or a table such as { path = "/run/proxy.sock", level = "admin" }, found ${describe(value)}`);
    return [];
  }
  const table = reader.table(path, value, STATS_SOCKET_KEYS) ?? {};
  if (table.path === undefined && table.address === undefined) {
    reader.error(path, `Missing "path" or "address": where the runtime API listens, e.g. path = "/run/proxy.sock"`);
    return [];
  }
  const level = reader.oneOf<AccessLevel>([...path, "level"], table.level, ACCESS_LEVELS) ?? DEFAULT_ACCESS_LEVEL;
  const timeout = reader.duration([...path, "timeout"], table.timeout, 1) ?? DEFAULTS.statsSocketTimeout;
  const exposeAdmin = reader.boolean([...path, "expose-admin"], table["expose-admin"]);
  const sockets: LocatedStatsSocket[] = [];
  if (table.path !== undefined) {
    const socketPath = readPath(reader, [...path, "path"], table.path);
    const mode = readMode(reader, [...path, "mode"], table.mode);
    if (socketPath !== undefined && mode !== undefined) {
      sockets.push({ config: Object.freeze({ kind: "unix", path: socketPath, mode, level, timeout }), path: [...path, "path"] });
    }
  } else if (table.mode !== undefined) {
    reader.error([...path, "mode"], `"mode" is the permission of a UNIX socket file: give a "path" too, or drop it`);
  }
  if (table.address !== undefined) {
    const tcp = readAddress(reader, [...path, "address"], table.address);
    if (tcp !== undefined) {
      if (level === "admin" && exposeAdmin !== true) {
        reader.error(
          [...path, "level"],
          `The runtime API's admin level is never exposed on a network address unless asked: anyone who can reach ` +
            `"${tcp.text}" could take servers out and end sessions. Set expose-admin = true to mean it, or use level "operator" or "user"`,
        );
      } else {
        if (level === "admin") {
          reader.warn(
            [...path, "expose-admin"],
            `The runtime API's admin level is exposed on TCP address "${tcp.text}" (expose-admin = true): anyone who can reach it can take servers out and end sessions`,
          );
        }
        sockets.push({ config: Object.freeze({ kind: "tcp", ...tcp, level, timeout }), path: [...path, "address"] });
      }
    }
  } else if (exposeAdmin !== undefined) {
    reader.error([...path, "expose-admin"], `"expose-admin" is about a TCP "address": give one, or drop it`);
  }
  if (exposeAdmin === true && level !== "admin" && table.address !== undefined) {
    reader.warn([...path, "expose-admin"], `"expose-admin" has no effect at level "${level}": only the admin level is kept off the network`);
  }
  return sockets;
}

function readPath(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  if (typeof value !== "string" || value === "" || value.includes("\0")) {
    reader.error(path, `Expected the path of a UNIX socket such as "/run/proxy.sock", found ${value === "" ? "an empty string" : describe(value)}`);
    return undefined;
  }
  const bytes = new TextEncoder().encode(value).length;
  if (bytes > MAX_STATS_SOCKET_PATH_BYTES) {
    reader.error(
      path,
      `Socket path "${value}" is too long: ${bytes} bytes, at most ${MAX_STATS_SOCKET_PATH_BYTES} (the kernel takes 107, and the socket is bound as "PATH.PID.tmp" first)`,
    );
    return undefined;
  }
  return value;
}

/** "0600", "600", "0o600", or an integer such as TOML's 0o600; permission bits only. */
function readMode(reader: Reader, path: ConfigPath, value: unknown): number | undefined {
  if (value === undefined) return DEFAULTS.statsSocketMode;
  let mode = NaN;
  if (typeof value === "string") {
    const match = OCTAL_MODE.exec(value);
    if (match !== null) mode = parseInt(match[1]!, 8);
  } else if (typeof value === "number" && Number.isInteger(value)) {
    mode = value;
  }
  if (!(mode >= 0 && mode <= 0o777)) {
    reader.error(path, `Expected a file mode in octal such as "0600" or "0660" (or TOML's 0o600), found ${describe(value)}`);
    return undefined;
  }
  return mode;
}

function readAddress(reader: Reader, path: ConfigPath, value: unknown): { text: string; host: string; port: number } | undefined {
  if (typeof value !== "string" || value === "") {
    reader.error(path, `Expected a TCP address such as "127.0.0.1:9999", found ${value === "" ? "an empty string" : describe(value)}`);
    return undefined;
  }
  try {
    const address = parseBindAddress(value);
    return { text: value, host: address.host, port: address.port };
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    reader.error(path, error.message);
    return undefined;
  }
}
