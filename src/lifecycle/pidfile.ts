/**
 * The pid file (`global.pidfile`): written once the listeners are bound, as HAProxy does, so a
 * supervisor reading it finds a process that already serves.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import { ConfigError } from "../config/errors.ts";

/** Writes our pid and a newline to `path`; a failure is a start-up error naming the file. */
export async function writePidFile(path: string, runtime: Runtime): Promise<void> {
  try {
    await runtime.writeTextFile(path, `${runtime.pid}\n`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError("CONFIG_INVALID_VALUE", "global.pidfile", `Cannot write pid file "${path}": ${reason}`, { cause: error });
  }
}
