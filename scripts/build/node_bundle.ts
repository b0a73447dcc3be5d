/**
 * The proxy for Node as one JavaScript file: what Node runs in production (`npm run build --
 * --runtime node --bundle`, then `node dist/node/proxy.cjs`), what the benchmark runs as
 * `ours/node`, and the main script of the Node single executable (node_sea.ts). Type stripping
 * stays for development: loading Node's TypeScript stripper (amaro, a WebAssembly module and 3.8 MB
 * of JavaScript source kept in the heap) and compiling 190 modules one by one took a Node proxy to
 * 108 MB of RSS at start, against 59 MB from this bundle (issue 21: under 60 MB).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { BuildError } from "./build_error.ts";

/**
 * The bundler's flags. CommonJS, not ESM: Node loads it without the ESM loader, a SEA's main script
 * must be CommonJS, and the modules reached only by `import()` (the CLI's commands, node:tls in
 * src/runtime/_node_tls.ts through process.getBuiltinModule) stay unevaluated until used, where an
 * ESM bundle would hoist every built-in import to its top. CommonJS cannot hold `import.meta`, which
 * Bun leaves in the output where it cannot resolve it: `import.meta.env` (std-env, under consola,
 * reads it after `process.env`, so it is never reached on Node) and `import.meta.require`
 * (src/runtime/bun.ts, run on Bun only) are replaced. Whitespace and syntax are minified, names are
 * not: stack traces in bug reports keep them (measured: renaming saved 0.5 MB more). No source map:
 * nothing reads it.
 */
export const NODE_BUNDLE_FLAGS: readonly string[] = [
  "--target=node",
  "--format=cjs",
  "--sourcemap=none",
  "--minify-whitespace",
  "--minify-syntax",
  "--define",
  "import.meta.env=undefined",
  "--define",
  "import.meta.require=require",
];

/** Where the bundle is made from and goes to, and with which tools. */
export interface NodeBundleOptions {
  /** The project's root (holding node_modules), where the bundler runs. */
  readonly root: string;
  /** The TypeScript entry module (src/main.ts, or a generated entry that imports it). */
  readonly entry: string;
  readonly outfile: string;
  /** node_modules/.bin/bun. */
  readonly bun: string;
  /** A Node binary to check the bundle with. */
  readonly node: string;
}

/** Bundles `options.entry` into `options.outfile`, ASCII only, checked; throws BuildError naming the failed step. */
export function bundleForNode(options: NodeBundleOptions): void {
  run("bundle the proxy for Node", options.bun, ["build", ...NODE_BUNDLE_FLAGS, options.entry, "--outfile", options.outfile], options.root);
  writeFileSync(options.outfile, asciiOnly(readFileSync(options.outfile, "utf8")));
  checkBundle(options.node, options.outfile);
}

/**
 * The bundle with every character past ASCII written as a `\u` escape. V8 keeps a script's source
 * for lazy compilation, one byte per character when all are Latin-1 and two otherwise: the few
 * box-drawing and symbol characters of consola's messages doubled 0.6 MB. They only occur in string,
 * template and regular-expression literals, where the escape means the same character.
 */
export function asciiOnly(source: string): string {
  return source.replace(/[^\x00-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The bundle must parse as CommonJS (`node --check`: `import.meta` that Bun left in would not) and
 * must not load modules at run time: a SEA's `import()` and `require` reach built-in modules only,
 * and a bundle that needs a file beside it is not one file.
 */
function checkBundle(node: string, bundle: string): void {
  run("parse the bundle as CommonJS", node, ["--check", bundle], dirname(bundle));
  const lines = readFileSync(bundle, "utf8").split("\n");
  const index = lines.findIndex((line) => /(^|[^\w$.])import\s*\(/.test(line));
  if (index !== -1) {
    throw new BuildError(
      "COMPILER_FAILED",
      `Cannot use "${bundle}" as one file: line ${index + 1} loads a module at run time (${
        lines[index]!.trim().slice(0, 120)
      })`,
    );
  }
}

/** Runs one step; throws BuildError with what it was doing, the command and its own words when it fails. */
export function run(doing: string, command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status === 0) return;
  const output = `${result.stderr ?? ""}\n${result.stdout ?? ""}`.trim().split("\n").slice(-8).join("; ");
  const cause = result.error?.message ?? (output || `exit ${result.status ?? result.signal}`);
  throw new BuildError("COMPILER_FAILED", `Cannot ${doing} ("${command} ${args.join(" ")}"): ${cause}`);
}
