/**
 * `bun build --compile`: one executable with Bun's runtime inside, for any target from this machine
 * (Bun fetches the target's runtime from the npm registry, @oven/bun-<os>-<arch>, and caches it).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BuildError } from "./build_error.ts";
import type { Target } from "./targets.ts";

/**
 * The options, measured (docs/performance.md): `--bytecode` compiles the bundle to JavaScriptCore
 * bytecode at build time, which takes the host binary from ~53 ms to ~23 ms from exec to listening;
 * `--minify` saves a little time and 0.3 MiB. Bytecode needs ESM output here: CommonJS cannot hold
 * `import.meta`. No source map: stack traces name the bundled functions, which is enough for bug
 * reports and keeps the file smaller.
 */
export const BUN_COMPILE_FLAGS: readonly string[] = ["--minify", "--bytecode", "--format=esm", "--sourcemap=none"];

/** Compiles `entry` for `target` into `outfile`; throws BuildError with Bun's own words on failure. */
export function compileWithBun(root: string, entry: string, target: Target, outfile: string): void {
  const bun = join(root, "node_modules", ".bin", "bun");
  const result = spawnSync(
    bun,
    ["build", "--compile", ...BUN_COMPILE_FLAGS, `--target=${target.bun}`, entry, "--outfile", outfile],
    { cwd: root, encoding: "utf8" },
  );
  // Bun reports a bytecode failure on stderr and still exits 0 with a binary that lacks the bytecode.
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const failed = result.status !== 0 || /^error:/m.test(output);
  if (failed) {
    const cause = result.error?.message ?? output.trim().split("\n").filter((line) => /error/i.test(line)).join("; ");
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot compile "${target.name}" with bun build: ${cause || `exit ${result.status ?? result.signal}`}`,
    );
  }
}
