/**
 * Helpers for tests that follow a master's worker processes through Linux's /proc.
 */

import { readdirSync, readFileSync } from "node:fs";

/** True while `pid` exists and is not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The children of `pid`, from every one of its threads (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text !== "") children.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Gone already.
  }
  return children;
}
