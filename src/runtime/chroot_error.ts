/**
 * The error of `Runtime.chroot`: why a process could not be confined to a directory, with a stable
 * Node-style code (the errno of chroot(2) or chdir(2), or ENOSYS where the runtime has no way to
 * make the call).
 *
 * @module
 */

/** Codes `Runtime.chroot` throws. Anything the kernel says besides these is reported as "EIO". */
export type ChrootErrorCode =
  /** Not root and no CAP_SYS_CHROOT (chroot(2)'s EPERM). */
  | "EPERM"
  /** The directory, or a directory on its path, does not exist. */
  | "ENOENT"
  /** The path, or a component of it, is not a directory. */
  | "ENOTDIR"
  /** A directory on the path may not be searched. */
  | "EACCES"
  /** The runtime cannot call chroot(2) here: no FFI (Node), no FFI permission (Deno), not Linux. */
  | "ENOSYS"
  | "EIO";

/** Linux errno values of the codes above, as chroot(2) and chdir(2) set them. */
const ERRNO_CODES: Readonly<Record<number, Exclude<ChrootErrorCode, "ENOSYS">>> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  20: "ENOTDIR",
};

const DESCRIPTIONS: Record<Exclude<ChrootErrorCode, "ENOSYS">, string> = {
  EPERM: "operation not permitted (only root, or a process with CAP_SYS_CHROOT, may chroot)",
  ENOENT: "no such directory",
  ENOTDIR: "not a directory",
  EACCES: "permission denied (a directory on the path may not be searched)",
  EIO: "input/output error",
};

/** `Runtime.chroot` failed; `code` says why, the message names the directory. */
export class ChrootError extends Error {
  readonly code: ChrootErrorCode;
  constructor(code: ChrootErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ChrootError";
    this.code = code;
  }
}

/** The error for a failed chroot(2) or chdir(2) of `directory` that set `errno` (Linux numbering). */
export function chrootErrorOfErrno(directory: string, call: "chroot" | "chdir", errno: number): ChrootError {
  const code = ERRNO_CODES[errno] ?? "EIO";
  const detail = code === "EIO" && errno !== 5 ? `${call} failed with errno ${errno}` : DESCRIPTIONS[code];
  return new ChrootError(code, `Cannot chroot to "${directory}": ${detail}`);
}

/** The error of a runtime that cannot call chroot(2) at all; `reason` says why and what would. */
export function chrootUnsupported(directory: string, reason: string): ChrootError {
  return new ChrootError("ENOSYS", `Cannot chroot to "${directory}": ${reason}`);
}
