/**
 * The runtime contract on Node.js (>= 22.18, 24 recommended).
 *
 * Socket API: node:net (libuv, epoll/kqueue/IOCP). It is Node's only TCP API; nothing to choose.
 * Quirks:
 * - `process.on("SIGUSR1")` disables Node's built-in inspector activation on that signal, as we want.
 * - Writing to a piped stdout is asynchronous on POSIX; a line written just before exit can be lost,
 *   so exit paths flush through the write callback where it matters.
 * - `spawnSelf` runs `process.execPath` with the entry script (`process.argv[1]`) and only the
 *   `execArgv` flags that shape how the code runs (heap size, conditions, warnings, type
 *   stripping): a test runner's child has dozens of others (`--test-*`, `--inspect-port`...).
 *   Preloads (`--import`, `--require`) are kept for an unjailed child only: the jail does not grant
 *   reading them.
 * - The jail is the permission model (`--permission`, `_node_jail.ts`): reads of the program's own
 *   code only, no writes, subprocesses, worker threads or addons. Node 24's model does not cover
 *   the network, the environment or `process.setuid`, so a jailed worker still serves and drops its
 *   privileges; a refused read fails with ERR_ACCESS_DENIED, which `fileAccess` reports as "denied".
 * - No FFI: `setAffinity` cannot pin cores (`info.affinity` false) and says so; `taskset` or Bun and
 *   Deno can. `process.hrtime` is CLOCK_MONOTONIC on Linux (libuv's uv_hrtime), as systemd wants.
 *   `chroot` cannot be called either (`info.chroot` false, ChrootError ENOSYS): the jail of a Node
 *   process is the permission model of its -W workers (`src/lifecycle/chroot.ts` decides).
 * - No public call binds a socket without listening, and a listening `net.Server` accepts whatever
 *   comes: `bindInheritable` (a -W master's sockets) uses `net._createServerHandle`, the function
 *   Node's cluster module binds its shared handles with (bound libuv TCP handle, not listening), on
 *   any POSIX system; `info.inheritableSockets` is false where it is missing.
 * - A Node single executable application (SEA, `scripts/build/node_sea.ts`) is told apart by
 *   `node:sea`'s `isSea()`: `compiled` is true. Its `process.argv` is [binary, argv[0] as typed,
 *   ...arguments], so `args()` still starts at index 2, but `argv[1]` is no script: `spawnSelf` runs
 *   `process.execPath` with the arguments alone. The SEA is built with `execArgvExtension: "cli"`
 *   (NODE_OPTIONS is ignored: an environment meant for other Node programs cannot preload code into
 *   the proxy), so a child's Node flags go in a first `--node-options="..."` argument, which Node
 *   takes out of `process.argv`. The jail is the same permission model: `--permission` with no
 *   grant at all, since the code is in the binary and nothing is read from disk to load it.
 *
 * @module
 */

import * as net from "node:net";
import type { ChildProcess, Runtime, SpawnSelfOptions } from "./types.ts";
import { startChild } from "./_spawn.ts";
import { nodeJailFlags } from "./_node_jail.ts";
import { createNodeProcessRuntime, identitySupportedNode } from "./_node_process.ts";
import { chrootUnsupported } from "./chroot_error.ts";
import { NODE_TLS_SUPPORT } from "./_node_tls.ts";
import { bindWithNodeHandle, descriptorsOf, nodeServerHandleFactory } from "./_inheritable_socket.ts";

/** Builds the Node runtime. */
export function createNodeRuntime(): Runtime {
  const sea = isSingleExecutable();
  const createServerHandle = nodeServerHandleFactory(net);
  // Windows cannot pass a socket to a child as a descriptor.
  const inheritableSockets = process.platform !== "win32" && createServerHandle !== undefined;
  return createNodeProcessRuntime({
    name: "node",
    version: process.versions.node,
    os: process.platform,
    arch: process.arch,
    socketApi: "node:net",
    compiled: sea,
    jail: "node-permission-model",
    // Node's documented list for `reusePort` (net.Server#listen); it is ignored elsewhere.
    reusePort: ["linux", "freebsd"].includes(process.platform),
    affinity: false,
    identity: identitySupportedNode(),
    chroot: false,
    inheritableSockets,
    tls: NODE_TLS_SUPPORT,
    byteSlabs: true,
  }, {
    bindInheritable(options) {
      if (!inheritableSockets) {
        return Promise.reject(new Error(`Cannot bind a socket for a child process on ${process.platform}`));
      }
      return bindWithNodeHandle(options, createServerHandle!);
    },
    spawnSelf: sea ? spawnSelfSea : spawnSelfNode,
    setAffinity(pid: number, cores: readonly number[]): void {
      throw new Error(
        `Cannot pin process ${pid} to cores ${cores.join(",")}: Node has no FFI to call sched_setaffinity; ` +
          "run the proxy on Bun or Deno, or start it under taskset",
      );
    },
    monotonicMicros: () => process.hrtime.bigint() / 1000n,
    chroot(dir: string): void {
      throw chrootUnsupported(dir, "Node has no FFI to call chroot(2)");
    },
  });
}

/** execArgv flags passed on to a child: they change how our code runs, not how Node is debugged or tested. */
const KEPT_FLAGS = new Set([
  "--max-old-space-size",
  "--max-semi-space-size",
  "--stack-size",
  "--conditions",
  "-C",
  "--disable-warning",
  "--no-warnings",
  "--no-deprecation",
  "--enable-source-maps",
  "--unhandled-rejections",
  "--dns-result-order",
  "--experimental-strip-types",
  "--no-experimental-strip-types",
  "--experimental-transform-types",
  "--disable-proto",
  "--frozen-intrinsics",
  "--expose-gc",
]);

/** Preloads: kept for an unjailed child only. */
const PRELOAD_FLAGS = new Set(["--import", "--require", "-r"]);

/** Flags of KEPT_FLAGS and PRELOAD_FLAGS that may take their value as the next argument. */
const VALUE_FLAGS = new Set([
  "--max-old-space-size",
  "--max-semi-space-size",
  "--stack-size",
  "--conditions",
  "-C",
  "--disable-warning",
  "--unhandled-rejections",
  "--dns-result-order",
  "--disable-proto",
  "--import",
  "--require",
  "-r",
]);

/** The execArgv flags a child gets; see KEPT_FLAGS. */
export function keptExecArgv(execArgv: readonly string[], jailed: boolean): string[] {
  const kept: string[] = [];
  for (let index = 0; index < execArgv.length; index++) {
    const argument = execArgv[index]!;
    const equals = argument.indexOf("=");
    const name = equals === -1 ? argument : argument.slice(0, equals);
    const takesNext = equals === -1 && VALUE_FLAGS.has(name) && index + 1 < execArgv.length;
    const keep = KEPT_FLAGS.has(name) || (!jailed && PRELOAD_FLAGS.has(name));
    if (keep) kept.push(argument);
    if (takesNext) {
      index++;
      if (keep) kept.push(execArgv[index]!);
    }
  }
  return kept;
}

function spawnSelfNode(args: readonly string[], options: SpawnSelfOptions): ChildProcess {
  const entry = process.argv[1];
  if (entry === undefined || entry === "") {
    throw new Error(`Cannot start "${process.execPath}" again: this process has no entry script`);
  }
  const flags = keptExecArgv(process.execArgv, options.jailed);
  if (options.jailed) flags.push(...nodeJailFlags(entry));
  return startChild(process.execPath, [...flags, entry, ...args], {
    env: options.env,
    descriptors: descriptorsOf(options.sockets),
  });
}

/**
 * True in a single executable application. `node:sea` is loaded through `getBuiltinModule`, not
 * imported: this module is loaded on Bun and Deno too, and the import would fail there.
 */
function isSingleExecutable(): boolean {
  const sea = process.getBuiltinModule?.("node:sea");
  return sea?.isSea() === true;
}

function spawnSelfSea(args: readonly string[], options: SpawnSelfOptions): ChildProcess {
  return startChild(process.execPath, seaChildArgs(process.execArgv, args, options.jailed), {
    env: options.env,
    descriptors: descriptorsOf(options.sockets),
  });
}

/**
 * The command line (after the binary) of a SEA's child: the kept Node flags and, jailed, the
 * permission model with no grant, in one `--node-options` argument; then `args`.
 */
export function seaChildArgs(
  execArgv: readonly string[],
  args: readonly string[],
  jailed: boolean,
): string[] {
  const flags = keptExecArgv(execArgv, jailed);
  if (jailed) flags.push("--permission");
  if (flags.length === 0) return [...args];
  return [`--node-options=${flags.map(quoteNodeOption).join(" ")}`, ...args];
}

/** Quotes one flag the way Node splits NODE_OPTIONS (and `--node-options`): spaces separate, `"` groups, `\` escapes. */
function quoteNodeOption(flag: string): string {
  return /[\s"\\]/.test(flag) ? `"${flag.replace(/["\\]/g, "\\$&")}"` : flag;
}
