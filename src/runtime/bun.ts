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
 * - UNIX sockets (`listenUnix`, `connectUnix`: the runtime API) are node:net's with either socket
 *   API (`_node_unix.ts`): a few commands a minute need no native path.
 * - Datagram sockets (node:dgram, `_node_dgram.ts`), `writeOutput` (node:fs `write`, which Bun runs
 *   off the JS thread) and `hostname` are the same with either socket API.
 * - The `Bun` global is only touched inside functions, so this module loads on every runtime.
 * - No permission model: `info.jail` is "none" and a jailed `spawnSelf` child can do what its user
 *   can. `spawnSelf` runs `process.execPath` with `Bun.main` (and Bun's own flags from execArgv, less
 *   --watch/--hot/--inspect); a compiled binary is `process.execPath` alone, its code is inside.
 * - `process.hrtime` and `Bun.nanoseconds()` count from the process start, not CLOCK_MONOTONIC:
 *   `monotonicMicros` calls clock_gettime through bun:ffi (Linux only; it throws elsewhere).
 * - `setAffinity` calls sched_setaffinity through bun:ffi for each thread in /proc/PID/task (Linux).
 *   bun:ffi is loaded with `import.meta.require` inside a function: a static `import "bun:ffi"`
 *   would break loading this module on Node and Deno.
 * - `process.setgroups`/`setgid`/`setuid` exist and, through glibc, change every thread.
 * - `chroot` calls chroot(2) and chdir(2) through bun:ffi (Linux), reading errno through
 *   `__errno_location`. A chrooted Bun keeps serving: under load it looks for /proc/self/statm
 *   (memory figures for its heap heuristics) and carries on without it, but `process.memoryUsage()`
 *   then throws "Failed to get memory usage", so nothing of ours calls it. See `_chroot.ts` for what
 *   is read before.
 * - `bindInheritable` (a -W master's sockets) calls socket/setsockopt/bind through bun:ffi (Linux x64
 *   and arm64): Bun has no call that binds without listening, and its node:net has no
 *   `_createServerHandle`. `Bun.listen({ fd })` adopts a descriptor and calls listen(2) on it.
 *
 * @module
 */

import { readdirSync } from "node:fs";
import type { ChildProcess, Runtime, SocketApi, SpawnSelfOptions } from "./types.ts";
import { createNodeProcessRuntime, identitySupportedNode } from "./_node_process.ts";
import { connectBunNative, listenBunNative } from "./_bun_native.ts";
import { BUN_TLS_SUPPORT, withNodeTls, withNodeTlsConnect } from "./_node_tls.ts";
import { startChild } from "./_spawn.ts";
import { chrootWith } from "./_chroot.ts";
import { chrootUnsupported } from "./chroot_error.ts";
import {
  bindWithLibc,
  descriptorsOf,
  LIBC_SOCKET_SYMBOLS,
  libcSocketsAvailable,
  libcSocketsOf,
} from "./_inheritable_socket.ts";
import type { LibcSockets, OpenedLibcSockets } from "./_inheritable_socket.ts";
import {
  CLOCK_MONOTONIC,
  CPU_SET_BYTES,
  openLibc,
  pinAllThreads,
  threadIds,
  timespecMicros,
} from "./_linux_affinity.ts";

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
  // Compiled executables serve their modules from the embedded /$bunfs/ file system.
  const compiled = bun.main.includes("$bunfs") || bun.main.includes("~BUN");
  const linux = process.platform === "linux";
  const inheritableSockets = libcSocketsAvailable(process.platform, process.arch);
  const runtime = createNodeProcessRuntime({
    name: "bun",
    version: bun.version,
    os: process.platform,
    arch: process.arch,
    socketApi,
    compiled,
    jail: "none",
    affinity: linux,
    // uSockets sets SO_REUSEPORT everywhere, but only Linux spreads connections over the sockets.
    reusePort: linux,
    identity: identitySupportedNode(),
    chroot: linux,
    inheritableSockets,
    tls: BUN_TLS_SUPPORT,
    byteSlabs: false,
  }, {
    bindInheritable(options) {
      if (!inheritableSockets) {
        return Promise.reject(
          new Error(`Cannot bind a socket for a child process on ${process.platform} ${process.arch}: only on Linux x64 and arm64`),
        );
      }
      return bindWithLibc(options, bunSocketLibc());
    },
    spawnSelf: (args, options) => spawnSelfBun(args, options, compiled),
    setAffinity(pid: number, cores: readonly number[]): void {
      if (!linux) throw new Error(`Cannot pin process ${pid} to cores ${cores.join(",")}: only on Linux`);
      const libc = bunLibc();
      pinAllThreads(pid, cores, listThreads, (tid, mask) => libc.sched_setaffinity(tid, CPU_SET_BYTES, mask) === 0);
    },
    monotonicMicros(): bigint {
      if (!linux) throw new Error(`CLOCK_MONOTONIC is read through FFI on Linux only, not on ${process.platform}`);
      const timespec = new BigInt64Array(2);
      if (bunLibc().clock_gettime(CLOCK_MONOTONIC, timespec) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
      return timespecMicros(timespec);
    },
    chroot(dir: string): void {
      if (!linux) throw chrootUnsupported(dir, `chroot(2) is called through FFI on Linux only, not on ${process.platform}`);
      chrootBun(dir);
    },
  });
  if (socketApi === "node:net") return runtime;
  return { ...runtime, listen: withNodeTls(listenBunNative), connect: withNodeTlsConnect(connectBunNative) };
}

/** Bun's own flags that must not reach a child: file watching and the debugger. */
const DROPPED_FLAG = /^--(?:watch|hot|no-clear-screen|inspect(?:-wait|-brk)?)(?:=|$)/;

function spawnSelfBun(args: readonly string[], options: SpawnSelfOptions, compiled: boolean): ChildProcess {
  const env = { env: options.env, descriptors: descriptorsOf(options.sockets) };
  if (compiled) return startChild(process.execPath, args, env);
  const flags = process.execArgv.filter((flag) => !DROPPED_FLAG.test(flag));
  return startChild(process.execPath, [...flags, bunGlobal().main, ...args], env);
}

function listThreads(pid: number): number[] {
  return threadIds(readdirSync(`/proc/${pid}/task`));
}

/** The libc calls made through bun:ffi. */
interface BunLibc {
  sched_setaffinity(tid: number, size: number, mask: BigUint64Array): number;
  clock_gettime(clock: number, timespec: BigInt64Array): number;
}

/** The libc calls of a chroot, opened for it alone and closed after. */
interface BunChrootLibc {
  chroot(path: Uint8Array): number;
  chdir(path: Uint8Array): number;
  __errno_location(): number;
}

type BunSymbols = Record<string, { args: string[]; returns: string }>;

interface BunLibrary<Symbols> {
  readonly symbols: Symbols;
  close(): void;
}

interface BunFfi {
  dlopen<Symbols>(path: string, symbols: BunSymbols): BunLibrary<Symbols>;
  readonly read: { i32(pointer: number, offset: number): number };
}

let libc: BunLibc | undefined;
let socketLibc: LibcSockets | undefined;

/** bun:ffi, which only Bun has: loaded on first use with `import.meta.require`, never imported. */
function bunFfi(): BunFfi {
  return (import.meta as unknown as { require(id: string): BunFfi }).require("bun:ffi");
}

/** Opens the C library through bun:ffi with `symbols`, trying each libc name of the platform. */
function openBunLibc<Symbols>(symbols: BunSymbols): BunLibrary<Symbols> {
  return openLibc(process.arch, "bun:ffi", (name) => bunFfi().dlopen<Symbols>(name, symbols));
}

/** chroot(2) and chdir("/") with a library opened for them alone. */
function chrootBun(dir: string): void {
  const ffi = bunFfi();
  const library = openBunLibc<BunChrootLibc>({
    chroot: { args: ["ptr"], returns: "i32" },
    chdir: { args: ["ptr"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  });
  const libc = library.symbols;
  try {
    chrootWith(dir, {
      chroot: (path) => libc.chroot(path),
      chdir: (path) => libc.chdir(path),
      errno: () => ffi.read.i32(libc.__errno_location(), 0),
    });
  } finally {
    library.close();
  }
}

/** Opens libc once for the affinity and clock calls. */
function bunLibc(): BunLibc {
  libc ??= openBunLibc<BunLibc>({
    sched_setaffinity: { args: ["i32", "usize", "ptr"], returns: "i32" },
    clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  }).symbols;
  return libc;
}

/** bun:ffi's name for a kind of LIBC_SOCKET_SYMBOLS: typed arrays and pointers are both "ptr". */
function bunType(kind: string): string {
  return kind === "buffer" || kind === "pointer" ? "ptr" : kind;
}

/** Opens libc once for the socket calls of `bindInheritable`. */
function bunSocketLibc(): LibcSockets {
  if (socketLibc !== undefined) return socketLibc;
  const ffi = bunFfi();
  const symbols: BunSymbols = {};
  for (const [name, signature] of Object.entries(LIBC_SOCKET_SYMBOLS)) {
    symbols[name] = { args: signature.args.map(bunType), returns: bunType(signature.result) };
  }
  const opened = openBunLibc<OpenedLibcSockets<number>>(symbols).symbols;
  socketLibc = libcSocketsOf(opened, (pointer) => ffi.read.i32(pointer, 0));
  return socketLibc;
}
