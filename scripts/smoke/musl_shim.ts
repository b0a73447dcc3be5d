/**
 * Builds the library directory that lets a musl executable run on a glibc Debian: the shim of
 * musl_shim.c (named after glibc's loader, see there why) next to links to Debian's own
 * libstdc++.so.6 and libgcc_s.so.1. The directory goes on LD_LIBRARY_PATH.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findCommand, firstExisting } from "./commands.ts";

const SOURCE = fileURLToPath(new URL("./musl_shim.c", import.meta.url));

/** What the shim needs on this machine for one architecture (GNU names: x86_64, aarch64). */
export interface ShimInputs {
  readonly compiler: { readonly path: string; readonly args: readonly string[] };
  readonly libstdcxx: string;
  readonly libgcc: string;
  /** The soname of glibc's loader, which Debian's libstdc++ lists as NEEDED. */
  readonly glibcLoader: string;
}

const GLIBC_LOADERS: Readonly<Record<string, string>> = {
  x86_64: "ld-linux-x86-64.so.2",
  aarch64: "ld-linux-aarch64.so.1",
};

/**
 * Finds the compiler and libraries, or says in one line what is missing and how to install it.
 * musl-gcc builds against musl's headers; without it the system compiler with -nostdlib makes a
 * library with no NEEDED entries whose few libc calls musl resolves at load time.
 */
export function findShimInputs(gnuArch: string): ShimInputs | string {
  const libraries = [`/usr/lib/${gnuArch}-linux-gnu`, `/lib/${gnuArch}-linux-gnu`];
  const libstdcxx = firstExisting(libraries.map((directory) => join(directory, "libstdc++.so.6")));
  const libgcc = firstExisting(libraries.map((directory) => join(directory, "libgcc_s.so.1")));
  if (libstdcxx === undefined || libgcc === undefined) {
    return `glibc's libstdc++.so.6 or libgcc_s.so.1 is missing in ${
      libraries.join(" or ")
    } (apt-get install -y libstdc++6 libgcc-s1)`;
  }
  const musl = findCommand("musl-gcc");
  const fallback = ["cc", "gcc", "clang"].map(findCommand).find((path) => path !== undefined);
  const compiler = musl !== undefined
    ? { path: musl, args: [] }
    : fallback !== undefined
    ? { path: fallback, args: ["-nostdlib"] }
    : undefined;
  if (compiler === undefined) {
    return "no C compiler to build scripts/smoke/musl_shim.c: neither musl-gcc nor cc (apt-get install -y musl-tools)";
  }
  const glibcLoader = GLIBC_LOADERS[gnuArch];
  if (glibcLoader === undefined) return `no glibc loader name known for "${gnuArch}"`;
  return { compiler, libstdcxx, libgcc, glibcLoader };
}

/** Compiles the shim into `directory`/lib and links the libraries beside it; returns that directory. */
export function buildShim(inputs: ShimInputs, directory: string): string {
  const lib = join(directory, "lib");
  mkdirSync(lib, { recursive: true });
  const output = join(lib, inputs.glibcLoader);
  const compile = spawnSync(
    inputs.compiler.path,
    [...inputs.compiler.args, "-shared", "-fPIC", "-O2", "-o", output, SOURCE],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (compile.status !== 0) {
    const why = compile.error?.message ?? compile.stderr.trim();
    throw new Error(`Cannot compile "${SOURCE}" with "${inputs.compiler.path}": ${why}`);
  }
  symlinkSync(inputs.libstdcxx, join(lib, "libstdc++.so.6"));
  symlinkSync(inputs.libgcc, join(lib, "libgcc_s.so.1"));
  return lib;
}
