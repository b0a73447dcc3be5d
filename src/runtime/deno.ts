/**
 * The runtime contract on Deno.
 *
 * Socket APIs: node:net from Deno's Node compatibility layer (the default), and "native":
 * `Deno.listen`/`Deno.connect` (`_deno_native.ts`), picked with PROXY_SOCKETS=native. The native
 * sockets are pull-based (one promise per accept, read and write), which the contract avoids on
 * the hot path. Why node:net stays the default (npm run bench, 2026-11-24, tcp mode, ratios against
 * HAProxy in the same run, docs/performance.md): native costs less CPU on small requests (1.26x
 * against 1.53x) but more on 1 MB bodies (0.73x against 0.61x of HAProxy's CPU, throughput 1.39x
 * against 1.51x), holds 10,000 idle connections in 266 MB against 145 MB (a pending read pins its
 * buffer), and shares ports only with --unstable-net. Native wins on the one figure and loses the
 * memory target by far: node:net until that changes.
 * Quirks:
 * - Native `Deno.listen({ reusePort: true })` needs `--unstable-net` (or `"unstable": ["net"]` in
 *   deno.json) in Deno 2.9, and without it exits the process with code 70 instead of throwing; the
 *   native listen checks first and rejects. node:net on Deno shares ports without any flag.
 * - Native sockets: a pending read pins its buffer (an idle connection holds 4 KiB), reads and
 *   writes are zero-copy, and `listener.close()` lets go of the port only once the pending accept
 *   settles; `_deno_native.ts` lists these quirks and how they are handled.
 * - Name lookup stays on node:dns (getaddrinfo, /etc/hosts first) for both socket APIs:
 *   `Deno.resolveDns` asks DNS servers directly and skips /etc/hosts.
 * - Signals, exit, files and arguments use the native `Deno` namespace: they need no permission
 *   beyond what the jail grants and work the same in `deno compile` binaries.
 * - `setTimeout` returns a number; unref goes through `Deno.unrefTimer`.
 * - Like Node, Deno opens the inspector on 127.0.0.1:9229 when SIGUSR1 arrives with no listener, and
 *   also when a SIGUSR1 listener is removed while that signal is being dispatched. The proxy keeps
 *   its SIGUSR1 listener for its whole life.
 * - Deno's node:net ignores `ipv6Only`: "[::]:P" is always dual-stack, so next to "0.0.0.0:P" it only
 *   binds with SO_REUSEPORT (the default); the conformance suite tracks this gap.
 * - Uncaught errors arrive as `error`/`unhandledrejection` events on globalThis; preventDefault()
 *   keeps the process alive.
 * - `writeOutput` uses `Deno.stdout.write`/`Deno.stderr.write`, which run on a blocking thread and
 *   leave the event loop free. Not `writeSync`, node:fs `write` (even its callback form) or
 *   `process.stdout`: all three block the whole process on a full pipe in Deno 2.9. When the
 *   pipe was made O_NONBLOCK by another process sharing it, a full pipe fails the write with
 *   `WouldBlock`: retried on a timer backing off from 1 ms to 50 ms, as nothing tells when it drains.
 * - `hostname` needs `--allow-sys=hostname`. Without it `Deno.hostname()` throws, or asks on a
 *   terminal and holds the process until answered, and node:os `hostname()` needs the same
 *   permission; so the permission is queried first (no prompt) and "localhost" stands in.
 * - Datagram sockets are node:dgram (`_node_dgram.ts`) with either socket API: Deno's own UDP
 *   (`Deno.listenDatagram`) is still behind --unstable-net.
 * - The `Deno` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type { OutputStreamName, Runtime, SignalName, SocketApi, TimerHandle } from "./types.ts";
import { connectNodeNet, listenNodeNet, lookupNodeDns } from "./_node_net.ts";
import { connectDenoNative, listenDenoNative } from "./_deno_native.ts";
import { connectNodeDgram } from "./_node_dgram.ts";
import { OutputWriter } from "./_output_writer.ts";

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
  writeTextFile(path: string, text: string): Promise<void>;
  unrefTimer(id: number): void;
  exit(code: number): never;
  readonly env: { get(name: string): string | undefined };
  readonly stdout: DenoOutput;
  readonly stderr: DenoOutput;
  hostname(): string;
  readonly permissions: {
    querySync(descriptor: { readonly name: "sys"; readonly kind: "hostname" }): { readonly state: string };
  };
}

interface DenoOutput {
  writeSync(data: Uint8Array): number;
  /** Resolves with the number of bytes written, which may be fewer than given. */
  write(data: Uint8Array): Promise<number>;
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

/** Writes whole buffers to stdout or stderr with the async `write`: the sync one blocks on a full pipe. */
class DenoOutputWriter extends OutputWriter {
  private readonly sink: DenoOutput;
  /** Made once, so a write costs its promise and nothing more. */
  private readonly written: (count: number) => void;
  private readonly failed: (error: unknown) => void;

  constructor(sink: DenoOutput, name: OutputStreamName) {
    super(name);
    this.sink = sink;
    this.written = (count) => this.wrote(count);
    this.failed = (error) => {
      const name = (error as { name?: unknown } | null)?.name;
      const code = (error as { code?: unknown } | null)?.code;
      if (name === "WouldBlock" || code === "EAGAIN") this.retryLater();
      else this.fail(error);
    };
  }

  protected writeSome(): void {
    let pending: Promise<number>;
    try {
      pending = this.sink.write(this.bytes.subarray(this.offset));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(this.written, this.failed);
  }
}

/** One writer per stream for the whole process, whichever runtime object asks. */
const outputWriters: Partial<Record<OutputStreamName, DenoOutputWriter>> = {};

function outputWriter(deno: DenoGlobal, stream: OutputStreamName): DenoOutputWriter {
  return outputWriters[stream] ??= new DenoOutputWriter(stream === "stdout" ? deno.stdout : deno.stderr, stream);
}

/** Socket APIs this module implements, the default first. */
export const DENO_SOCKET_APIS: readonly SocketApi[] = ["node:net", "native"];

/** Builds the Deno runtime with the given socket API. */
export function createDenoRuntime(socketApi: SocketApi): Runtime {
  if (!DENO_SOCKET_APIS.includes(socketApi)) throw new Error(`Socket API "${socketApi}" is not implemented on deno`);
  const native = socketApi === "native";
  const deno = denoGlobal();
  return {
    info: {
      name: "deno",
      version: deno.version.deno,
      os: OS_NAMES[deno.build.os] ?? deno.build.os,
      arch: ARCH_NAMES[deno.build.arch] ?? deno.build.arch,
      socketApi,
      compiled: deno.build.standalone ?? false,
    },
    listen: native ? listenDenoNative : listenNodeNet,
    connect: native ? connectDenoNative : connectNodeNet,
    connectDatagram: connectNodeDgram,
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
    writeTextFile: (path, text) => deno.writeTextFile(path, text),
    env: (name) => deno.env.get(name),
    args: () => deno.args.slice(),
    writeStdout: (text) => writeAll(deno.stdout, text),
    writeStderr: (text) => writeAll(deno.stderr, text),
    writeOutput: (stream, bytes, done) => outputWriter(deno, stream).write(bytes, done),
    hostname(): string {
      try {
        if (deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") return deno.hostname();
      } catch {
        // A runtime without the permission API, or a host name it cannot read: the fallback below.
      }
      return "localhost";
    },
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
