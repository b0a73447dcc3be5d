/**
 * `chroot`: HAProxy's jail. Once the listeners are bound and every file is read (configuration,
 * errorfiles, accounts, the pid file written), the process chroots into a directory, normally
 * empty, and only then drops its privileges: a compromised process finds no file system. Standalone
 * processes and -W workers alike; a -W master is never chrooted (it reads the files again on every
 * reload), as HAProxy's master is not.
 *
 * Three steps, like privileges.ts: {@link planChroot} before binding refuses what it can foresee
 * (a runtime that cannot make the call, a process that may not, a directory that is not one);
 * {@link enterChroot} makes the call after binding, and its failure stops the start;
 * {@link reportChroot} then tries to read a file and says what the jail did.
 *
 * Node has no FFI to call chroot(2): a standalone Node process with `chroot` refuses to start
 * (a silent no-jail would be worse), and Node's -W workers keep the jail they have, the permission
 * model, and say so ({@link enterWorkerChroot}). docs/security.md shows what each runtime's jail
 * still allows.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { GlobalConfig } from "../config/types.ts";
import { LifecycleError } from "./errors.ts";

/** Where Linux tells a process its capabilities (`CapEff:` in hexadecimal). */
const PROC_STATUS = "/proc/self/status";
/** The capability that allows chroot(2) (linux/capability.h). */
const CAP_SYS_CHROOT = 18n;
/** The superuser's uid. */
const ROOT_UID = 0;

/** Who plans: a process that will chroot itself, or a -W master whose workers will. */
export type ChrootRole = "standalone" | "master";

/** True when the workers of this runtime are jailed by Node's permission model instead of a chroot. */
function permissionModelInstead(runtime: Runtime): boolean {
  return !runtime.info.chroot && runtime.info.jail === "node-permission-model";
}

/**
 * Checks before binding that `global.chroot` can be applied; returns the directory, or null when
 * none is set. Throws a LifecycleError (LIFECYCLE_CHROOT) when this runtime cannot chroot (Node
 * standalone, Deno without FFI, not Linux), when this process may not (neither root nor
 * CAP_SYS_CHROOT), or when the directory is not one. A master on Node passes: its workers keep the
 * permission model.
 */
export async function planChroot(
  global: GlobalConfig,
  runtime: Runtime,
  role: ChrootRole,
): Promise<string | null> {
  const directory = global.chroot;
  if (directory === null) return null;
  if (!runtime.info.chroot) {
    if (role === "master" && permissionModelInstead(runtime)) return directory;
    throw refusal(directory, unsupportedReason(runtime, role));
  }
  const why = await missingPrivilege(runtime);
  if (why !== null) {
    throw refusal(
      directory,
      `${why}; start the proxy as root (with "user" to drop root's privileges after the chroot)`,
    );
  }
  let kind: string;
  try {
    kind = await runtime.pathKind(directory);
  } catch {
    // Cannot look (permissions): the call itself will tell.
    return directory;
  }
  if (kind === "missing") throw refusal(directory, "no such directory");
  if (kind !== "directory") throw refusal(directory, "not a directory");
  return directory;
}

/**
 * Chroots into `directory` (after binding and reading every file, before dropping privileges) and
 * says so. Throws a LifecycleError (LIFECYCLE_CHROOT) with the runtime's reason when the call fails.
 */
export function enterChroot(directory: string, runtime: Runtime, logger: Logger): void {
  try {
    runtime.chroot(directory);
  } catch (error) {
    throw new LifecycleError(
      "LIFECYCLE_CHROOT",
      `${error instanceof Error ? error.message : String(error)} (global.chroot)`,
      { cause: error },
    );
  }
  logger.notice(`Chrooted into "${directory}" (global.chroot): the file system outside it is out of reach`);
}

/**
 * A -W worker's chroot: {@link enterChroot}, or on Node, which cannot make the call, a line saying
 * that the permission model jails this worker instead. Returns the directory when the worker
 * chrooted, else null.
 */
export function enterWorkerChroot(directory: string | null, runtime: Runtime, logger: Logger): string | null {
  if (directory === null) return null;
  if (permissionModelInstead(runtime)) {
    logger.notice(
      `Not chrooted into "${directory}" (global.chroot): Node has no FFI to call chroot(2); ` +
        "this worker is jailed by Node's permission model instead",
    );
    return null;
  }
  enterChroot(directory, runtime, logger);
  return directory;
}

/**
 * Once chrooted (and privileges dropped), tries to read `probe`, a file that was readable before,
 * and says what the jail did: out of reach (the chroot holds), denied (a permission model on top),
 * or readable (the directory holds a copy of it: a warning, the process serves either way).
 */
export async function reportChroot(
  directory: string,
  probe: string | null,
  runtime: Runtime,
  logger: Logger,
): Promise<void> {
  if (probe === null) {
    logger.info(`File system closed: chrooted into "${directory}"`);
    return;
  }
  const access = await runtime.fileAccess(probe);
  if (access === "readable") {
    logger.warn(
      `File system open: reading "${probe}" succeeded inside the chroot "${directory}": ` +
        "the chroot directory holds files, keep it empty",
    );
    return;
  }
  const what = access === "denied" ? "was denied" : "found nothing";
  logger.info(`File system closed: chrooted into "${directory}", reading "${probe}" ${what}`);
}

function refusal(directory: string, reason: string): LifecycleError {
  return new LifecycleError("LIFECYCLE_CHROOT", `Cannot chroot to "${directory}" (global.chroot): ${reason}`);
}

/** Why this runtime cannot chroot, and what would. */
function unsupportedReason(runtime: Runtime, role: ChrootRole): string {
  const { name, os, compiled } = runtime.info;
  const remove = `, or remove "chroot" from [global]`;
  if (os !== "linux") return `chroot(2) is called through FFI on Linux only, not on ${os}${remove}`;
  if (name === "node") {
    const standalone = role === "standalone"
      ? `run with -W, whose workers Node's permission model jails instead (docs/security.md), `
      : "";
    return `Node has no FFI to call chroot(2): ${standalone}run on Bun or Deno (or the default executable)${remove}`;
  }
  if (name === "deno") {
    return compiled
      ? `this deno compile build has no FFI permission: use the default executable (Bun)${remove}`
      : `Deno needs the FFI permission to call chroot(2): run it with --allow-ffi (or -A)${remove}`;
  }
  return `${name} cannot call chroot(2) here${remove}`;
}

/**
 * Why this process may not chroot (CAP_SYS_CHROOT not in its effective set, as a root without it in
 * a container; or, where /proc does not tell, not root), or null when it may or when that cannot be
 * told (the call itself then fails with EPERM).
 */
async function missingPrivilege(runtime: Runtime): Promise<string | null> {
  let uid: number;
  try {
    uid = runtime.userId();
  } catch {
    return null;
  }
  if (uid < 0) return null;
  let capabilities: bigint | null = null;
  try {
    const match = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(await runtime.readTextFile(PROC_STATUS));
    if (match !== null) capabilities = BigInt(`0x${match[1]}`);
  } catch {
    // No /proc: the uid alone tells.
  }
  const allowed = capabilities === null ? uid === ROOT_UID : ((capabilities >> CAP_SYS_CHROOT) & 1n) === 1n;
  if (allowed) return null;
  return `this process runs as uid ${uid} without CAP_SYS_CHROOT, and only root or a process with that capability may chroot`;
}
