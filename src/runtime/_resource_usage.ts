/**
 * Memory and CPU figures of this process through node:process, which Node, Bun and Deno all
 * implement (Deno without any permission), for the stats' process information.
 *
 * @module
 */

import process from "node:process";
import type { ResourceUsage } from "./types.ts";

/** The process's resident set, JS heap in use and CPU time so far. */
export function resourceUsageNode(): ResourceUsage {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: memory.rss, heapUsed: memory.heapUsed, cpuMicros: cpu.user + cpu.system };
}
