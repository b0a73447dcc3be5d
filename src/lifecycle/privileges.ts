/**
 * `user`/`group`: privileges dropped once the listeners are bound, as HAProxy's `user`/`group`.
 *
 * Two steps, because a jailed worker can read no file: {@link resolveIdentity} runs first (the
 * standalone process before binding, or the master), looks the names up in /etc/passwd and
 * /etc/group and decides whether a change is needed and possible; {@link applyIdentity} runs after
 * binding and only calls `setIdentity` with the plain numbers it was handed.
 *
 * Sockets keep the owner they were created with (measured on Linux 6.18): listeners bound as root
 * stay root's after the drop, so a new root process can still bind beside them with SO_REUSEPORT
 * (-sf); but re-binding a port below 1024 after the drop (SIGTTIN after SIGTTOU) fails with EACCES,
 * and a listener re-bound after the drop belongs to the new user, which a root process cannot share.
 * See docs/security.md.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { GlobalConfig } from "../config/types.ts";
import { LifecycleError } from "./errors.ts";
import { GROUP_FILE, groupByName, parseGroup, parsePasswd, PASSWD_FILE, userById, userByName } from "./accounts.ts";
import type { GroupAccount, UserAccount } from "./accounts.ts";

/**
 * A numeric user and group to become. Plain numbers only: the master resolves it and sends it to
 * workers that cannot read /etc/passwd (`config_handover.ts` checks exactly these two fields).
 */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
}

/** Where Linux tells a process its ids (`Gid:` real, effective, saved, file system). */
const PROC_STATUS = "/proc/self/status";

/** The superuser's uid: the only one allowed to become another user. */
const ROOT_UID = 0;

/**
 * Resolves `user`/`group` to the ids to become, before binding and before any jail; null when
 * neither is set or we already are that user and group. Throws a LifecycleError when an account is
 * unknown, or a change is needed that this process or runtime cannot make.
 */
export async function resolveIdentity(global: GlobalConfig, runtime: Runtime): Promise<Identity | null> {
  const { user, group } = global;
  if (user === null && group === null) return null;
  const currentUid = currentUserId(runtime);
  const accounts = new AccountFiles(runtime);
  let uid = currentUid;
  let gid: number | null = null;
  if (typeof user === "number") {
    uid = user;
  } else if (typeof user === "string") {
    const account = userByName(await accounts.users(`user "${user}" (global.user)`), user);
    if (account === undefined) {
      throw new LifecycleError("LIFECYCLE_PRIVILEGES", `Unknown user "${user}" (global.user): not in ${PASSWD_FILE}`);
    }
    uid = account.uid;
    gid = account.gid;
  }
  if (typeof group === "number") {
    gid = group;
  } else if (typeof group === "string") {
    const account = groupByName(await accounts.groups(`group "${group}" (global.group)`), group);
    if (account === undefined) {
      throw new LifecycleError("LIFECYCLE_PRIVILEGES", `Unknown group "${group}" (global.group): not in ${GROUP_FILE}`);
    }
    gid = account.gid;
  } else if (gid === null) {
    // A numeric `user` alone: HAProxy would keep root's group; we take the user's own, as login does.
    const account = userById(await accounts.users(`the primary group of uid ${uid} (global.user)`), uid);
    if (account === undefined) {
      throw new LifecycleError(
        "LIFECYCLE_PRIVILEGES",
        `Unknown user ${uid} (global.user): not in ${PASSWD_FILE}, so it has no primary group: set "group" too`,
      );
    }
    gid = account.gid;
  }
  const identity: Identity = { uid, gid: gid! };
  const currentGid = await currentGroupId(runtime);
  if (identity.uid === currentUid) {
    if (identity.gid === currentGid) return null;
    // Where the OS does not tell our group, a user that runs as itself, group not named, is already set.
    if (currentGid === null && group === null && currentUid !== ROOT_UID) return null;
  }
  const target = describeTarget(global, identity);
  if (!runtime.info.identity) {
    const { name, version, os } = runtime.info;
    throw new LifecycleError(
      "LIFECYCLE_PRIVILEGES",
      `Cannot run as ${target}: ${name} ${version} cannot change its user and group on ${os} (${
        identityHint(runtime)
      }); ` +
        `remove "user" and "group" from [global] or start the proxy as that user`,
    );
  }
  if (currentUid !== ROOT_UID) {
    const group = currentGid === null ? "" : `, gid ${currentGid}`;
    throw new LifecycleError(
      "LIFECYCLE_PRIVILEGES",
      `Cannot run as ${target}: this process runs as uid ${currentUid}${group}, and only root can change its user and group; ` +
        `start the proxy as root or remove "user" and "group" from [global]`,
    );
  }
  return identity;
}

/**
 * Becomes `identity` (nothing for null): one call after every listener is bound, with no way back.
 * Throws a LifecycleError when the runtime or the OS refused.
 */
export function applyIdentity(identity: Identity | null, runtime: Runtime, logger: Logger): void {
  if (identity === null) return;
  try {
    runtime.setIdentity(identity.uid, identity.gid);
  } catch (error) {
    throw new LifecycleError("LIFECYCLE_PRIVILEGES", `Privilege drop failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  logger.notice(
    `Running as uid ${identity.uid}, gid ${identity.gid} with no other group (privileges dropped after binding)`,
  );
  if (identity.uid === ROOT_UID) {
    // HAProxy warns too: a group without a user leaves every power of root in place.
    logger.warn(
      `Still running as root (uid 0): "group" alone changes the group only; set "user" to drop root's privileges`,
    );
  }
}

/** /etc/passwd and /etc/group, each read at most once per resolution. */
class AccountFiles {
  private readonly runtime: Runtime;
  private passwd: UserAccount[] | null = null;
  private group: GroupAccount[] | null = null;

  constructor(runtime: Runtime) {
    this.runtime = runtime;
  }

  /** The user accounts; `purpose` names what they are read for, in the error. */
  async users(purpose: string): Promise<UserAccount[]> {
    this.passwd ??= parsePasswd(await this.read(PASSWD_FILE, purpose));
    return this.passwd;
  }

  /** The groups; `purpose` names what they are read for, in the error. */
  async groups(purpose: string): Promise<GroupAccount[]> {
    this.group ??= parseGroup(await this.read(GROUP_FILE, purpose));
    return this.group;
  }

  private async read(path: string, purpose: string): Promise<string> {
    try {
      return await this.runtime.readTextFile(path);
    } catch (error) {
      throw new LifecycleError(
        "LIFECYCLE_PRIVILEGES",
        `Cannot read "${path}" to look up ${purpose}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

/** Our effective uid; throws a LifecycleError where there is none or it cannot be read. */
function currentUserId(runtime: Runtime): number {
  let uid: number;
  try {
    uid = runtime.userId();
  } catch (error) {
    throw new LifecycleError(
      "LIFECYCLE_PRIVILEGES",
      `Cannot tell which user this process runs as: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  if (uid < 0) {
    throw new LifecycleError(
      "LIFECYCLE_PRIVILEGES",
      `"user" and "group" cannot apply on ${runtime.info.os}: it has no user and group ids; remove them from [global]`,
    );
  }
  return uid;
}

/**
 * Our effective gid from /proc (the contract has no getegid: Linux is where the proxy drops
 * privileges in practice); null where it cannot be read.
 */
async function currentGroupId(runtime: Runtime): Promise<number | null> {
  if (runtime.info.os !== "linux") return null;
  let status: string;
  try {
    status = await runtime.readTextFile(PROC_STATUS);
  } catch {
    return null;
  }
  return effectiveGroupOfStatus(status);
}

/** The effective gid of a /proc/PID/status text (`Gid: real effective saved fs`), or null. */
function effectiveGroupOfStatus(status: string): number | null {
  const match = /^Gid:\s+\d+\s+(\d+)/m.exec(status);
  return match === null ? null : Number(match[1]);
}

/** `user "nobody" (uid 65534), group "nogroup" (gid 65534)`, as configured, for messages. */
function describeTarget(global: GlobalConfig, identity: Identity): string {
  const user = typeof global.user === "string"
    ? `user "${global.user}" (uid ${identity.uid})`
    : `uid ${identity.uid}${global.user === null ? " (unchanged)" : ""}`;
  const group = typeof global.group === "string"
    ? `group "${global.group}" (gid ${identity.gid})`
    : `gid ${identity.gid}${global.group === null ? " (the user's primary group)" : ""}`;
  return `${user}, ${group}`;
}

/** Why this runtime cannot change identity here, and what would let it. */
function identityHint(runtime: Runtime): string {
  const { name, os } = runtime.info;
  if (os === "win32") return "Windows has no user and group ids";
  if (name === "deno") {
    return "Deno needs --allow-sys for setuid and setgid, and --allow-ffi to drop supplementary groups";
  }
  return "the runtime has no setuid and setgid";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
