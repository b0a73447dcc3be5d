/**
 * The build stamp: the commit, date and target a compiled executable reports in `proxy version
 * -vv`, baked in through a generated entry module (see src/build_info.ts for why not a define).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { BuildInfo } from "../../src/build_info.ts";

function git(root: string, args: readonly string[]): string | undefined {
  const result = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * The commit of the checkout (`-dirty` with uncommitted changes to tracked files) or "unknown"
 * outside git, and the date: SOURCE_DATE_EPOCH when set, so that a rebuild of one commit can be
 * byte-for-byte the same (reproducible-builds.org), otherwise now.
 */
export function buildStamp(root: string, target: string, compiler: string): BuildInfo {
  const commit = git(root, ["rev-parse", "--short=12", "HEAD"]);
  const dirty = commit !== undefined && (git(root, ["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "";
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const date = epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  return {
    commit: commit === undefined ? "unknown" : `${commit}${dirty ? "-dirty" : ""}`,
    date: date.toISOString().replace(/\.\d{3}Z$/, "Z"),
    target,
    compiler,
  };
}

function importPath(from: string, to: string): string {
  const path = relative(from, to).split(sep).join("/");
  return path.startsWith(".") ? path : `./${path}`;
}

/**
 * Writes `<directory>/entry.ts`, which records `stamp` and then loads src/main.ts, and returns its
 * path. The stamp module is imported first: ES modules are evaluated in import order, so the stamp
 * is there before main.ts runs.
 */
export function writeStampedEntry(root: string, directory: string, stamp: BuildInfo): string {
  mkdirSync(directory, { recursive: true });
  const buildInfo = importPath(directory, join(root, "src", "build_info.ts"));
  const main = importPath(directory, join(root, "src", "main.ts"));
  writeFileSync(
    join(directory, "stamp.ts"),
    `import { recordBuild } from ${JSON.stringify(buildInfo)};\nrecordBuild(${JSON.stringify(stamp)});\n`,
  );
  const entry = join(directory, "entry.ts");
  writeFileSync(entry, `import "./stamp.ts";\nimport ${JSON.stringify(main)};\n`);
  return entry;
}
