/**
 * The runtime contract on Bun.
 *
 * Socket APIs: "native", `Bun.listen`/`Bun.connect` (`_bun_native.ts`), the default, and node:net,
 * which Bun implements over the same uSockets loop (PROXY_SOCKETS=node:net selects it).
 * Why native (npm run bench, 2026-11-24, tcp mode, ratios against HAProxy in the same run,
 * docs/performance.md): CPU per request 1.06x against 1.10x with node:net, 1 MB throughput 1.98x
 * against 1.83x, and 10,000 idle connections in 79 MB (3.3 kB each, HAProxy's figure) against
 * 106 MB (6.2 kB each). Name lookup is node:dns with either API.
 * Quirks:
 * - `process.argv` of a compiled binary is ["bun", "/$bunfs/root/<name>", ...args]: arguments still
 *   start at index 2.
 * - Native sockets (details in `_bun_native.ts`): `socket.write` takes what the kernel takes and
 *   buffers nothing (we queue the rest); `socket.end()` closes rather than half-closes, so the FIN
 *   is `shutdown()`; the peer's FIN after ours comes as `close` alone, never `end`; `close()` calls
 *   the close handler synchronously; a partial write re-arms reading and undoes `pause()`; uSockets
 *   reads on for a few rounds after `pause()` in the same wakeup; every connect failure is
 *   ECONNREFUSED; Nagle is off on every socket; no listen backlog and no accept errors in JS.
 * - Datagram sockets (node:dgram, `_node_dgram.ts`), `writeOutput` (node:fs `write`, which Bun runs
 *   off the JS thread) and `hostname` are the same with either socket API.
 * - The `Bun` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type { Runtime, SocketApi } from "./types.ts";
import { createNodeProcessRuntime } from "./_node_process.ts";
import { connectBunNative, listenBunNative } from "./_bun_native.ts";

interface BunGlobal {
  readonly version: string;
  readonly main: string;
}

function bunGlobal(): BunGlobal {
  return (globalThis as unknown as { Bun: BunGlobal }).Bun;
}

/** Socket APIs this module implements, the default first. */
export const BUN_SOCKET_APIS: readonly SocketApi[] = ["native", "node:net"];

/** Builds the Bun runtime with the given socket API. */
export function createBunRuntime(socketApi: SocketApi): Runtime {
  if (!BUN_SOCKET_APIS.includes(socketApi)) {
    throw new Error(`Socket API "${socketApi}" is not implemented on bun`);
  }
  const bun = bunGlobal();
  const runtime = createNodeProcessRuntime({
    name: "bun",
    version: bun.version,
    os: process.platform,
    arch: process.arch,
    socketApi,
    // Compiled executables serve their modules from the embedded /$bunfs/ file system.
    compiled: bun.main.includes("$bunfs") || bun.main.includes("~BUN"),
  });
  if (socketApi === "node:net") return runtime;
  return { ...runtime, listen: listenBunNative, connect: connectBunNative };
}
