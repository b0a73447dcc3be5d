/**
 * How a target's executable can run on this machine: natively, a musl build under the musl loader
 * (on a glibc Linux, with the libstdc++ shim), a Linux glibc build of the other architecture under
 * qemu-user; or not at all (macOS, Windows, FreeBSD builds on Linux), when only its headers are
 * checked.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { basename } from "node:path";
import type { Target } from "../build/targets.ts";
import { findCommand } from "./commands.ts";
import { buildShim, findShimInputs } from "./musl_shim.ts";

/** A way to run an executable here. */
export interface Launcher {
  /** For the output: `native`, `musl loader + libstdc++ shim`, `qemu-aarch64`. */
  readonly how: string;
  /** The program to spawn and its arguments, for `binary args`. */
  command(binary: string, args: readonly string[]): [string, string[]];
  readonly env: Readonly<Record<string, string>>;
  /** Multiplies every timeout: under emulation everything is about ten times slower. */
  readonly slowdown: number;
}

/** Runs it, cannot here for a reason worth a `skip` line, or cannot here at all (headers only). */
export type LaunchPlan =
  | { readonly kind: "run"; readonly launcher: Launcher }
  | { readonly kind: "skip"; readonly reason: string }
  | { readonly kind: "headers-only" };

/** The names GNU (and so Debian's directories, qemu and the loaders) give the architectures. */
const GNU_ARCH: Readonly<Record<Target["arch"], string>> = { x64: "x86_64", arm64: "aarch64" };
/** Debian's names, for the cross packages. */
const DEBIAN_ARCH: Readonly<Record<Target["arch"], string>> = { x64: "amd64", arm64: "arm64" };
/** Where each glibc loader lives inside a Debian cross sysroot. */
const GLIBC_LOADER: Readonly<Record<Target["arch"], string>> = {
  x64: "lib/ld-linux-x86-64.so.2",
  arm64: "lib/ld-linux-aarch64.so.1",
};

/** How long qemu-user takes over what runs natively in 1 (measured: `version` 1.3 s against 0.05 s). */
const QEMU_SLOWDOWN = 10;

export const NATIVE: Launcher = {
  how: "native",
  command: (binary, args) => [binary, [...args]],
  env: {},
  slowdown: 1,
};

/**
 * How `target` runs on `host` (undefined: a host the targets do not list). `workDirectory` is a
 * fresh directory the musl shim may be built in. Throws when a tool is there but fails.
 */
export function planLaunch(target: Target, host: Target | undefined, workDirectory: string): LaunchPlan {
  if (host !== undefined && target.name === host.name) return { kind: "run", launcher: NATIVE };
  if (host === undefined || target.os !== "linux" || host.os !== "linux") return { kind: "headers-only" };
  if (target.arch === host.arch && target.libc === "musl" && host.libc === "glibc") {
    return muslOnGlibc(target, workDirectory);
  }
  if (target.arch !== host.arch && target.libc === "glibc") return underQemu(target);
  return { kind: "headers-only" };
}

function muslOnGlibc(target: Target, workDirectory: string): LaunchPlan {
  const gnuArch = GNU_ARCH[target.arch];
  const loader = `/lib/ld-musl-${gnuArch}.so.1`;
  if (!existsSync(loader)) {
    return { kind: "skip", reason: `the musl loader ${loader} is missing (apt-get install -y musl)` };
  }
  const inputs = findShimInputs(gnuArch);
  if (typeof inputs === "string") return { kind: "skip", reason: inputs };
  const libraryPath = buildShim(inputs, workDirectory);
  // The executable's own PT_INTERP is the musl loader: it runs directly, as on Alpine.
  return {
    kind: "run",
    launcher: {
      how: `musl loader, glibc libstdc++ + shim by ${basename(inputs.compiler.path)}`,
      command: (binary, args) => [binary, [...args]],
      env: { LD_LIBRARY_PATH: libraryPath },
      slowdown: 1,
    },
  };
}

function underQemu(target: Target): LaunchPlan {
  const gnuArch = GNU_ARCH[target.arch];
  const qemu = findCommand(`qemu-${gnuArch}`);
  if (qemu === undefined) {
    return { kind: "skip", reason: `qemu-${gnuArch} is missing (apt-get install -y qemu-user)` };
  }
  const sysroot = `/usr/${gnuArch}-linux-gnu`;
  const loader = `${sysroot}/${GLIBC_LOADER[target.arch]}`;
  if (!existsSync(loader)) {
    const crossPackage = `libc6-${DEBIAN_ARCH[target.arch]}-cross`;
    return {
      kind: "skip",
      reason: `the ${target.arch} glibc loader ${loader} is missing (apt-get install -y ${crossPackage})`,
    };
  }
  return {
    kind: "run",
    launcher: {
      how: `qemu-${gnuArch} -L ${sysroot}`,
      command: (binary, args) => [qemu, ["-L", sysroot, binary, ...args]],
      env: {},
      slowdown: QEMU_SLOWDOWN,
    },
  };
}
