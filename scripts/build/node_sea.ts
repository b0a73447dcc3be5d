/**
 * `--runtime node`: a Node single executable application (SEA) for this machine, the pinned Node 24
 * binary with the proxy injected into it. The steps are Node's own (nodejs.org/api/single-executable-applications):
 * 1. bundle the entry into one CommonJS script (node_bundle.ts, the bundle Node runs in production):
 *    a SEA's main script can `require` built-in modules only, and Node 24 runs it as CommonJS. The
 *    dynamic imports of src/main.ts have literal paths, so Bun inlines them; nothing is read from
 *    disk at run time (a dynamic `import()` left in the bundle fails the build);
 * 2. write the SEA configuration and have Node turn the script into a preparation blob;
 * 3. copy the Node binary behind node_modules/.bin/node and inject the blob with postject.
 *
 * @module
 */

import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Buffer } from "node:buffer";
import { dirname, join } from "node:path";
import { BuildError } from "./build_error.ts";
import { bundleForNode, run } from "./node_bundle.ts";

/** Where the build reads its inputs and writes its outputs. */
export interface NodeSeaOptions {
  /** The project's root (holding node_modules). */
  readonly root: string;
  /** The TypeScript entry module to bundle (src/main.ts, or a generated entry that imports it). */
  readonly entry: string;
  /** The executable to write. */
  readonly outfile: string;
  /** A directory for the bundle, the SEA configuration and the blob (created when missing). */
  readonly workDir: string;
}

/**
 * The SEA configuration besides its paths. Measured from exec to listening (quick start, tcp, this
 * 2-core machine under load, medians of 5 to 15, interleaved):
 * - `useCodeCache`: V8's code cache of the script, made at build time: 63-76 ms against 75-104 ms
 *   without. It forbids `import()`, which the bundle no longer has.
 * - `useSnapshot` is off: the whole script run from the deserialized main function started at
 *   80-105 ms; a snapshot taken after the modules were evaluated (which would also freeze what they
 *   read from the environment at build time) at 67-73 ms, no faster than the code cache.
 * - `execArgvExtension: "cli"`: the SEA ignores NODE_OPTIONS, which is meant for the other Node
 *   programs of a machine and could preload code into the proxy; Node flags go in a
 *   `--node-options="..."` argument instead, which is how a -W master starts its workers in the
 *   permission model (src/runtime/node.ts).
 */
export const SEA_CONFIG = {
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  useSnapshot: false,
  execArgvExtension: "cli",
} as const;

/** The fuse postject flips so that Node looks for the blob (Node's documented sentinel). */
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Builds the SEA of `options.entry` into `options.outfile`; throws BuildError naming the failed step. */
export function buildNodeSea(options: NodeSeaOptions): void {
  if (process.platform !== "linux") {
    // macOS and Windows need the injected binary signed again (codesign, signtool): not done here.
    throw new BuildError(
      "USAGE",
      `Cannot build a Node single executable on "${process.platform}": this build injects Linux binaries only`,
    );
  }
  const tools = findTools(options.root);
  mkdirSync(options.workDir, { recursive: true });
  const bundle = join(options.workDir, "sea-main.cjs");
  const config = join(options.workDir, "sea-config.json");
  const blob = join(options.workDir, "sea-prep.blob");

  bundleForNode({ root: options.root, entry: options.entry, outfile: bundle, bun: tools.bun, node: tools.node });
  writeFileSync(config, `${JSON.stringify({ main: bundle, output: blob, ...SEA_CONFIG }, null, 2)}\n`);
  rmSync(blob, { force: true });
  run("make the SEA blob", tools.node, ["--experimental-sea-config", config], options.workDir);
  if (!existsSync(blob)) {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot make the SEA blob: "${tools.node} --experimental-sea-config" wrote no "${blob}"`,
    );
  }

  // Injected beside the target and renamed over it: a running old binary is never written to.
  mkdirSync(dirname(options.outfile), { recursive: true });
  const partial = `${options.outfile}.sea-${process.pid}.tmp`;
  try {
    copyFileSync(tools.node, partial);
    chmodSync(partial, 0o755);
    run("inject the SEA blob into the Node binary", tools.node, [
      tools.postject,
      partial,
      "NODE_SEA_BLOB",
      blob,
      "--sentinel-fuse",
      SEA_FUSE,
    ], options.workDir);
    renameSync(partial, options.outfile);
  } finally {
    rmSync(partial, { force: true });
  }
  chmodSync(options.outfile, 0o755);
}

interface Tools {
  readonly bun: string;
  /** The real Node binary: node_modules/.bin/node is a symbolic link to it. */
  readonly node: string;
  /** postject's command-line script, run with `node` (its `#!/usr/bin/env node` may find another). */
  readonly postject: string;
}

function findTools(root: string): Tools {
  const bin = join(root, "node_modules", ".bin");
  const bun = join(bin, "bun");
  if (!existsSync(bun)) {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot bundle for the SEA: "${bun}" is missing (run npm install)`,
    );
  }
  const node = realPath(join(bin, "node"), "the Node binary");
  if (!isNativeExecutable(node)) {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot build the SEA from "${node}": it is not an ELF executable (a wrapper script cannot carry the blob)`,
    );
  }
  if (!readFileSync(node).includes(SEA_FUSE)) {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot build the SEA from "${node}": this Node binary has no "${SEA_FUSE}" fuse`,
    );
  }
  const postject = realPath(join(bin, "postject"), "postject");
  return { bun, node, postject };
}

function realPath(path: string, what: string): string {
  try {
    return realpathSync(path);
  } catch {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot build the SEA: ${what} "${path}" is missing (run npm install)`,
    );
  }
}

/** True when `path` starts with the ELF magic number. */
function isNativeExecutable(path: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}
