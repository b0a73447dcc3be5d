/**
 * The process side of the contract (signals, exit, files, stdio, child processes, cores, user and
 * group) over Node's `process`, used by the Node and Bun modules; Deno has its own native calls in
 * `deno.ts` and `_deno_process.ts`. What differs between Node and Bun (`spawnSelf`, `setAffinity`,
 * `monotonicMicros`) comes from their modules.
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
import { readFile, stat, writeFile } from "node:fs/promises";
import { availableParallelism, hostname } from "node:os";
import type {
  ChildProcess,
  FileAccess,
  InheritableSocket,
  ListenOptions,
  OutputStreamName,
  PathKind,
  Runtime,
  RuntimeInfo,
  SignalName,
  SpawnOptions,
  SpawnSelfOptions,
  TimerHandle,
} from "./types.ts";
import { startChild } from "./_spawn.ts";
import { resourceUsageNode } from "./_resource_usage.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";
import { connectNodeDgram } from "./_node_dgram.ts";
import { inspectCertificateNode, withNodeTls, withNodeTlsConnect } from "./_node_tls.ts";
import { listDirectoryNode } from "./_directory.ts";
import { OutputWriter } from "./_output_writer.ts";

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

/** Writes whole buffers to one fd with `fs.write`, which runs on the thread pool: never blocking the loop. */
class FdWriter extends OutputWriter {
  private readonly fd: number;
  /** Made once: one callback for every fs.write, whatever the traffic. */
  private readonly written: (error: NodeJS.ErrnoException | null, count: number) => void;

  constructor(fd: number, name: OutputStreamName) {
    super(name);
    this.fd = fd;
    this.written = (error, count) => {
      if (error === null) this.wrote(count);
      else if (error.code === "EAGAIN") this.retryLater();
      else this.fail(error);
    };
  }

  protected writeSome(): void {
    writeFd(this.fd, this.bytes, this.offset, this.bytes.length - this.offset, null, this.written);
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

/** Starts a command from PATH with our environment plus `options.env`. */
export function spawnNode(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return startChild(command, args, { env: options.env });
}

/** Cores this process may run on: libuv reads the affinity mask (sched_getaffinity) on Linux. */
export function cpuCountNode(): number {
  return Math.max(1, availableParallelism());
}

/** The effective uid, -1 where there is none (Windows has no process.geteuid). */
export function userIdNode(): number {
  return typeof process.geteuid === "function" ? process.geteuid() : -1;
}

/** True where process.setuid/setgid/setgroups exist (POSIX). */
export function identitySupportedNode(): boolean {
  return typeof process.setuid === "function" && typeof process.setgid === "function" &&
    typeof process.setgroups === "function";
}

/**
 * setgroups, setgid, setuid in that order (setgid and setgroups need root, which setuid gives up),
 * then reads the ids back. glibc applies each call to every thread of the process (its setxid
 * broadcast), so the runtime's own threads change too.
 */
export function setIdentityNode(uid: number, gid: number): void {
  if (!identitySupportedNode()) throw new Error(`Cannot change user and group on ${process.platform}`);
  try {
    process.setgroups!([gid]);
    process.setgid!(gid);
    process.setuid!(uid);
  } catch (error) {
    throw new Error(`Cannot run as uid ${uid}, gid ${gid}: ${error instanceof Error ? error.message : String(error)}`);
  }
  verifyIdentity(uid, gid);
}

/** Reads our ids back through node:process and throws unless they are `uid`/`gid` (see checkIdentity). */
export function verifyIdentity(uid: number, gid: number): void {
  checkIdentity(uid, gid, {
    uid: process.getuid!(),
    euid: process.geteuid!(),
    gid: process.getgid!(),
    egid: process.getegid!(),
    groups: process.getgroups!(),
  });
}

/** The ids a process runs with, read back after a change. */
export interface IdentityReadBack {
  readonly uid: number;
  readonly euid: number;
  readonly gid: number;
  readonly egid: number;
  readonly groups: readonly number[];
}

/** Throws unless `found` is exactly uid/gid with no other group (Node adds the egid to getgroups()). */
export function checkIdentity(uid: number, gid: number, found: IdentityReadBack): void {
  const otherGroups = found.groups.filter((group) => group !== gid);
  if (found.uid !== uid || found.euid !== uid || found.gid !== gid || found.egid !== gid || otherGroups.length > 0) {
    throw new Error(
      `Cannot run as uid ${uid}, gid ${gid}: the process still runs as uid ${found.uid} (effective ${found.euid}), ` +
        `gid ${found.gid} (effective ${found.egid}), groups ${found.groups.join(",") || "none"}`,
    );
  }
}

/** Reads `path`: "denied" when Node's permission model refused it, "failed" for any other error. */
export async function fileAccessNode(path: string): Promise<FileAccess> {
  try {
    await readFile(path);
    return "readable";
  } catch (error) {
    return (error as { code?: unknown } | null)?.code === "ERR_ACCESS_DENIED" ? "denied" : "failed";
  }
}

/** What is at `path` (node:fs stat, links followed); ENOENT and ENOTDIR mean "missing". */
export async function pathKindNode(path: string): Promise<PathKind> {
  try {
    const found = await stat(path);
    return found.isDirectory() ? "directory" : found.isFile() ? "file" : "other";
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw error;
  }
}

/** The process members that differ between Node and Bun. */
export interface NodeProcessSpecifics {
  bindInheritable(options: ListenOptions): Promise<InheritableSocket>;
  spawnSelf(args: readonly string[], options: SpawnSelfOptions): ChildProcess;
  setAffinity(pid: number, cores: readonly number[]): void;
  monotonicMicros(): bigint;
  chroot(dir: string): void;
}

/** A runtime made of node:net sockets and Node's `process`: Node itself, and Bun. */
export function createNodeProcessRuntime(info: RuntimeInfo, specifics: NodeProcessSpecifics): Runtime {
  return {
    info,
    listen: withNodeTls(listenNodeNet),
    bindInheritable: specifics.bindInheritable,
    connect: withNodeTlsConnect(connectNodeNet),
    connectDatagram: connectNodeDgram,
    lookup: lookupNodeDns,
    inspectCertificate: inspectCertificateNode,
    listDirectory: listDirectoryNode,
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
    resourceUsage: resourceUsageNode,
    onUncaughtError: onUncaughtErrorNode,
    exit: (code) => process.exit(code),
    spawnSelf: specifics.spawnSelf,
    spawn: spawnNode,
    cpuCount: cpuCountNode,
    setAffinity: specifics.setAffinity,
    userId: userIdNode,
    setIdentity: setIdentityNode,
    monotonicMicros: specifics.monotonicMicros,
    chroot: specifics.chroot,
    pathKind: pathKindNode,
    fileAccess: fileAccessNode,
  };
}
