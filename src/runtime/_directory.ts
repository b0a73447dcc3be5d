/**
 * Directory listing with node:fs/promises, which Deno provides too (its permission model applies).
 *
 * @module
 */

import { readdir } from "node:fs/promises";

/** The names in a directory, in no particular order. */
export function listDirectoryNode(path: string): Promise<string[]> {
  return readdir(path);
}
