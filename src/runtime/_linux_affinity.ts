/**
 * Pinning every thread of a process to a set of cores on Linux, with the runtime's FFI call of
 * glibc's `sched_setaffinity` (Bun and Deno; Node has no FFI).
 *
 * `sched_setaffinity(tid, ...)` pins one thread, and a runtime starts threads of its own (the
 * JIT, the garbage collector, the I/O pool): each thread listed in /proc/PID/task is pinned. A
 * thread started between the listing and its creator's pinning keeps the old set, so the listing is
 * repeated until it shows no thread not yet pinned. Threads started after that inherit the set.
 *
 * Also here, for the same FFI modules: the libc names to open and the CLOCK_MONOTONIC timespec
 * (64-bit Linux layout: x64 and arm64).
 *
 * @module
 */

/** Cores of a `cpu_set_t` (glibc's CPU_SETSIZE). */
const CPU_SET_SIZE = 1024;

/** `sizeof(cpu_set_t)`: 1024 bits. */
export const CPU_SET_BYTES = CPU_SET_SIZE / 8;

/** Listing rounds before giving up on a process that keeps starting threads. */
const MAX_ROUNDS = 10;

/** Pins one thread; false when the call failed. */
export type PinThread = (tid: number, mask: BigUint64Array) => boolean;

/** Lists the thread ids of a process (/proc/PID/task); throws when the process is gone or unreadable. */
export type ListThreads = (pid: number) => number[];

/** A `cpu_set_t` with `cores` set, as 64-bit words so the bit order is right on any byte order. */
export function cpuMask(cores: readonly number[]): BigUint64Array {
  const mask = new BigUint64Array(CPU_SET_BYTES / 8);
  for (const core of cores) mask[core >> 6]! |= 1n << BigInt(core & 63);
  return mask;
}

/** Checks a core list, throwing an Error naming the bad value. */
export function checkCores(pid: number, cores: readonly number[]): void {
  if (cores.length === 0) throw new Error(`Cannot pin process ${pid}: no cores given`);
  for (const core of cores) {
    if (!Number.isInteger(core) || core < 0 || core >= CPU_SET_SIZE) {
      throw new Error(`Cannot pin process ${pid} to core "${core}": cores go from 0 to ${CPU_SET_SIZE - 1}`);
    }
  }
}

/** Pins every thread of `pid` to `cores`; throws an Error saying why it could not. */
export function pinAllThreads(pid: number, cores: readonly number[], listThreads: ListThreads, pin: PinThread): void {
  checkCores(pid, cores);
  const mask = cpuMask(cores);
  const pinned = new Set<number>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let threads: number[];
    try {
      threads = listThreads(pid);
    } catch (error) {
      if (pinned.size > 0) return; // The process ended while being pinned.
      throw new Error(`Cannot pin process ${pid}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const fresh = threads.filter((tid) => !pinned.has(tid));
    if (fresh.length === 0) return;
    for (const tid of fresh) {
      if (!pin(tid, mask) && threadAlive(listThreads, pid, tid)) {
        throw new Error(
          `Cannot pin process ${pid} to cores ${cores.join(",")}: sched_setaffinity failed for thread ${tid} ` +
            "(a core that is offline or outside this process's cpuset, or no permission)",
        );
      }
      pinned.add(tid);
    }
  }
  throw new Error(`Cannot pin process ${pid}: it kept starting threads through ${MAX_ROUNDS} rounds`);
}

/** True when thread `tid` of `pid` still exists (a thread that ended fails its call with ESRCH). */
function threadAlive(listThreads: ListThreads, pid: number, tid: number): boolean {
  try {
    return listThreads(pid).includes(tid);
  } catch {
    return false;
  }
}

/** The ids in a /proc/PID/task listing. */
export function threadIds(names: Iterable<string>): number[] {
  const ids: number[] = [];
  for (const name of names) {
    const id = Number(name);
    if (Number.isInteger(id) && id > 0) ids.push(id);
  }
  return ids;
}

/** The names libc goes by on glibc and musl systems, for the FFI `dlopen`. */
export function libcCandidates(arch: string): string[] {
  const machine = arch === "arm64" || arch === "aarch64" ? "aarch64" : "x86_64";
  return ["libc.so.6", `libc.musl-${machine}.so.1`];
}

/**
 * Opens the C library with `open` (the runtime's dlopen, `api` naming it in the error) under each
 * of its names in turn; throws an Error naming every failure.
 */
export function openLibc<Library>(arch: string, api: string, open: (name: string) => Library): Library {
  const failures: string[] = [];
  for (const name of libcCandidates(arch)) {
    try {
      return open(name);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`Cannot load the C library through ${api} (${failures.join("; ")})`);
}

/** The Linux clock id of CLOCK_MONOTONIC. */
export const CLOCK_MONOTONIC = 1;

/** Microseconds from a `struct timespec` (two 64-bit fields on 64-bit Linux). */
export function timespecMicros(timespec: BigInt64Array): bigint {
  return timespec[0]! * 1_000_000n + timespec[1]! / 1000n;
}
