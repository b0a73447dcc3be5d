/**
 * The operating systems and architectures the proxy ships for, and how each compiler names them.
 *
 * A target's name is what users download: `proxy-<os>-<arch>[-musl][.exe]`.
 *
 * @module
 */

import { BuildError } from "./build_error.ts";

/** One platform a standalone executable is built for. */
export interface Target {
  /** `linux-x64`, `linux-arm64-musl`, `darwin-arm64`, `windows-x64`... */
  readonly name: string;
  readonly os: "linux" | "darwin" | "freebsd" | "windows";
  readonly arch: "x64" | "arm64";
  /** The C library a Linux build links against. */
  readonly libc: "glibc" | "musl" | undefined;
  /** `bun build --compile --target` value. */
  readonly bun: string;
  /** `deno compile --target` value; undefined where Deno has no build. */
  readonly deno: string | undefined;
}

function target(
  os: Target["os"],
  arch: Target["arch"],
  libc: Target["libc"],
  deno: string | undefined,
): Target {
  const name = `${os}-${arch}${libc === "musl" ? "-musl" : ""}`;
  return { name, os, arch, libc, bun: `bun-${name}`, deno };
}

/**
 * Every target `npm run build` produces. Bun 1.4 cross-compiles to all of them, FreeBSD included
 * (its target runtimes come from the npm registry). Deno has no musl or FreeBSD build.
 */
export const TARGETS: readonly Target[] = [
  target("linux", "x64", "glibc", "x86_64-unknown-linux-gnu"),
  target("linux", "arm64", "glibc", "aarch64-unknown-linux-gnu"),
  target("linux", "x64", "musl", undefined),
  target("linux", "arm64", "musl", undefined),
  target("darwin", "x64", undefined, "x86_64-apple-darwin"),
  target("darwin", "arm64", undefined, "aarch64-apple-darwin"),
  target("freebsd", "x64", undefined, undefined),
  target("windows", "x64", undefined, "x86_64-pc-windows-msvc"),
];

/** The file name of a target's executable. */
export function executableName(target: Target): string {
  return `proxy-${target.name}${target.os === "windows" ? ".exe" : ""}`;
}

/** The target by name, or an error naming the ones there are. */
export function findTarget(name: string): Target {
  const found = TARGETS.find((candidate) => candidate.name === name);
  if (found === undefined) {
    throw new BuildError("UNKNOWN_TARGET", `Unknown target "${name}": expected host or one of ${TARGETS.map((t) => t.name).join(", ")}`);
  }
  return found;
}

/**
 * The target of the machine the build runs on. `process.report` tells glibc from musl: glibc's
 * version is in the report's header only where Node links against glibc.
 */
export function hostTarget(): Target {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch;
  let libc: Target["libc"] = undefined;
  if (os === "linux") {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libc = header?.glibcVersionRuntime === undefined ? "musl" : "glibc";
  }
  const name = `${os}-${arch}${libc === "musl" ? "-musl" : ""}`;
  return findTarget(name);
}
