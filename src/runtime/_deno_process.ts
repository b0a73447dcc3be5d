/**
 * The child-process, core, identity and clock members of the contract on Deno: the permission
 * jail, FFI calls into libc (`Deno.dlopen`), and Deno's node:process for the ids. See the quirks in
 * `deno.ts`. Every permission is queried before use: an ungranted one would otherwise prompt on a
 * terminal and hold the process until answered.
 *
 * @module
 */

import type { ChildProcess, FileAccess, InheritableSocket, ListenOptions, PathKind, SpawnSelfOptions } from "./types.ts";
// A cycle (detect.ts imports deno.ts), harmless: the constant is read only when a child starts.
import { SOCKET_API_VARIABLE } from "./detect.ts";
import { startChild } from "./_spawn.ts";
import {
  bindWithLibc,
  descriptorsOf,
  LIBC_SOCKET_SYMBOLS,
  libcSocketsAvailable,
  libcSocketsOf,
  whileInheritable,
} from "./_inheritable_socket.ts";
import type { LibcSockets, OpenedLibcSockets } from "./_inheritable_socket.ts";
import { verifyIdentity } from "./_node_process.ts";
import { chrootWith } from "./_chroot.ts";
import { chrootUnsupported } from "./chroot_error.ts";
import {
  CLOCK_MONOTONIC,
  CPU_SET_BYTES,
  openLibc,
  pinAllThreads,
  threadIds,
  timespecMicros,
} from "./_linux_affinity.ts";

/** The permission descriptors queried here. */
type PermissionDescriptor =
  | { readonly name: "ffi" }
  | { readonly name: "sys"; readonly kind?: "uid" }
  | { readonly name: "read"; readonly path?: string }
  | { readonly name: "run"; readonly command: string };

/** A library opened with Deno.dlopen. */
interface DenoLibrary<Symbols> {
  readonly symbols: Symbols;
  close(): void;
}

interface DenoProcessGlobal {
  readonly build: { readonly os: string; readonly arch: string; readonly standalone?: boolean };
  readonly mainModule: string;
  execPath(): string;
  readFile(path: string): Promise<Uint8Array>;
  stat(path: string): Promise<{ readonly isFile: boolean; readonly isDirectory: boolean }>;
  readDirSync(path: string): Iterable<{ readonly name: string }>;
  dlopen<Symbols>(path: string, symbols: Record<string, { parameters: string[]; result: string }>): DenoLibrary<Symbols>;
  readonly UnsafePointerView: new (pointer: unknown) => { getInt32(offset?: number): number };
  readonly permissions: {
    querySync(descriptor: PermissionDescriptor): { readonly state: string };
    revokeSync(descriptor: PermissionDescriptor): { readonly state: string };
  };
}

/** The libc calls of a chroot, opened for it alone and closed after. */
interface DenoChrootLibc {
  chroot(path: Uint8Array): number;
  chdir(path: Uint8Array): number;
  __errno_location(): unknown;
}

/** The libc calls made through Deno.dlopen. */
interface DenoLibc {
  sched_setaffinity(tid: number, size: number, mask: BigUint64Array): number;
  clock_gettime(clock: number, timespec: BigInt64Array): number;
  setgroups(size: number, groups: Uint32Array): number;
}

function denoGlobal(): DenoProcessGlobal {
  return (globalThis as unknown as { Deno: DenoProcessGlobal }).Deno;
}

/** True when `descriptor` is granted; false when not (a query never prompts). */
export function granted(descriptor: PermissionDescriptor): boolean {
  try {
    return denoGlobal().permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function isLinux(): boolean {
  return denoGlobal().build.os === "linux";
}

/** True where `setAffinity` can work: Linux with --allow-ffi. */
export function affinityAvailableDeno(): boolean {
  return isLinux() && granted({ name: "ffi" });
}

/** True where `setIdentity` can work: POSIX with the whole --allow-sys (setuid/setgid are no kind of their own). */
export function identityAvailableDeno(): boolean {
  return denoGlobal().build.os !== "windows" && granted({ name: "sys" });
}

/** True where `chroot` can make its call: Linux with --allow-ffi. */
export function chrootAvailableDeno(): boolean {
  return isLinux() && granted({ name: "ffi" });
}

/**
 * The permissions of a jailed worker: the network, the variables it is given (and the socket-API
 * switch `detect.ts` reads); only for one that changes its user and group --allow-sys, because
 * Deno 2.9 checks `process.setuid`/`setgid` against the whole sys permission (`--allow-sys=setuid`
 * is refused as an unknown kind); only for one that chroots --allow-ffi, which it revokes once
 * chrooted (`chrootDeno`).
 */
export function denoJailFlags(
  env: Readonly<Record<string, string>> | undefined,
  changesIdentity: boolean,
  chroots = false,
): string[] {
  const names = new Set([...Object.keys(env ?? {}), SOCKET_API_VARIABLE]);
  return [
    "--no-prompt",
    "--allow-net",
    `--allow-env=${[...names].join(",")}`,
    ...(changesIdentity ? ["--allow-sys"] : []),
    ...(chroots ? ["--allow-ffi"] : []),
  ];
}

/**
 * `deno run` with the jail's flags or -A and the main module; a compiled binary runs alone (its
 * permissions were fixed by `deno compile`). Run by root, the child starts with root's own uid and
 * gid given to node:child_process: Deno then clears its supplementary groups before exec (Rust's
 * `Command::uid`), which Deno's `process.setgid` never does and a jailed worker cannot do itself.
 */
export function spawnSelfDeno(args: readonly string[], options: SpawnSelfOptions): ChildProcess {
  const deno = denoGlobal();
  const command = deno.execPath();
  // Without it node:child_process fails with a misleading "not executable" (the stat it then tries
  // is allowed); `npm run build -- --runtime deno` makes binaries without --allow-run on purpose.
  if (!granted({ name: "run", command })) {
    throw new Error(
      `Cannot start "${command}": this process may not start programs (Deno without --allow-run, ` +
        "as in a deno compile build): run it without workers",
    );
  }
  const argv = deno.build.standalone === true
    ? [...args]
    : [
      "run",
      ...(options.jailed
        ? denoJailFlags(options.env, options.changesIdentity === true, options.chroots === true)
        : ["-A"]),
      deno.mainModule,
      ...args,
    ];
  const asRoot = deno.build.os !== "windows" && granted({ name: "sys", kind: "uid" }) && process.getuid!() === 0;
  const sockets = descriptorsOf(options.sockets);
  const start = () =>
    startChild(command, argv, {
      env: options.env,
      inherited: sockets,
      ...(asRoot ? { uid: 0, gid: process.getgid!() } : {}),
    });
  // Not through `stdio`, which would make the shared sockets blocking (see _inheritable_socket.ts).
  return sockets.length === 0 ? start() : whileInheritable(denoSocketLibc(), sockets, start);
}

/** Our effective uid through node:process (--allow-sys=uid); -1 on Windows. */
export function userIdDeno(): number {
  if (denoGlobal().build.os === "windows") return -1;
  if (!granted({ name: "sys", kind: "uid" })) throw new Error("Cannot read the user id: Deno needs --allow-sys=uid");
  return process.geteuid!();
}

/**
 * setgroups through FFI when granted, then setgid and setuid (node:process; glibc applies them to
 * every thread). Deno has no `process.setgroups`: without --allow-ffi the supplementary groups stay,
 * so then any group besides `gid` is an error raised before anything changes.
 */
export function setIdentityDeno(uid: number, gid: number): void {
  const failure = `Cannot run as uid ${uid}, gid ${gid}`;
  if (denoGlobal().build.os === "windows") throw new Error(`${failure}: Windows has no user and group ids`);
  if (!granted({ name: "sys" })) throw new Error(`${failure}: Deno needs --allow-sys (setuid and setgid have no kind of their own)`);
  if (granted({ name: "ffi" })) {
    if (denoLibc().setgroups(1, new Uint32Array([gid])) !== 0) {
      throw new Error(`${failure}: setgroups failed (not running as root?)`);
    }
  } else {
    const others = process.getgroups!().filter((group) => group !== gid);
    if (others.length > 0) {
      throw new Error(
        `${failure}: Deno has no setgroups and without --allow-ffi the supplementary groups ${others.join(",")} would stay`,
      );
    }
  }
  try {
    process.setgid!(gid);
    process.setuid!(uid);
  } catch (error) {
    throw new Error(`${failure}: ${error instanceof Error ? error.message : String(error)}`);
  }
  verifyIdentity(uid, gid);
}

/** Pins every thread of `pid` through FFI sched_setaffinity (--allow-ffi, and reading /proc). */
export function setAffinityDeno(pid: number, cores: readonly number[]): void {
  const failure = `Cannot pin process ${pid} to cores ${cores.join(",")}`;
  if (!isLinux()) throw new Error(`${failure}: only on Linux`);
  if (!granted({ name: "ffi" })) throw new Error(`${failure}: Deno needs --allow-ffi to call sched_setaffinity`);
  const tasks = `/proc/${pid}/task`;
  if (!granted({ name: "read", path: tasks })) throw new Error(`${failure}: Deno needs --allow-read for "${tasks}"`);
  const libc = denoLibc();
  pinAllThreads(
    pid,
    cores,
    (target) => threadIds([...denoGlobal().readDirSync(`/proc/${target}/task`)].map((entry) => entry.name)),
    (tid, mask) => libc.sched_setaffinity(tid, CPU_SET_BYTES, mask) === 0,
  );
}

/**
 * CLOCK_MONOTONIC through FFI clock_gettime: Deno's `performance.now()` and `process.hrtime`
 * count from the process start, and nothing else reads that clock.
 */
export function monotonicMicrosDeno(): bigint {
  if (!isLinux()) throw new Error(`CLOCK_MONOTONIC is read through FFI on Linux only, not on ${denoGlobal().build.os}`);
  if (!granted({ name: "ffi" })) throw new Error("Cannot read CLOCK_MONOTONIC: Deno needs --allow-ffi to call clock_gettime");
  const timespec = new BigInt64Array(2);
  if (denoLibc().clock_gettime(CLOCK_MONOTONIC, timespec) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
  return timespecMicros(timespec);
}

/** Cores we may use: Deno's hardwareConcurrency follows the affinity mask on Linux. */
export function cpuCountDeno(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Reads `path`: "denied" when the read permission is not granted (queried first, so a terminal
 * never gets a prompt) or Deno refused (NotCapable). Deno 2's PermissionDenied is the OS's EACCES,
 * "failed" like any other error, as on Node.
 */
export async function fileAccessDeno(path: string): Promise<FileAccess> {
  if (!granted({ name: "read", path })) return "denied";
  try {
    await denoGlobal().readFile(path);
    return "readable";
  } catch (error) {
    return (error as { name?: unknown } | null)?.name === "NotCapable" ? "denied" : "failed";
  }
}

/** What is at `path` (Deno.stat, links followed): NotFound and NotADirectory mean "missing". */
export async function pathKindDeno(path: string): Promise<PathKind> {
  try {
    const found = await denoGlobal().stat(path);
    return found.isDirectory ? "directory" : found.isFile ? "file" : "other";
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "NotFound" || name === "NotADirectory") return "missing";
    throw error;
  }
}

/**
 * chroot(2) and chdir("/") through FFI (Linux, --allow-ffi). A process without read permission
 * runs in the permission jail, where FFI was granted for this call only (`denoJailFlags`): it is
 * revoked once chrooted, after closing every library opened, since a symbol already bound would
 * still run (measured: Deno 2.9 checks the permission at `dlopen`, not at each call). Such a
 * worker drops its supplementary groups without FFI: its root master started it with none.
 */
export function chrootDeno(dir: string): void {
  if (!isLinux()) throw chrootUnsupported(dir, `chroot(2) is called through FFI on Linux only, not on ${denoGlobal().build.os}`);
  if (!granted({ name: "ffi" })) {
    const build = denoGlobal().build.standalone === true
      ? "this deno compile build was made without --allow-ffi; the default build (Bun) can"
      : "run deno with --allow-ffi (or -A)";
    throw chrootUnsupported(dir, `Deno needs the FFI permission to call chroot(2): ${build}`);
  }
  const library = openDenoLibc<DenoChrootLibc>({
    chroot: { parameters: ["buffer"], result: "i32" },
    chdir: { parameters: ["buffer"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  const libc = library.symbols;
  try {
    chrootWith(dir, {
      chroot: (path) => libc.chroot(path),
      chdir: (path) => libc.chdir(path),
      errno: () => new (denoGlobal().UnsafePointerView)(libc.__errno_location()).getInt32(0),
    });
  } finally {
    library.close();
  }
  if (!granted({ name: "read" })) {
    for (const opened of [shared, socketLibrary]) opened?.close();
    shared = undefined;
    socketLibrary = undefined;
    socketLibc = undefined;
    denoGlobal().permissions.revokeSync({ name: "ffi" });
  }
}

/** The C library opened for the affinity, clock and group calls, once. */
let shared: DenoLibrary<DenoLibc> | undefined;
/** The C library opened for the socket calls, once (a master's). */
let socketLibrary: DenoLibrary<OpenedLibcSockets<unknown>> | undefined;
let socketLibc: LibcSockets | undefined;

type DenoSymbols = Record<string, { parameters: string[]; result: string }>;

/** Opens the C library through Deno.dlopen with `symbols`, trying each libc name of the platform. */
function openDenoLibc<Symbols>(symbols: DenoSymbols): DenoLibrary<Symbols> {
  return openLibc(denoGlobal().build.arch, "Deno.dlopen", (name) => denoGlobal().dlopen<Symbols>(name, symbols));
}

/** Opens libc once through Deno.dlopen (needs --allow-ffi, checked by the callers). */
function denoLibc(): DenoLibc {
  shared ??= openDenoLibc<DenoLibc>({
    sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  });
  return shared.symbols;
}

/** True where `bindInheritableDeno` works: Linux x64 or arm64, with --allow-ffi. */
export function inheritableSocketsAvailableDeno(): boolean {
  const build = denoGlobal().build;
  return libcSocketsAvailable(build.os, build.arch) && granted({ name: "ffi" });
}

/** Binds a socket for a child through libc (see `_inheritable_socket.ts`); needs --allow-ffi. */
export function bindInheritableDeno(options: ListenOptions): Promise<InheritableSocket> {
  if (!inheritableSocketsAvailableDeno()) {
    const build = denoGlobal().build;
    return Promise.reject(
      new Error(
        `Cannot bind a socket for a child process: Deno needs --allow-ffi, on Linux x64 or arm64 (this is ${build.os} ${build.arch})`,
      ),
    );
  }
  return bindWithLibc(options, denoSocketLibc());
}

/** Opens libc once for the socket calls. */
function denoSocketLibc(): LibcSockets {
  if (socketLibc !== undefined) return socketLibc;
  const symbols: DenoSymbols = {};
  for (const [name, signature] of Object.entries(LIBC_SOCKET_SYMBOLS)) {
    symbols[name] = { parameters: [...signature.args], result: signature.result };
  }
  socketLibrary = openDenoLibc<OpenedLibcSockets<unknown>>(symbols);
  const deno = denoGlobal();
  socketLibc = libcSocketsOf(socketLibrary.symbols, (pointer) => new deno.UnsafePointerView(pointer).getInt32());
  return socketLibc;
}
