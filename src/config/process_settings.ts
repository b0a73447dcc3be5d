/**
 * The process keys of [global]: `workers`, `cpu-map`, `user`, `group`, `chroot` and
 * `hard-stop-after`.
 *
 * Mostly their shape is checked here: whether the user exists, whether this runtime can drop
 * privileges, chroot or pin cores, and how many cores "auto" means are answered at start
 * (`src/lifecycle/`), since a configuration may be checked on another machine. The `chroot`
 * directory is the exception, as errorfiles are: a configuration loaded from files has it looked at
 * (`chrootPath` names it for the loader), so `proxy check` refuses a missing one at its position.
 *
 * @module
 */

import { describe, isTable } from "./reader.ts";
import type { Reader, Table } from "./reader.ts";
import type { CpuMapConfig, CpuSets } from "./types.ts";

/** More workers than this is a typo, not a machine. */
export const MAX_WORKERS = 256;
/** Linux's default CPU_SETSIZE: core numbers from 0 to 1023. */
export const MAX_CPU = 1023;
/** Names accepted by the system tools that create accounts (useradd's default pattern, plus `.`). */
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
/** Ids above this are not valid uid_t/gid_t values (2^32 - 1 is the "no id" marker). */
const MAX_ID = 4_294_967_294;

/** The process keys of [global], read. */
export interface ProcessSettings {
  readonly hardStopAfter: number | null;
  readonly workers: number | "auto";
  readonly user: string | number | null;
  readonly group: string | number | null;
  readonly cpuMap: CpuMapConfig | null;
  readonly chroot: string | null;
}

/** Reads the process keys of the [global] table. */
export function readProcessSettings(reader: Reader, table: Record<string, unknown>): ProcessSettings {
  return {
    hardStopAfter: reader.duration(["global", "hard-stop-after"], table["hard-stop-after"], 1) ?? null,
    workers: readWorkers(reader, table.workers),
    user: readAccount(reader, "user", table.user),
    group: readAccount(reader, "group", table.group),
    cpuMap: readCpuMap(reader, table["cpu-map"]),
    chroot: readChroot(reader, table.chroot),
  };
}

/**
 * The `chroot` directory a raw document names, for the loader to look at before validating;
 * undefined when there is none or it is not an absolute path (the validator says why).
 */
export function chrootPath(document: unknown): string | undefined {
  const global = isTable(document) ? document.global : undefined;
  const value = isTable(global) ? (global as Table).chroot : undefined;
  return typeof value === "string" && value.startsWith("/") ? value : undefined;
}

/**
 * An absolute path: relative to what would depend on the directory the proxy was started from,
 * which a service manager chooses. Checked to be a directory when the loader looked.
 */
function readChroot(reader: Reader, value: unknown): string | null {
  if (value === undefined) return null;
  const path = ["global", "chroot"];
  if (typeof value !== "string" || !value.startsWith("/") || value.includes("\0")) {
    reader.error(path, `Expected the absolute path of a directory such as "/var/empty", found ${describe(value)}`);
    return null;
  }
  const found = reader.pathCheck?.(value);
  if (found === undefined || found === "directory") return value;
  if (typeof found === "object") {
    reader.error(path, `Cannot check the chroot directory "${value}": ${found.error}`);
  } else if (found === "missing") {
    reader.error(path, `Chroot directory "${value}" does not exist: create it (empty, owned by root, mode 755)`);
  } else {
    reader.error(path, `Chroot "${value}" is not a directory`);
  }
  return null;
}

function readWorkers(reader: Reader, value: unknown): number | "auto" {
  if (value === undefined) return 1;
  if (value === "auto") return "auto";
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_WORKERS) return value;
  reader.error(["global", "workers"], `Expected a number of processes from 1 to ${MAX_WORKERS} or "auto", found ${describe(value)}`);
  return 1;
}

function readAccount(reader: Reader, key: "user" | "group", value: unknown): string | number | null {
  if (value === undefined) return null;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_ID) return value;
  if (typeof value === "string" && ACCOUNT_NAME.test(value)) return value;
  reader.error(["global", key], `Expected a ${key} name or a numeric id, found ${describe(value)}`);
  return null;
}

function readCpuMap(reader: Reader, value: unknown): CpuMapConfig | null {
  if (value === undefined) return null;
  if (value === "auto") return "auto";
  if (!isTable(value)) {
    reader.error(["global", "cpu-map"], `Expected "auto" or a table of worker number = cores such as { 1 = "0", 2 = "1-3" }, found ${describe(value)}`);
    return null;
  }
  let all: readonly number[] | null = null;
  const byWorker: Record<number, readonly number[]> = {};
  for (const [key, cores] of Object.entries(value)) {
    const path = ["global", "cpu-map", key];
    const list = readCoreList(reader, path, cores);
    if (key === "all") {
      all = list;
      continue;
    }
    const worker = /^[1-9][0-9]*$/.test(key) ? Number(key) : NaN;
    if (!(worker <= MAX_WORKERS)) {
      reader.error(path, `Expected a worker number from 1 to ${MAX_WORKERS} or "all" as key, found "${key}"`);
      continue;
    }
    if (list !== null) byWorker[worker] = list;
  }
  const sets: CpuSets = { all, byWorker: Object.freeze(byWorker) };
  return Object.freeze(sets);
}

/** "0-3,6" or 2 or [0, 1] as sorted, distinct core numbers. */
function readCoreList(reader: Reader, path: (string | number)[], value: unknown): readonly number[] | null {
  const cores = new Set<number>();
  const fail = () => {
    reader.error(path, `Expected cores such as "0-3,6", 2 or [0, 1] (each from 0 to ${MAX_CPU}), found ${describe(value)}`);
    return null;
  };
  const add = (core: number) => Number.isInteger(core) && core >= 0 && core <= MAX_CPU && (cores.add(core), true);
  if (typeof value === "number") {
    if (!add(value)) return fail();
  } else if (Array.isArray(value) && value.length > 0) {
    for (const item of value) if (typeof item !== "number" || !add(item)) return fail();
  } else if (typeof value === "string") {
    for (const part of value.split(",")) {
      const range = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      if (range === null) return fail();
      const first = Number(range[1]);
      const last = range[2] === undefined ? first : Number(range[2]);
      if (last < first || last > MAX_CPU) return fail();
      for (let core = first; core <= last; core++) add(core);
    }
  } else {
    return fail();
  }
  return Object.freeze([...cores].sort((a, b) => a - b));
}
