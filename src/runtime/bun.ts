/**
 * The runtime contract on Bun.
 *
 * Socket API: node:net, which Bun implements over its native uSockets loop (epoll/kqueue). Native
 * `Bun.listen`/`Bun.connect` are the alternative; they must beat node:net in `npm run bench` to
 * replace it (see docs/performance.md).
 * Quirks:
 * - `process.argv` of a compiled binary is ["bun", "/$bunfs/root/<name>", ...args]: arguments still
 *   start at index 2.
 * - The `Bun` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type { Runtime, SocketApi } from "./types.ts";
import { createNodeProcessRuntime } from "./_node_process.ts";

interface BunGlobal {
  readonly version: string;
  readonly main: string;
}

function bunGlobal(): BunGlobal {
  return (globalThis as unknown as { Bun: BunGlobal }).Bun;
}

/** Socket APIs this module implements, the default first. */
export const BUN_SOCKET_APIS: readonly SocketApi[] = ["node:net"];

/** Builds the Bun runtime with the given socket API. */
export function createBunRuntime(socketApi: SocketApi): Runtime {
  if (socketApi !== "node:net") throw new Error(`Socket API "${socketApi}" is not implemented on bun yet`);
  const bun = bunGlobal();
  return createNodeProcessRuntime({
    name: "bun",
    version: bun.version,
    os: process.platform,
    arch: process.arch,
    socketApi: "node:net",
    // Compiled executables serve their modules from the embedded /$bunfs/ file system.
    compiled: bun.main.includes("$bunfs") || bun.main.includes("~BUN"),
  });
}
