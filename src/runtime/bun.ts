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

import type { Runtime } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";
import {
  clearTimerNode,
  killProcess,
  onProcessSignal,
  onUncaughtErrorNode,
  readTextFileNode,
  setTimerNode,
  writeStderrNode,
  writeStdoutNode,
} from "./_node_process.ts";

interface BunGlobal {
  readonly version: string;
  readonly main: string;
}

function bunGlobal(): BunGlobal {
  return (globalThis as unknown as { Bun: BunGlobal }).Bun;
}

/** Builds the Bun runtime. */
export function createBunRuntime(): Runtime {
  const bun = bunGlobal();
  return {
    info: {
      name: "bun",
      version: bun.version,
      os: process.platform,
      arch: process.arch,
      socketApi: "node:net",
      // Compiled executables serve their modules from the embedded /$bunfs/ file system.
      compiled: bun.main.includes("$bunfs") || bun.main.includes("~BUN"),
    },
    listen: listenNodeNet,
    connect: connectNodeNet,
    lookup: lookupNodeDns,
    now: () => performance.now(),
    wallClock: () => Date.now(),
    setTimer: setTimerNode,
    clearTimer: clearTimerNode,
    onSignal: onProcessSignal,
    kill: killProcess,
    pid: process.pid,
    readTextFile: readTextFileNode,
    env: (name) => process.env[name],
    args: () => process.argv.slice(2),
    writeStdout: writeStdoutNode,
    writeStderr: writeStderrNode,
    onUncaughtError: onUncaughtErrorNode,
    exit: (code) => process.exit(code),
  };
}
