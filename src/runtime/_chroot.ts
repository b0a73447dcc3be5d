/**
 * chroot(2) then chdir("/") through a runtime's FFI (Bun and Deno; Node has none), and what has to
 * happen before: whatever the runtime would otherwise read from the file system the first time it
 * is needed, after the jail has closed it.
 *
 * Measured on Linux 6.18 (docs/security.md):
 * - The local time zone: Bun reads /etc/localtime (its link name) the first time a date is turned
 *   into local time. Read after the chroot, it is gone and local time silently becomes UTC
 *   (RFC 3164 syslog headers and local log dates would shift); read once before, it is kept
 *   (checked in a mount namespace whose /etc/localtime names Europe/Paris; Deno had read it at
 *   start already). HAProxy calls tzset() before its chroot for the same reason.
 * - Deno reads /proc/self/exe for `process.execPath`, and its node:dns asks for it on the first
 *   lookup; without /proc, Deno 2.9 panics (the process aborts) instead of throwing. The getter
 *   keeps its first answer, so it is read once before the chroot.
 *
 * @module
 */

import { ChrootError, chrootErrorOfErrno } from "./chroot_error.ts";

/** The libc calls a chroot is made of, bound through the runtime's FFI. */
export interface ChrootCalls {
  /** chroot(2) of a NUL-terminated path: 0, or -1 with errno set. */
  chroot(path: Uint8Array): number;
  /** chdir(2) of a NUL-terminated path: 0, or -1 with errno set. */
  chdir(path: Uint8Array): number;
  /** The calling thread's errno, read right after a call that failed. */
  errno(): number;
}

function cString(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}\0`);
}

/** Reads what the runtime would otherwise look for on the file system after the chroot; see the module comment. */
export function readAheadOfChroot(): void {
  new Date().getTimezoneOffset();
  void (globalThis as { process?: { execPath?: string } }).process?.execPath;
}

/**
 * Confines the process to `directory`: chroot(2), then chdir("/") so that no working directory is
 * left outside (the classic way out of a chroot). Throws a ChrootError with the errno's code.
 */
export function chrootWith(directory: string, calls: ChrootCalls): void {
  if (directory.includes("\0")) {
    throw new ChrootError(
      "ENOENT",
      `Cannot chroot to ${JSON.stringify(directory)}: the path holds a NUL byte`,
    );
  }
  readAheadOfChroot();
  if (calls.chroot(cString(directory)) !== 0) throw chrootErrorOfErrno(directory, "chroot", calls.errno());
  if (calls.chdir(cString("/")) !== 0) throw chrootErrorOfErrno(directory, "chdir", calls.errno());
}
