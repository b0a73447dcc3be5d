/**
 * The process side of the contract (signals, exit, files, stdio) over Node's `process`, used by the
 * Node and Bun modules; Deno has its own native calls in `deno.ts`.
 *
 * @module
 */

import { readFile, writeFile } from "node:fs/promises";
import type { Runtime, RuntimeInfo, SignalName, TimerHandle } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";

/** Subscribes through process.on; returns the unsubscribe function. */
export function onProcessSignal(signal: SignalName, callback: () => void): () => void {
  // Windows has no SIGUSR1/SIGTTIN/...: subscribing throws there, and the signal can never come.
  try {
    process.on(signal, callback);
  } catch {
    return () => {};
  }
  return () => {
    process.off(signal, callback);
  };
}

/** Sends a signal with process.kill. */
export function killProcess(pid: number, signal: SignalName): void {
  process.kill(pid, signal);
}

/** Reads a UTF-8 file. */
export function readTextFileNode(path: string): Promise<string> {
  return readFile(path, "utf8");
}

/** Timers from the global setTimeout, unref'd through the Node-style handle. */
export function setTimerNode(ms: number, callback: () => void, unref: boolean): TimerHandle {
  const handle = setTimeout(callback, ms);
  if (unref) (handle as { unref?: () => void }).unref?.();
  return handle;
}

/** Clears a timer from setTimerNode. */
export function clearTimerNode(handle: TimerHandle): void {
  clearTimeout(handle as ReturnType<typeof setTimeout>);
}

/** Routes uncaught exceptions and unhandled rejections to `callback` instead of dying. */
export function onUncaughtErrorNode(callback: (error: unknown) => void): void {
  process.on("uncaughtException", callback);
  process.on("unhandledRejection", callback);
}

/** Writes to stdout. */
export function writeStdoutNode(text: string): void {
  process.stdout.write(text);
}

/** Writes to stderr. */
export function writeStderrNode(text: string): void {
  process.stderr.write(text);
}

/** A runtime made of node:net sockets and Node's `process`: Node itself, and Bun. */
export function createNodeProcessRuntime(info: RuntimeInfo): Runtime {
  return {
    info,
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
    writeTextFile: (path, text) => writeFile(path, text, "utf8"),
    env: (name) => process.env[name],
    args: () => process.argv.slice(2),
    writeStdout: writeStdoutNode,
    writeStderr: writeStderrNode,
    onUncaughtError: onUncaughtErrorNode,
    exit: (code) => process.exit(code),
  };
}
