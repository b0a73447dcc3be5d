/**
 * The runtime contract on Node.js (>= 22.18, 24 recommended).
 *
 * Socket API: node:net (libuv, epoll/kqueue/IOCP). It is Node's only TCP API; nothing to choose.
 * Quirks:
 * - `process.on("SIGUSR1")` disables Node's built-in inspector activation on that signal, as we want.
 * - Writing to a piped stdout is asynchronous on POSIX; a line written just before exit can be lost,
 *   so exit paths flush through the write callback where it matters.
 *
 * @module
 */

import type { Runtime } from "./types.ts";
import { createNodeProcessRuntime } from "./_node_process.ts";

/** Builds the Node runtime. */
export function createNodeRuntime(): Runtime {
  return createNodeProcessRuntime({
    name: "node",
    version: process.versions.node,
    os: process.platform,
    arch: process.arch,
    socketApi: "node:net",
    compiled: false,
  });
}
