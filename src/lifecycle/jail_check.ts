/**
 * The jail self-check of a -W worker (HAProxy's chroot, done with the runtime's permission model):
 * once started, a worker tries to read a file its master could read, and says what the jail did.
 * A jail that should hold and does not is a warning, never a stop: the worker serves either way,
 * but the operator learns that the file system is open.
 *
 * @module
 */

import type { FileAccess, JailKind, Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";

/** A file the master reads to offer as a probe when there is no configuration file (the quick start). */
export const FALLBACK_JAIL_PROBE = "/etc/passwd";

/** What the check found: the read's outcome, or "no-jail" where the runtime has none, or "no-probe". */
export type JailCheckOutcome = FileAccess | "no-jail" | "no-probe";

/**
 * Picks the file a worker should fail to read: the first certificate file (a private key is what
 * the jail keeps most from a compromised worker, which gets its certificates from the master),
 * else the first configuration file, else {@link FALLBACK_JAIL_PROBE}, whichever the master can
 * read itself (so "readable" in the worker means the jail let it through, not that the file
 * moved); null when none is readable.
 */
export async function chooseJailProbe(
  files: readonly string[],
  runtime: Runtime,
  certificateFiles: readonly string[] = [],
): Promise<string | null> {
  for (const path of [...certificateFiles.slice(0, 1), ...files.slice(0, 1), FALLBACK_JAIL_PROBE]) {
    if (await runtime.fileAccess(path) === "readable") return path;
  }
  return null;
}

/** Tries to read `probe` in the worker and logs what the jail did; returns the outcome. */
export async function checkJail(
  jail: JailKind,
  probe: string | null,
  runtime: Runtime,
  logger: Logger,
): Promise<JailCheckOutcome> {
  if (jail === "none") {
    // `deno compile` fixes the permissions at build time: the workers get those the binary was built with.
    const why = runtime.info.name === "deno"
      ? "this compiled Deno binary runs its workers with the permissions it was built with"
      : `${runtime.info.name} has no permission model`;
    logger.info(`File system open: ${why}, this worker can read and write what its user can`);
    return "no-jail";
  }
  if (probe === null) {
    logger.warn(`File system jail (${jail}) not checked: the master found no readable file to try`);
    return "no-probe";
  }
  const access = await runtime.fileAccess(probe);
  if (access === "denied") {
    logger.info(`File system closed: reading "${probe}" was denied (${jail})`);
  } else if (access === "readable") {
    logger.warn(
      `File system open: reading "${probe}" succeeded although this worker runs in the ${jail} jail`,
    );
  } else {
    logger.warn(
      `File system jail (${jail}) not checked: reading "${probe}" failed for a reason other than permissions`,
    );
  }
  return access;
}
