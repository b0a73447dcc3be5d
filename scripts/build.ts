/**
 * `npm run build`: standalone executables of the proxy, one file per OS and architecture, that run
 * without Node, Bun or Deno installed.
 *
 * Usage: node scripts/build.ts [--target all|host|NAME] [--runtime bun|deno|node] [--outdir DIR]
 *                              [--outfile PATH] [--bundle]
 *
 * - Bun (the default) cross-compiles every target of scripts/build/targets.ts from this machine into
 *   dist/proxy-<os>-<arch>[-musl][.exe], copies this machine's one to dist/proxy and writes
 *   dist/SHA256SUMS. `--target host` builds dist/proxy alone; `--target NAME` one target.
 * - `--runtime deno`: `deno compile` for the targets Deno has, into dist/deno/.
 * - `--runtime node`: a Node single executable application for this machine, dist/node/proxy.
 * - `--runtime node --bundle`: the JavaScript bundle that Node runs in production, dist/node/proxy.cjs
 *   (scripts/build/node_bundle.ts): no executable, no target.
 * - `--outfile` writes a single target's executable to PATH instead (tests use it).
 *
 * Exit status: 0 built, 1 a build step failed, 2 bad usage.
 */

import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { BuildError } from "./build/build_error.ts";
import { buildStamp, writeStampedEntry } from "./build/build_stamp.ts";
import { compileWithBun } from "./build/bun_compile.ts";
import { CHECKSUMS_FILE, writeChecksums } from "./build/checksums.ts";
import { compileWithDeno } from "./build/deno_compile.ts";
import { executableName, findTarget, hostTarget, TARGETS } from "./build/targets.ts";
import type { Target } from "./build/targets.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

type RuntimeName = "bun" | "deno" | "node";

interface BuildOptions {
  readonly runtime: RuntimeName;
  /** "all", "host" or a target name. */
  readonly target: string;
  readonly outdir: string;
  readonly outfile: string | undefined;
  /** Node only: the JavaScript bundle instead of an executable. */
  readonly bundle: boolean;
}

const COMPILERS: Record<RuntimeName, string> = {
  bun: "bun build --compile",
  deno: "deno compile",
  node: "node --experimental-sea-config",
};

function parseOptions(args: readonly string[]): BuildOptions {
  const values = new Map<string, string>();
  let bundle = false;
  for (let index = 0; index < args.length; index++) {
    const flag = args[index]!;
    if (flag === "--bundle") {
      bundle = true;
      continue;
    }
    if (!["--target", "--runtime", "--outdir", "--outfile"].includes(flag)) {
      throw new BuildError("USAGE", `Unknown option "${flag}": expected --target, --runtime, --outdir, --outfile or --bundle`);
    }
    const value = args[++index];
    if (value === undefined || value.startsWith("--")) throw new BuildError("USAGE", `Option "${flag}" needs a value`);
    values.set(flag, value);
  }
  const runtime = values.get("--runtime") ?? "bun";
  if (runtime !== "bun" && runtime !== "deno" && runtime !== "node") {
    throw new BuildError("USAGE", `Unknown runtime "${runtime}": expected bun, deno or node`);
  }
  const target = values.get("--target") ?? (runtime === "node" ? "host" : "all");
  if (runtime === "node" && target !== "host" && target !== hostTarget().name) {
    throw new BuildError("USAGE", `Cannot build "${target}" with node: a Node single executable is built for this machine only`);
  }
  if (bundle && runtime !== "node") {
    throw new BuildError("USAGE", `Option "--bundle" is for --runtime node: Bun and Deno run the TypeScript sources or their own executables`);
  }
  const outfile = values.get("--outfile");
  if (outfile !== undefined && target === "all") {
    throw new BuildError("USAGE", 'Option "--outfile" needs one target: add --target host or --target NAME');
  }
  const defaultOutdir = runtime === "bun" ? join(ROOT, "dist") : join(ROOT, "dist", runtime);
  return { runtime, target, outdir: values.get("--outdir") ?? defaultOutdir, outfile, bundle };
}

/** The targets asked for, each with the file it goes to. */
function plan(options: BuildOptions): Array<{ target: Target; outfile: string }> {
  const host = hostTarget();
  if (options.target === "host") {
    return [{ target: host, outfile: options.outfile ?? join(options.outdir, "proxy") }];
  }
  const targets = options.target === "all"
    ? TARGETS.filter((target) => options.runtime !== "deno" || target.deno !== undefined)
    : [findTarget(options.target)];
  return targets.map((target) => ({ target, outfile: options.outfile ?? join(options.outdir, executableName(target)) }));
}

async function compile(options: BuildOptions, target: Target, outfile: string): Promise<void> {
  const stamp = buildStamp(ROOT, target.name, COMPILERS[options.runtime]);
  const entry = writeStampedEntry(ROOT, join(ROOT, "dist", ".build", `${options.runtime}-${target.name}`), stamp);
  if (options.runtime === "bun") compileWithBun(ROOT, entry, target, outfile);
  else if (options.runtime === "deno") compileWithDeno(ROOT, entry, target, outfile);
  else {
    const { buildNodeSea } = await import("./build/node_sea.ts");
    buildNodeSea({ root: ROOT, entry, outfile, workDir: dirname(entry) });
  }
}

/** Runs a host executable once: a build that does not start is not a build. */
function checkRuns(outfile: string): string {
  const result = spawnSync(outfile, ["version", "-vv"], { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) {
    throw new BuildError(
      "BINARY_DOES_NOT_RUN",
      `The built "${outfile}" does not run: ${result.error?.message ?? (result.stderr.trim() || `exit ${result.status ?? result.signal}`)}`,
    );
  }
  return result.stdout;
}

/** A path to show: relative to where the build was started from when it is below it. */
function shown(path: string): string {
  const below = relative(process.cwd(), path);
  return below.startsWith("..") ? path : below;
}

function megabytes(path: string): string {
  return `${(statSync(path).size / 1024 / 1024).toFixed(1)} MiB`;
}

/** `--runtime node --bundle`: the stamped bundle, checked by running it once. */
async function buildNodeBundle(options: BuildOptions): Promise<void> {
  const outfile = options.outfile ?? join(options.outdir, "proxy.cjs");
  const stamp = buildStamp(ROOT, "node-bundle", "bun build --format=cjs");
  const entry = writeStampedEntry(ROOT, join(ROOT, "dist", ".build", "node-bundle"), stamp);
  mkdirSync(dirname(outfile), { recursive: true });
  const started = performance.now();
  const { bundleForNode } = await import("./build/node_bundle.ts");
  bundleForNode({ root: ROOT, entry, outfile, bun: join(ROOT, "node_modules", ".bin", "bun"), node: process.execPath });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`Built ${shown(outfile)} (${megabytes(outfile)}) in ${seconds} s\n`);
  const result = spawnSync(process.execPath, [outfile, "version", "-vv"], { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) {
    throw new BuildError("BINARY_DOES_NOT_RUN", `The built "${outfile}" does not run: ${result.stderr.trim() || `exit ${result.status ?? result.signal}`}`);
  }
  process.stdout.write(`${result.stdout.trimEnd().replace(/^/gm, "  ")}\n`);
}

async function build(options: BuildOptions): Promise<void> {
  if (options.bundle) return await buildNodeBundle(options);
  const host = hostTarget();
  const jobs = plan(options);
  for (const { target, outfile } of jobs) {
    mkdirSync(dirname(outfile), { recursive: true });
    rmSync(outfile, { force: true });
    const started = performance.now();
    await compile(options, target, outfile);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`Built ${shown(outfile)} (${megabytes(outfile)}) in ${seconds} s\n`);
    if (target === host) process.stdout.write(`${checkRuns(outfile).trimEnd().replace(/^/gm, "  ")}\n`);
  }
  if (options.outfile !== undefined || options.target === "host") return;
  const hostJob = jobs.find((job) => job.target === host);
  if (hostJob !== undefined) copyFileSync(hostJob.outfile, join(options.outdir, "proxy"));
  const lines = await writeChecksums(options.outdir);
  process.stdout.write(`Wrote ${shown(join(options.outdir, CHECKSUMS_FILE))} (${lines.length} files)\n`);
}

async function main(): Promise<number> {
  try {
    await build(parseOptions(process.argv.slice(2)));
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    process.stderr.write(`Build failed: ${error.message}\n`);
    return error.code === "USAGE" || error.code === "UNKNOWN_TARGET" ? 2 : 1;
  }
}

process.exitCode = await main();
