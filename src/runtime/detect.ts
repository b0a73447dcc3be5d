/**
 * Finds which runtime runs us, once, and builds its implementation of the contract.
 *
 * `navigator.userAgent` comes first because Bun and Deno both define `process.versions.node`.
 * All runtime modules are imported statically: compilers drop dynamic imports with computed paths.
 *
 * @module
 */

import type { Runtime, RuntimeName } from "./types.ts";
import { createNodeRuntime } from "./node.ts";
import { createBunRuntime } from "./bun.ts";
import { createDenoRuntime } from "./deno.ts";

/** Names the runtime executing this code. */
export function detectRuntimeName(): RuntimeName {
  const userAgent = typeof navigator === "object" ? String(navigator.userAgent ?? "") : "";
  if (userAgent.startsWith("Bun/")) return "bun";
  if (userAgent.startsWith("Deno/")) return "deno";
  if (userAgent.startsWith("Node.js/")) return "node";
  const globals = globalThis as { Bun?: unknown; Deno?: unknown };
  if (globals.Bun !== undefined) return "bun";
  if (globals.Deno !== undefined) return "deno";
  return "node";
}

let current: Runtime | undefined;

/** The runtime of this process, built on first use. */
export function currentRuntime(): Runtime {
  if (current === undefined) {
    const name = detectRuntimeName();
    current = name === "bun" ? createBunRuntime() : name === "deno" ? createDenoRuntime() : createNodeRuntime();
  }
  return current;
}
