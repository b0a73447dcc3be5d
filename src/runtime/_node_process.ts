/**
 * The process side of the contract (signals, exit, files, stdio) over Node's `process`, used by the
 * Node and Bun modules; Deno has its own native calls in `deno.ts`.
 *
 * `writeOutput` does not go through `process.stdout`: Node writes that synchronously when it is a
 * file or a terminal (a slow disk or terminal holds the event loop; only pipes are asynchronous on
 * POSIX). It writes the fd with `fs.write`, which runs on libuv's thread pool on Node and off the JS
 * thread on Bun, the same for every kind of fd: `done` means the kernel has the bytes. Quirks:
 * - A blocked write holds a pool thread (Node has 4 by default, shared with dns.lookup and file
 *   reads) until the reader reads again: stdout and stderr both stuck hold two of them.
 * - Once `process.stdout`/`process.stderr` is first used (writeStdout), Node and Bun have set
 *   O_NONBLOCK on a pipe, and so may any other process sharing that pipe's open file: a full pipe
 *   then fails the write with EAGAIN instead of blocking. There is no readiness event for a bare
 *   fd, so the write is retried on a timer that backs off from 1 ms to 50 ms while nothing goes
 *   through.
 *
 * @module
 */

import { write as writeFd } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { OutputStreamName, Runtime, RuntimeInfo, SignalName, TimerHandle } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";
import { connectNodeDgram } from "./_node_dgram.ts";
import { toNetError } from "./net_error.ts";

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

/** The first and the longest wait before retrying a write that found the pipe full (EAGAIN). */
const RETRY_FIRST_MS = 1;
const RETRY_MAX_MS = 50;

/**
 * Writes whole buffers to one fd with `fs.write`, one buffer at a time. The contract keeps one
 * write in flight per stream; a second one arriving anyway waits its turn rather than interleaving.
 */
class FdWriter {
  readonly fd: number;
  readonly name: OutputStreamName;
  bytes: Uint8Array = new Uint8Array(0);
  offset = 0;
  done: ((error: Error | undefined) => void) | undefined = undefined;
  retryMs = RETRY_FIRST_MS;
  readonly waiting: Array<[Uint8Array, (error: Error | undefined) => void]> = [];
  /** Made once: one callback for every fs.write and one for every retry, whatever the traffic. */
  readonly written: (error: NodeJS.ErrnoException | null, count: number) => void;
  readonly step: () => void;

  constructor(fd: number, name: OutputStreamName) {
    this.fd = fd;
    this.name = name;
    this.written = (error, count) => this.onWritten(error, count);
    this.step = () => writeFd(this.fd, this.bytes, this.offset, this.bytes.length - this.offset, null, this.written);
  }

  write(bytes: Uint8Array, done: (error: Error | undefined) => void): void {
    if (this.done !== undefined) {
      this.waiting.push([bytes, done]);
      return;
    }
    this.start(bytes, done);
  }

  private start(bytes: Uint8Array, done: (error: Error | undefined) => void): void {
    this.bytes = bytes;
    this.offset = 0;
    this.done = done;
    if (bytes.length === 0) {
      // Still asynchronous, like every other completion.
      queueMicrotask(() => this.finish(undefined));
      return;
    }
    this.step();
  }

  private onWritten(error: NodeJS.ErrnoException | null, count: number): void {
    if (error !== null && error.code !== "EAGAIN") {
      this.finish(toNetError(error, "Cannot write to", this.name));
      return;
    }
    if (error === null && count > 0) {
      this.offset += count;
      this.retryMs = RETRY_FIRST_MS;
      if (this.offset >= this.bytes.length) {
        this.finish(undefined);
        return;
      }
      this.step();
      return;
    }
    // A full non-blocking pipe: nothing tells when it drains, so poll with a backoff.
    setTimeout(this.step, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private finish(error: Error | undefined): void {
    const done = this.done!;
    this.done = undefined;
    this.bytes = new Uint8Array(0);
    const next = this.waiting.shift();
    if (next !== undefined) this.start(next[0], next[1]);
    done(error);
  }
}

let stdoutWriter: FdWriter | undefined;
let stderrWriter: FdWriter | undefined;

/** Writes all of `bytes` to fd 1 or 2 without blocking the event loop; see the module comment. */
export function writeOutputNode(stream: OutputStreamName, bytes: Uint8Array, done: (error: Error | undefined) => void): void {
  const writer = stream === "stdout"
    ? (stdoutWriter ??= new FdWriter(1, "stdout"))
    : (stderrWriter ??= new FdWriter(2, "stderr"));
  writer.write(bytes, done);
}

/** A runtime made of node:net sockets and Node's `process`: Node itself, and Bun. */
export function createNodeProcessRuntime(info: RuntimeInfo): Runtime {
  return {
    info,
    listen: listenNodeNet,
    connect: connectNodeNet,
    connectDatagram: connectNodeDgram,
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
    writeOutput: writeOutputNode,
    hostname: () => hostname(),
    onUncaughtError: onUncaughtErrorNode,
    exit: (code) => process.exit(code),
  };
}
