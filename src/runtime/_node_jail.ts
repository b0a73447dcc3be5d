/**
 * The command line of a Node child started in the permission model (`--permission`): file reads
 * are granted for the program's own code only, so the worker can load its modules and nothing else.
 *
 * What is granted (each once, as real paths, since Node's loader reads modules at their real path):
 * - the directory of the entry script (its source tree: `src/` for `src/main.ts`);
 * - the source tree holding the runtime modules (`src/`, when the entry is elsewhere, as with an
 *   embedding program or a test fixture), or the file this code was bundled into;
 * - every package the program depends on (`dependencies` and `optionalDependencies` of the
 *   nearest package.json, then theirs in turn), found the way Node resolves them, in the
 *   `node_modules` of each parent directory;
 * - the nearest package.json of each source tree, which Node reads to tell ES modules from
 *   CommonJS (Node 24 reads it even when it is not granted; the grant keeps that from depending
 *   on a loader detail).
 * Nothing is granted for writing, subprocesses, worker threads or addons. Node 24's permission
 * model does not cover the network, environment variables or `process.setuid`/`setgid`.
 *
 * @module
 */

import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Flags making a Node child run under the permission model with reads of its own code only. */
export function nodeJailFlags(entry: string): string[] {
  return ["--permission", ...nodeJailReadGrants(entry).map((path) => `--allow-fs-read=${path}`)];
}

/** The paths a jailed child may read; see the module comment. */
export function nodeJailReadGrants(entry: string): string[] {
  const grants = new Set<string>();
  const trees: string[] = [];
  const entryFile = realPath(entry);
  trees.push(dirname(entryFile));
  const moduleFile = realPath(fileURLToPath(import.meta.url));
  if (moduleFile.endsWith(`${sep}runtime${sep}_node_jail.ts`)) {
    // Running from source: the tree above runtime/ holds every module of the program.
    trees.push(dirname(dirname(moduleFile)));
  } else {
    // Bundled: this code lives in the bundle (or one of its chunks), which is all there is to read.
    grants.add(moduleFile);
  }
  for (const tree of trees) grants.add(withSeparator(tree));
  const packages = new Set<string>();
  for (const tree of trees) {
    const manifest = nearestManifest(tree);
    if (manifest === undefined) continue;
    grants.add(manifest);
    addDependencies(dirname(manifest), packages);
  }
  for (const dir of packages) grants.add(withSeparator(dir));
  return collapse([...grants]);
}

/** Adds the packages `packageDir` depends on, and theirs, to `found` (real directories). */
function addDependencies(packageDir: string, found: Set<string>): void {
  const pending = [packageDir];
  // A package graph is finite but may have cycles: `found` stops them.
  while (pending.length > 0) {
    const dir = pending.pop()!;
    for (const name of dependencyNames(join(dir, "package.json"))) {
      const resolved = resolvePackage(dir, name);
      if (resolved === undefined || found.has(resolved)) continue;
      found.add(resolved);
      pending.push(resolved);
    }
  }
}

function dependencyNames(manifest: string): string[] {
  try {
    const parsed = JSON.parse(readFileSync(manifest, "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    return [...Object.keys(parsed.dependencies ?? {}), ...Object.keys(parsed.optionalDependencies ?? {})];
  } catch {
    return [];
  }
}

/** Finds `name` the way Node does: in node_modules of `fromDir` and each of its parents. */
function resolvePackage(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir;; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realPath(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function nearestManifest(fromDir: string): string | undefined {
  for (let dir = fromDir;; dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) return realPath(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function withSeparator(dir: string): string {
  return dir.endsWith(sep) ? dir : dir + sep;
}

/** Drops paths already covered by a granted directory (src/runtime/ under src/), keeping the order. */
function collapse(paths: readonly string[]): string[] {
  return paths.filter((path) =>
    !paths.some((other) => other !== path && other.endsWith(sep) && path.startsWith(other))
  );
}
