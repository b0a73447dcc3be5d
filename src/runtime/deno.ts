/**
 * The runtime contract on Deno.
 *
 * Socket API: node:net from Deno's Node compatibility layer. Native `Deno.listen`/`Deno.connect`
 * are pull-based (one promise per read and per accept), which the contract avoids on the hot path;
 * they must beat node:net in `npm run bench` to replace it (see docs/performance.md).
 * Quirks:
 * - Signals, exit, files and arguments use the native `Deno` namespace: they need no permission
 *   beyond what the jail grants and work the same in `deno compile` binaries.
 * - `setTimeout` returns a number; unref goes through `Deno.unrefTimer`.
 * - Like Node, Deno opens the inspector on 127.0.0.1:9229 when SIGUSR1 arrives with no listener, and
 *   also when a SIGUSR1 listener is removed while that signal is being dispatched. The proxy keeps
 *   its SIGUSR1 listener for its whole life.
 * - Uncaught errors arrive as `error`/`unhandledrejection` events on globalThis; preventDefault()
 *   keeps the process alive.
 * - The `Deno` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type { Runtime, SignalName, SocketApi, TimerHandle } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";

interface DenoGlobal {
  readonly version: { readonly deno: string };
  readonly build: { readonly os: string; readonly arch: string; readonly standalone?: boolean };
  readonly pid: number;
  readonly args: string[];
  readonly mainModule: string;
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
  kill(pid: number, signal: string): void;
  readTextFile(path: string): Promise<string>;
  unrefTimer(id: number): void;
  exit(code: number): never;
  readonly env: { get(name: string): string | undefined };
  readonly stdout: { writeSync(data: Uint8Array): number };
  readonly stderr: { writeSync(data: Uint8Array): number };
}

function denoGlobal(): DenoGlobal {
  return (globalThis as unknown as { Deno: DenoGlobal }).Deno;
}

const ARCH_NAMES: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };
const OS_NAMES: Record<string, string> = { windows: "win32" };

function writeAll(sink: { writeSync(data: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
}

/** Socket APIs this module implements, the default first. */
export const DENO_SOCKET_APIS: readonly SocketApi[] = ["node:net"];

/** Builds the Deno runtime with the given socket API. */
export function createDenoRuntime(socketApi: SocketApi): Runtime {
  if (socketApi !== "node:net") throw new Error(`Socket API "${socketApi}" is not implemented on deno yet`);
  const deno = denoGlobal();
  return {
    info: {
      name: "deno",
      version: deno.version.deno,
      os: OS_NAMES[deno.build.os] ?? deno.build.os,
      arch: ARCH_NAMES[deno.build.arch] ?? deno.build.arch,
      socketApi: "node:net",
      compiled: deno.build.standalone ?? false,
    },
    listen: listenNodeNet,
    connect: connectNodeNet,
    lookup: lookupNodeDns,
    now: () => performance.now(),
    wallClock: () => Date.now(),
    setTimer(ms: number, callback: () => void, unref: boolean): TimerHandle {
      // Deno returns a number; the type seen here is Node's because @types/node is loaded for node:*.
      const id = setTimeout(callback, ms) as unknown as number;
      if (unref) deno.unrefTimer(id);
      return id;
    },
    clearTimer(handle: TimerHandle): void {
      clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
    },
    onSignal(signal: SignalName, callback: () => void): () => void {
      // Windows only knows SIGINT and SIGBREAK: other signals can never arrive there.
      try {
        deno.addSignalListener(signal, callback);
      } catch {
        return () => {};
      }
      return () => deno.removeSignalListener(signal, callback);
    },
    kill: (pid, signal) => deno.kill(pid, signal),
    pid: deno.pid,
    readTextFile: (path) => deno.readTextFile(path),
    env: (name) => deno.env.get(name),
    args: () => deno.args.slice(),
    writeStdout: (text) => writeAll(deno.stdout, text),
    writeStderr: (text) => writeAll(deno.stderr, text),
    onUncaughtError(callback: (error: unknown) => void): void {
      globalThis.addEventListener("error", (event: Event) => {
        event.preventDefault();
        callback((event as ErrorEvent).error);
      });
      globalThis.addEventListener("unhandledrejection", (event: Event) => {
        event.preventDefault();
        callback((event as PromiseRejectionEvent).reason);
      });
    },
    exit: (code) => deno.exit(code),
  };
}
