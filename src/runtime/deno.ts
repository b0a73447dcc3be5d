/**
 * The runtime contract on Deno.
 *
 * Socket APIs: node:net from Deno's Node compatibility layer (the default), and "native":
 * `Deno.listen`/`Deno.connect` (`_deno_native.ts`), picked with PROXY_SOCKETS=native. The native
 * sockets are pull-based (one promise per accept, read and write), which the contract avoids on
 * the hot path. Why node:net stays the default (npm run bench, 2026-11-24, tcp mode, ratios against
 * HAProxy in the same run, docs/performance.md): native costs less CPU on small requests (1.26x
 * against 1.53x) but more on 1 MB bodies (0.73x against 0.61x of HAProxy's CPU, throughput 1.39x
 * against 1.51x), holds 10,000 idle connections in 266 MB against 145 MB (a pending read pins its
 * buffer), and shares ports only with --unstable-net. Native wins on the one figure and loses the
 * memory target by far: node:net until that changes.
 * Quirks:
 * - Native `Deno.listen({ reusePort: true })` needs `--unstable-net` (or `"unstable": ["net"]` in
 *   deno.json) in Deno 2.9, and without it exits the process with code 70 instead of throwing; the
 *   native listen checks first and rejects. node:net on Deno shares ports without any flag.
 * - Native sockets: a pending read pins its buffer (an idle connection holds 4 KiB), reads and
 *   writes are zero-copy, and `listener.close()` lets go of the port only once the pending accept
 *   settles; `_deno_native.ts` lists these quirks and how they are handled.
 * - Name lookup stays on node:dns (getaddrinfo, /etc/hosts first) for both socket APIs:
 *   `Deno.resolveDns` asks DNS servers directly and skips /etc/hosts.
 * - Signals, exit, files and arguments use the native `Deno` namespace: they need no permission
 *   beyond what the jail grants and work the same in `deno compile` binaries.
 * - `setTimeout` returns a number; unref goes through `Deno.unrefTimer`.
 * - Since 2.9.2 Deno opens the inspector (a debugger: code execution for anyone who can connect)
 *   on 127.0.0.1:9229 on EVERY SIGUSR1, listener or not (denoland/deno#35738), and no flag turns it
 *   off; SIGUSR1 is our graceful stop and the -sf hand-over signal. Our SIGUSR1 listener closes the
 *   inspector through node:inspector as soon as it is up: at once and on the next few turns, since
 *   the server starts on another thread (measured: it is reachable for 0 to 12 ms, npm run
 *   bench:reload under load; never seen open past the next turns on an idle proxy). Older Deno (and Node with
 *   a listener) never open it. docs/security.md says so; -W workers are stopped over their control
 *   channel, never by SIGUSR1.
 * - Deno's node:net ignores `ipv6Only`: "[::]:P" is always dual-stack, so next to "0.0.0.0:P" it only
 *   binds with SO_REUSEPORT (the default); the conformance suite tracks this gap.
 * - Uncaught errors arrive as `error`/`unhandledrejection` events on globalThis; preventDefault()
 *   keeps the process alive.
 * - `writeOutput` uses `Deno.stdout.write`/`Deno.stderr.write`, which run on a blocking thread and
 *   leave the event loop free. Not `writeSync`, node:fs `write` (even its callback form) or
 *   `process.stdout`: all three block the whole process on a full pipe in Deno 2.9. When the
 *   pipe was made O_NONBLOCK by another process sharing it, a full pipe fails the write with
 *   `WouldBlock`: retried on a timer backing off from 1 ms to 50 ms, as nothing tells when it drains.
 * - `hostname` needs `--allow-sys=hostname`. Without it `Deno.hostname()` throws, or asks on a
 *   terminal and holds the process until answered, and node:os `hostname()` needs the same
 *   permission; so the permission is queried first (no prompt) and "localhost" stands in.
 * - Datagram sockets are node:dgram (`_node_dgram.ts`) with either socket API: Deno's own UDP
 *   (`Deno.listenDatagram`) is still behind --unstable-net.
 * - The `Deno` global is only touched inside functions, so this module loads on every runtime.
 * - `spawnSelf` (`_deno_process.ts`) runs `Deno.execPath() run -A <main module>`, or with the jail's
 *   flags: `--no-prompt --allow-net --allow-env=<the names in options.env>,PROXY_SOCKETS --allow-sys`.
 *   --allow-net is all node:net, node:dns (getaddrinfo) and node:dgram need to serve, connect to
 *   127.0.0.1 and send syslog. --allow-sys is whole because Deno 2.9 checks `process.setuid` and
 *   `setgid` against the whole sys permission (`--allow-sys=setuid` is an unknown kind); it also
 *   gives the ids, the host name and the machine facts (os release, memory, interfaces). Modules
 *   load without --allow-read. Deno does not tell a program its own flags: the child gets no
 *   --v8-flags or --config of ours, it finds deno.json (unstable features, imports) as we did. A
 *   `deno compile` binary is started alone: its permissions were fixed at compile time, so
 *   `info.jail` is "none" there.
 * - Deno 2.9 has no `process.setgroups` and its `process.setgid` keeps root's supplementary groups
 *   (measured: Groups 0 4 stay after setgid/setuid to 65534). `setIdentity` calls setgroups through
 *   FFI when --allow-ffi is granted; otherwise it refuses, before changing anything, when a group
 *   other than `gid` is there. A jailed worker has no FFI, so `spawnSelf` run by root starts every
 *   child with root's uid and gid given to node:child_process, which clears its supplementary groups
 *   before exec: the worker then drops to uid/gid with no supplementary group at all.
 * - `process.hrtime` and `performance.now()` count from the process start, not CLOCK_MONOTONIC:
 *   `monotonicMicros` calls clock_gettime through FFI (--allow-ffi, Linux), and throws without it.
 * - `setAffinity` calls sched_setaffinity through `Deno.dlopen` for each thread in /proc/PID/task:
 *   Linux, --allow-ffi and reading /proc (`info.affinity` is false without FFI). `userId` needs
 *   --allow-sys=uid. `cpuCount` is `navigator.hardwareConcurrency`, which follows the affinity mask.
 * - `bindInheritable` (a -W master's sockets) calls socket/setsockopt/bind through `Deno.dlopen`:
 *   Linux x64 and arm64, --allow-ffi (`info.inheritableSockets` false without). `spawnSelf`
 *   passes them by clearing close-on-exec around the (synchronous) spawn, not in node:child_process's
 *   `stdio`, which would make the socket that every worker shares blocking. `Deno.listen` ignores
 *   `fd`: with native sockets, a listener on an inherited descriptor is node:net's, whose
 *   connections satisfy the same contract (the other sockets stay native).
 * - `fileAccess` queries the read permission first (no prompt): "denied" unless granted. Deno 2's
 *   PermissionDenied is the OS's EACCES, so it counts as "failed", as on Node.
 * - `chroot` calls chroot(2) and chdir(2) through `Deno.dlopen` (Linux, --allow-ffi; errno through
 *   `__errno_location`). A jailed worker that chroots is started with --allow-ffi and revokes it
 *   once chrooted (`_deno_process.ts`). Inside a chroot, `Deno.execPath()` (and the first
 *   `process.execPath`, which node:dns reads on its first lookup) finds no /proc/self/exe and Deno
 *   2.9 panics, ending the process: `process.execPath` is read before the chroot (`_chroot.ts`),
 *   and nothing of ours calls `Deno.execPath()` in a process that may be chrooted (only a master
 *   spawns, and it is never chrooted).
 *
 * @module
 */

import type { OutputStreamName, Runtime, SignalName, SocketApi, TimerHandle } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";
import { connectUnixNodeNet, listenUnixNodeNet } from "./_node_unix.ts";
import { connectDenoNative, denoNativeReusePortAvailable, listenDenoNative } from "./_deno_native.ts";
import { connectNodeDgram } from "./_node_dgram.ts";
import { DENO_TLS_SUPPORT, inspectCertificateNode, withNodeTls, withNodeTlsConnect } from "./_node_tls.ts";
import { listDirectoryNode } from "./_directory.ts";
import { resourceUsageNode } from "./_resource_usage.ts";
import { OutputWriter } from "./_output_writer.ts";
import { startChild } from "./_spawn.ts";
import {
  affinityAvailableDeno,
  chrootAvailableDeno,
  chrootDeno,
  bindInheritableDeno,
  cpuCountDeno,
  fileAccessDeno,
  identityAvailableDeno,
  inheritableSocketsAvailableDeno,
  monotonicMicrosDeno,
  pathKindDeno,
  setAffinityDeno,
  setIdentityDeno,
  spawnSelfDeno,
  userIdDeno,
} from "./_deno_process.ts";

interface DenoGlobal {
  readonly version: { readonly deno: string };
  readonly build: { readonly os: string; readonly arch: string; readonly standalone?: boolean };
  readonly pid: number;
  readonly args: string[];
  readonly mainModule: string;
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  kill(pid: number, signal: string): void;
  readTextFile(path: string): Promise<string>;
  writeTextFile(path: string, text: string): Promise<void>;
  unrefTimer(id: number): void;
  exit(code: number): never;
  readonly env: { get(name: string): string | undefined };
  readonly stdout: DenoOutput;
  readonly stderr: DenoOutput;
  hostname(): string;
  readonly permissions: {
    querySync(descriptor: { readonly name: "sys"; readonly kind: "hostname" }): { readonly state: string };
  };
}

interface DenoOutput {
  writeSync(data: Uint8Array): number;
  /** Resolves with the number of bytes written, which may be fewer than given. */
  write(data: Uint8Array): Promise<number>;
}

function denoGlobal(): DenoGlobal {
  return (globalThis as unknown as { Deno: DenoGlobal }).Deno;
}

const ARCH_NAMES: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };
const OS_NAMES: Record<string, string> = { windows: "win32" };

function writeAll(sink: { writeSync(data: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
}

/** Writes whole buffers to stdout or stderr with the async `write`: the sync one blocks on a full pipe. */
class DenoOutputWriter extends OutputWriter {
  private readonly sink: DenoOutput;
  /** Made once, so a write costs its promise and nothing more. */
  private readonly written: (count: number) => void;
  private readonly failed: (error: unknown) => void;

  constructor(sink: DenoOutput, name: OutputStreamName) {
    super(name);
    this.sink = sink;
    this.written = (count) => this.wrote(count);
    this.failed = (error) => {
      const name = (error as { name?: unknown } | null)?.name;
      const code = (error as { code?: unknown } | null)?.code;
      if (name === "WouldBlock" || code === "EAGAIN") this.retryLater();
      else this.fail(error);
    };
  }

  protected writeSome(): void {
    let pending: Promise<number>;
    try {
      pending = this.sink.write(this.bytes.subarray(this.offset));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(this.written, this.failed);
  }
}

/** One writer per stream for the whole process, whichever runtime object asks. */
const outputWriters: Partial<Record<OutputStreamName, DenoOutputWriter>> = {};

function outputWriter(deno: DenoGlobal, stream: OutputStreamName): DenoOutputWriter {
  return outputWriters[stream] ??= new DenoOutputWriter(stream === "stdout" ? deno.stdout : deno.stderr, stream);
}

interface InspectorModule {
  url(): string | undefined;
  close(): void;
}

/** Turns after a SIGUSR1 on which the inspector Deno opens for it is looked for and closed. */
const INSPECTOR_CLOSE_DELAYS_MS = [0, 1, 5, 20, 100, 500];

/** Closes the inspector Deno opens on SIGUSR1 (see the quirks above), now and on the next turns. */
function closeSignalInspector(): void {
  const getBuiltinModule = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process
    ?.getBuiltinModule;
  const inspector = getBuiltinModule?.("node:inspector") as InspectorModule | undefined;
  if (inspector === undefined) return;
  const close = () => {
    try {
      if (inspector.url() !== undefined) inspector.close();
    } catch {
      // Nothing open, or nothing to close: the next turn looks again.
    }
  };
  close();
  for (const delay of INSPECTOR_CLOSE_DELAYS_MS) setTimeout(close, delay);
}

/** Socket APIs this module implements, the default first. */
export const DENO_SOCKET_APIS: readonly SocketApi[] = ["node:net", "native"];

/** Builds the Deno runtime with the given socket API. */
export function createDenoRuntime(socketApi: SocketApi): Runtime {
  if (!DENO_SOCKET_APIS.includes(socketApi)) throw new Error(`Socket API "${socketApi}" is not implemented on deno`);
  const native = socketApi === "native";
  const deno = denoGlobal();
  return {
    info: {
      name: "deno",
      version: deno.version.deno,
      os: OS_NAMES[deno.build.os] ?? deno.build.os,
      arch: ARCH_NAMES[deno.build.arch] ?? deno.build.arch,
      socketApi,
      compiled: deno.build.standalone ?? false,
      jail: deno.build.standalone === true ? "none" : "deno-permissions",
      affinity: affinityAvailableDeno(),
      identity: identityAvailableDeno(),
      chroot: chrootAvailableDeno(),
      // Native listeners need --unstable-net for it; node:net sets it as Node does, on Linux.
      reusePort: deno.build.os === "linux" && (!native || denoNativeReusePortAvailable()),
      inheritableSockets: inheritableSocketsAvailableDeno(),
      tls: DENO_TLS_SUPPORT,
      byteSlabs: true,
    },
    // Deno.listen cannot adopt a descriptor (it ignores `fd`): inherited sockets are node:net's.
    listen: withNodeTls(
      native ? (options, onAccept, onError) =>
        (options.fd === undefined ? listenDenoNative : listenNodeNet)(options, onAccept, onError) : listenNodeNet,
    ),
    bindInheritable: bindInheritableDeno,
    connect: withNodeTlsConnect(native ? connectDenoNative : connectNodeNet),
    // The runtime API's socket: a few commands a minute, node:net with either socket API.
    listenUnix: listenUnixNodeNet,
    connectUnix: connectUnixNodeNet,
    connectDatagram: connectNodeDgram,
    lookup: lookupNodeDns,
    inspectCertificate: inspectCertificateNode,
    listDirectory: listDirectoryNode,
    now: () => performance.now(),
    wallClock: () => Date.now(),
    setTimer(ms: number, callback: () => void, unref: boolean): TimerHandle {
      // Deno returns a number; the type seen here is Node's because @types/node is loaded for node:*.
      const id = setTimeout(callback, ms) as unknown as number;
      if (unref) deno.unrefTimer(id);
      return id;
    },
    clearTimer(handle: TimerHandle): void {
      clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
    },
    onSignal(signal: SignalName, callback: () => void): () => void {
      const listener = signal === "SIGUSR1"
        ? () => {
          closeSignalInspector();
          callback();
        }
        : callback;
      // Windows only knows SIGINT and SIGBREAK: other signals can never arrive there.
      try {
        deno.addSignalListener(signal, listener);
      } catch {
        return () => {};
      }
      return () => deno.removeSignalListener(signal, listener);
    },
    kill: (pid, signal) => deno.kill(pid, signal),
    pid: deno.pid,
    readTextFile: (path) => deno.readTextFile(path),
    writeTextFile: (path, text) => deno.writeTextFile(path, text),
    env: (name) => deno.env.get(name),
    args: () => deno.args.slice(),
    writeStdout: (text) => writeAll(deno.stdout, text),
    writeStderr: (text) => writeAll(deno.stderr, text),
    writeOutput: (stream, bytes, done) => outputWriter(deno, stream).write(bytes, done),
    hostname(): string {
      try {
        if (deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") return deno.hostname();
      } catch {
        // A runtime without the permission API, or a host name it cannot read: the fallback below.
      }
      return "localhost";
    },
    // node:process reports Deno's figures too, with no permission needed.
    resourceUsage: resourceUsageNode,
    onUncaughtError(callback: (error: unknown) => void): void {
      globalThis.addEventListener("error", (event: Event) => {
        event.preventDefault();
        callback((event as ErrorEvent).error);
      });
      globalThis.addEventListener("unhandledrejection", (event: Event) => {
        event.preventDefault();
        callback((event as PromiseRejectionEvent).reason);
      });
    },
    exit: (code) => deno.exit(code),
    spawnSelf: spawnSelfDeno,
    spawn: (command, args, options) => startChild(command, args, { env: options.env }),
    cpuCount: cpuCountDeno,
    setAffinity: setAffinityDeno,
    userId: userIdDeno,
    setIdentity: setIdentityDeno,
    monotonicMicros: monotonicMicrosDeno,
    chroot: chrootDeno,
    pathKind: pathKindDeno,
    fileAccess: fileAccessDeno,
  };
}
