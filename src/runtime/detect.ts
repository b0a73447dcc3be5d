/**
 * Finds which runtime runs us, once, and builds its implementation of the contract.
 *
 * `navigator.userAgent` comes first because Bun and Deno both define `process.versions.node`.
 * All runtime modules are imported statically: compilers drop dynamic imports with computed paths.
 *
 * @module
 */

import type { Runtime, RuntimeName, SocketApi } from "./types.ts";
import { createNodeRuntime } from "./node.ts";
import { BUN_SOCKET_APIS, createBunRuntime } from "./bun.ts";
import { createDenoRuntime, DENO_SOCKET_APIS } from "./deno.ts";

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

/** Environment variable that picks a runtime's socket API ("node:net" or "native"), for benchmarks. */
export const SOCKET_API_VARIABLE = "PROXY_SOCKETS";

/** Socket APIs a runtime module implements; the first is its default. */
export function socketApisOf(name: RuntimeName): readonly SocketApi[] {
  if (name === "bun") return BUN_SOCKET_APIS;
  if (name === "deno") return DENO_SOCKET_APIS;
  return ["node:net"];
}

/** Builds the runtime `name` with the given socket API (its default when omitted). */
export function createRuntime(name: RuntimeName, socketApi?: SocketApi): Runtime {
  const api = socketApi ?? socketApisOf(name)[0]!;
  if (!socketApisOf(name).includes(api)) {
    throw new Error(`Invalid PROXY_SOCKETS "${api}": ${name} offers ${socketApisOf(name).map((each) => `"${each}"`).join(" or ")}`);
  }
  if (name === "bun") return createBunRuntime(api);
  if (name === "deno") return createDenoRuntime(api);
  return createNodeRuntime();
}

let current: Runtime | undefined;

/** The runtime of this process, built on first use (socket API from PROXY_SOCKETS when set). */
export function currentRuntime(): Runtime {
  if (current === undefined) {
    const name = detectRuntimeName();
    const requested = readEnvironment(SOCKET_API_VARIABLE);
    current = createRuntime(name, requested === undefined || requested === "" ? undefined : requested as SocketApi);
  }
  return current;
}

function readEnvironment(variable: string): string | undefined {
  // Read before any runtime exists: both Node-style and Deno expose it; Deno needs --allow-env.
  const globals = globalThis as { process?: { env?: Record<string, string | undefined> } };
  try {
    return globals.process?.env?.[variable];
  } catch {
    return undefined;
  }
}
