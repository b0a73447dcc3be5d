/**
 * Open-file limits: every idle connection costs the proxy two descriptors (client and origin side)
 * and the benchmark one, so the memory scenario is sized by what the limits allow.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The most we ask for: two per connection for 10,000 connections and more, with headroom. */
export const WANTED_FILE_LIMIT = 65_536;

/** Soft and hard RLIMIT_NOFILE of this process, from /proc/self/limits. */
export function ownFileLimits(): { soft: number; hard: number } {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    readFileSync("/proc/self/limits", "utf8"),
  );
  const parse = (text: string | undefined): number =>
    text === undefined || text === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(text);
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

/**
 * The limit children get: what we want, unless the hard limit is lower. Raising a hard limit needs
 * CAP_SYS_RESOURCE, which containers often drop even for root.
 */
export function childFileLimit(): number {
  return Math.min(WANTED_FILE_LIMIT, ownFileLimits().hard);
}

/** Raises this process's soft limit as far as the hard limit allows; returns the soft limit after. */
export function raiseOwnFileLimit(wanted: number): number {
  const { soft, hard } = ownFileLimits();
  if (soft >= wanted) return soft;
  const target = Math.min(wanted, hard);
  spawnSync("prlimit", [
    "--pid",
    String(process.pid),
    `--nofile=${target}:${hard === Number.MAX_SAFE_INTEGER ? "unlimited" : hard}`,
  ], {
    stdio: "ignore",
  });
  return ownFileLimits().soft;
}

/** Idle connections a single proxy process can hold through with `limit` descriptors. */
export function connectionsWithinLimit(limit: number): number {
  // Two descriptors per proxied connection; the rest covers listeners, logs, the runtime's own.
  return Math.max(0, Math.floor((limit - 256) / 2));
}
