/**
 * `npm run build`: compiles the proxy for this machine into one standalone executable, dist/proxy,
 * with `bun build --compile` (Bun's runtime is embedded: no Node, Bun or Deno needed to run it).
 *
 * Usage: node scripts/build.ts [--outfile PATH]
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules", ".bin", "bun");

function main(): number {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--outfile");
  const outfile = outIndex >= 0 && args[outIndex + 1] !== undefined ? args[outIndex + 1]! : join(root, "dist", "proxy");
  mkdirSync(dirname(outfile), { recursive: true });
  const started = Date.now();
  const result = spawnSync(
    bun,
    ["build", "--compile", "--minify", "--sourcemap=none", join(root, "src", "main.ts"), "--outfile", outfile],
    { cwd: root, stdio: "inherit" },
  );
  if (result.status !== 0) {
    process.stderr.write(`Build failed: bun build exited with ${result.status ?? result.signal}\n`);
    return 1;
  }
  const size = statSync(outfile).size;
  process.stdout.write(
    `Built "${outfile}" (${(size / 1024 / 1024).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  const check = spawnSync(outfile, ["version"], { encoding: "utf8" });
  if (check.status !== 0) {
    process.stderr.write(`The built binary does not run: ${check.stderr}\n`);
    return 1;
  }
  process.stdout.write(check.stdout);
  return 0;
}

process.exitCode = main();
