/**
 * net.ipv4.tcp_migrate_req, read and written through /proc for the reload benchmark, and put back
 * as it was on every way out.
 *
 * With it at 0 (the default), a listener that closes while connections wait in its accept queue
 * resets them, even when another listener of its SO_REUSEPORT group stays open; at 1 (Linux 5.14
 * and later) the kernel moves them to another listener of the group.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";

/** Where the setting lives (per network namespace). */
export const MIGRATE_REQ_PATH = "/proc/sys/net/ipv4/tcp_migrate_req";

/** The current value; null when the kernel has no such setting (before 5.14) or it cannot be read. */
export function readMigrateReq(path: string = MIGRATE_REQ_PATH): number | null {
  try {
    const value = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(value) ? value : null;
  } catch {
    return null;
  }
}

/** Sets the value and reads it back; returns why it could not, or null on success. */
export function writeMigrateReq(value: number, path: string = MIGRATE_REQ_PATH): string | null {
  try {
    writeFileSync(path, `${value}\n`);
  } catch (error) {
    return `cannot write "${path}": ${(error as Error).message}`;
  }
  const now = readMigrateReq(path);
  return now === value ? null : `"${path}" reads ${now} after writing ${value}`;
}

/**
 * Remembers the value found at start and puts it back, once, from whichever exit path comes
 * first (the end of the run, a failure, a signal, process exit).
 */
export class MigrateReqGuard {
  readonly original: number | null;
  readonly #path: string;
  #changed = false;

  constructor(path: string = MIGRATE_REQ_PATH) {
    this.#path = path;
    this.original = readMigrateReq(path);
  }

  /** Sets the value for the next runs; returns why it could not, or null. */
  set(value: number): string | null {
    if (this.original === null) {
      return `"${this.#path}" is not available (the setting needs Linux 5.14 or later)`;
    }
    if (readMigrateReq(this.#path) === value) return null;
    const problem = writeMigrateReq(value, this.#path);
    if (problem === null) this.#changed = true;
    return problem;
  }

  /** Puts the original value back if it was changed; synchronous, so that it also runs on process exit. */
  restore(): string | null {
    if (!this.#changed || this.original === null) return null;
    this.#changed = false;
    return writeMigrateReq(this.original, this.#path);
  }
}
