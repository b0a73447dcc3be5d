/**
 * `deno compile`: one executable with Deno's runtime (denort) inside. Deno downloads denort for
 * each target from dl.deno.land at compile time (DENORT_BIN names a local one instead); that host
 * is not the npm registry, so an offline or registry-only machine cannot build these, and the
 * build says so.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BuildError } from "./build_error.ts";
import type { Target } from "./targets.ts";

/**
 * The permissions baked into the executable (a compiled Deno program takes no flags at run time):
 * the network, and what start-up needs — the environment (citty and consola read TERM, NO_COLOR,
 * CI... when loaded), reading the configuration and error files the command line names, and the
 * host name for syslog headers. Nothing else: no subprocesses (so no -W workers: the build is one
 * process), no FFI (no user/group change or cpu-map), no writes. `--unstable-net` is not a
 * permission: it lets Deno's native listener set SO_REUSEPORT for reloads beside an old process.
 */
export const DENO_COMPILE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-sys=hostname",
  "--unstable-net",
];

/** True when Deno's output says that fetching the base runtime failed. */
function isRuntimeDownloadFailure(output: string): boolean {
  return /Setting up base binary|dl\.deno\.land|denort/i.test(output) &&
    /error sending request|dns error|Connect|timed out|404|Not Found|download/i.test(output);
}

/** The root cause line of a Deno error report: the last "N: ..." line of its cause chain. */
function rootCause(output: string): string {
  const report = output.split(/^Stack backtrace:/m)[0]!;
  const causes = report.split("\n").map((line) => /^\s*\d+: (.*)$/.exec(line)?.[1]).filter((line) => line !== undefined);
  return causes.at(-1) ?? report.trim().split("\n").find((line) => /error/i.test(line)) ?? report.trim();
}

/** Compiles `entry` for `target` into `outfile` with `deno compile`. */
export function compileWithDeno(root: string, entry: string, target: Target, outfile: string): void {
  if (target.deno === undefined) {
    throw new BuildError("UNKNOWN_TARGET", `Cannot build "${target.name}" with deno compile: Deno has no build for it`);
  }
  const deno = join(root, "node_modules", ".bin", "deno");
  // --no-check: `npm test` type-checks the sources; a compile per target need not do it again.
  const result = spawnSync(
    deno,
    ["compile", "--no-check", ...DENO_COMPILE_PERMISSIONS, "--target", target.deno, "--output", outfile, entry],
    { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
  );
  if (result.status === 0) return;
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (isRuntimeDownloadFailure(output)) {
    const url = /https:\/\/\S+?\.zip/.exec(output)?.[0] ?? `denort for ${target.deno}`;
    throw new BuildError(
      "RUNTIME_DOWNLOAD_FAILED",
      `Cannot fetch the Deno runtime that deno compile builds "${target.name}" from ("${url}"): ${rootCause(output)}. ` +
        "Download it on a machine that can, and point DENORT_BIN at the unzipped denort binary",
    );
  }
  throw new BuildError(
    "COMPILER_FAILED",
    `Cannot compile "${target.name}" with deno compile: ${result.error?.message ?? rootCause(output)}`,
  );
}
