/**
 * Finding programs and files the smoke test depends on, without running anything.
 *
 * @module
 */

import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The full path of `name` on PATH, or undefined. */
export function findCommand(name: string): string | undefined {
  for (const directory of (process.env.PATH ?? "").split(delimiter)) {
    if (directory === "") continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** The first of `paths` that exists, or undefined. */
export function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((path) => existsSync(path));
}
