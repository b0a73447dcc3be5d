/**
 * Helpers for end-to-end tests: start the real CLI as a child process of the runtime running the
 * tests, wait for it to listen, and stop it (also when a test fails). Origins are plain node:net
 * servers on loopback port 0.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as net from "node:net";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { detectRuntimeName } from "../src/runtime/detect.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** The command that runs our CLI under the runtime running this test. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  const runtime = detectRuntimeName();
  if (runtime === "deno") return [process.execPath, ["run", "-A", MAIN, ...args]];
  return [process.execPath, [MAIN, ...args]];
}

/** A CLI child process with its output collected. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  exitCode: number | null = null;
  signal: string | null = null;
  readonly exited: Promise<void>;

  /** Runs `args` through our CLI from source, or through `program` (a built executable...) when given. */
  constructor(args: readonly string[], program?: { command: string; prefix?: readonly string[] }) {
    const [command, commandArgs] = program === undefined
      ? cliCommand(args)
      : [program.command, [...(program.prefix ?? []), ...args]];
    this.child = spawn(command, commandArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === null && this.signal === null;
  }

  /** Waits until stderr matches `pattern`; fails with the output so far after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = this.stderr.match(pattern);
      if (match !== null) return match;
      if (!this.running) break;
      await sleep(20);
    }
    throw new Error(`Expected ${pattern} in the proxy's output; got:\n${this.stderr}\n${this.stdout}`);
  }

  /** Waits for the process to exit on its own, bounded. */
  async waitExit(timeoutMs = 20_000): Promise<number | null> {
    await boundedWait(this.exited, timeoutMs);
    if (this.running) throw new Error(`The proxy did not exit within ${timeoutMs} ms:\n${this.stderr}`);
    return this.exitCode;
  }

  /**
   * Sends a signal by pid. Deno's node:child_process reports a signal sent through `child.kill` as
   * the cause of exit even when the child then exits normally, which would hide the exit code.
   */
  sendSignal(name: NodeJS.Signals): void {
    process.kill(this.pid, name);
  }

  /** Stops with SIGTERM, then SIGKILL after a bound. Safe to call more than once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    await boundedWait(this.exited, 5_000);
    if (this.running) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** Starts the quick start on a free loopback port and resolves once it listens. */
export async function startProxy(args: readonly string[]): Promise<{ proxy: CliProcess; port: number }> {
  const proxy = new CliProcess(["--bind", "127.0.0.1:0", ...args]);
  try {
    const match = await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    return { proxy, port: Number(match[1]) };
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

/**
 * A loopback origin server; `onConnection` gets each socket (allowHalfOpen, as a real server may be).
 * `endOnEnd` false: the test ends its sockets itself (a TLS server over the socket does).
 */
export async function startOrigin(onConnection: (socket: net.Socket) => void, endOnEnd = true): Promise<{
  server: net.Server;
  port: number;
  address: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
    // Like most servers, close our side once the client has closed its own, unless the test did.
    if (endOnEnd) {
      socket.on("end", () => {
        if (!socket.writableEnded) socket.end();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Ports handed out by {@link deadPort} in this process: never twice. */
const handedOut = new Set<number>();

/**
 * A loopback port with nothing listening on it, for a dead server or for a process the test
 * starts on it later. Taken below the kernel's ephemeral range where there is room: a port closed
 * again inside that range may go to the next `listen(0)` of this machine (ports 0 are all the tests
 * use) before the test uses it; below it only an explicit bind could take it.
 */
export async function deadPort(): Promise<number> {
  const low = ephemeralPortsStart();
  for (let attempt = 0; low !== null && attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (handedOut.has(port)) continue;
    if (await listensThenCloses(port)) {
      handedOut.add(port);
      return port;
    }
  }
  // No room below the range (or no /proc): a port the kernel picks, as before.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  handedOut.add(port);
  return port;
}

/** The first port of the kernel's ephemeral range when ports 10000 to it are at least 1,000 (Linux), else null. */
function ephemeralPortsStart(): number | null {
  try {
    const start = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start >= 11_000 ? start : null;
  } catch {
    return null;
  }
}

/** Whether 127.0.0.1:`port` can be listened on now (it is closed again before this resolves). */
function listensThenCloses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Connects to the proxy, sends `data` (then FIN when `end`), and resolves with everything received until close. */
export function exchange(port: number, data: string | Uint8Array, end = true, timeoutMs = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No close within ${timeoutMs} ms; got ${Buffer.concat(chunks).length} bytes`));
    }, timeoutMs);
    socket.on("connect", () => {
      if (data.length > 0) socket.write(data);
      if (end) socket.end();
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * A connection to `port` on 127.0.0.1 that sends `request` at once (the kernel holds it until
 * someone accepts): `connected` once the handshake is done, `firstLine` the first line received,
 * or the error code (ECONNREFUSED, ECONNRESET...), bounded at `timeoutMs`.
 */
export function pendingConnection(
  port: number,
  request = "",
  timeoutMs = 30_000,
): { connected: Promise<void>; firstLine: Promise<string> } {
  let connected!: () => void;
  const connectedPromise = new Promise<void>((resolve) => (connected = resolve));
  const firstLine = new Promise<string>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let received = "";
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("connect", () => {
      if (request !== "") socket.write(request);
      connected();
    });
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      connected();
      resolve(error.code ?? error.message);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received.split(/\r?\n/)[0] || "closed without an answer");
    });
  });
  return { connected: connectedPromise, firstLine };
}

/** Resident memory of a process in bytes (Linux /proc), or null elsewhere. */
export function residentBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Waits for `promise`, at most `ms`; the timer is cleared so it does not hold the test process open. */
export async function boundedWait(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits until `condition()` holds, polling; fails naming `what` after `timeoutMs`. The bound only
 * guards against a hang: it leaves room for a loaded machine, where a count of polls would not.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until `count()` has grown past 0 and then stopped (unchanged for `quietMs`), and returns it;
 * fails as soon as it reaches `limit`, or when it still grows after `timeoutMs`. Backpressure shows
 * as a byte count that stops: how soon depends on the machine's load, how far does not.
 */
export async function waitStalled(count: () => number, limit: number, what: string, quietMs = 1_000, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  for (;;) {
    await sleep(50);
    const now = count();
    assert.ok(now < limit, `${what}: ${now} bytes, more than the buffers on the way can hold (${limit})`);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (now > 0 && Date.now() - since >= quietMs) {
      return now;
    }
    assert.ok(Date.now() < deadline, `${what}: still ${now === 0 ? "nothing" : "growing"} after ${timeoutMs} ms (${now} bytes)`);
  }
}

/**
 * Backpressure check for a client that stopped reading (already paused): the origin can write only
 * what kernel buffers hold (on loopback a few MB, where without backpressure it moves GBs), then
 * stalls; the proxy's RSS stays flat; once the client reads again at least 1 MB arrives.
 * `written` reports what the origin has written so far.
 */
export async function assertStalledThenResumes(client: net.Socket, proxyPid: number, written: () => number): Promise<void> {
  const limit = 64 * 1024 * 1024;
  await waitStalled(written, limit, "the origin wrote into a stalled client");
  const rssBefore = residentBytes(proxyPid);
  const writtenBefore = written();
  await sleep(1_000);
  assert.ok(written() < limit, `the origin could write ${written()} bytes into a stalled client`);
  const rssAfter = residentBytes(proxyPid);
  if (rssBefore !== null && rssAfter !== null) {
    assert.ok(rssAfter - rssBefore < 32 * 1024 * 1024, `RSS grew by ${rssAfter - rssBefore} bytes while stalled (${written() - writtenBefore} more bytes written)`);
  }
  // The stalled session still works once the client reads again.
  let readBack = 0;
  client.on("data", (data: Buffer) => (readBack += data.length));
  client.resume();
  const deadline = Date.now() + 20_000;
  while (readBack < 1024 * 1024 && Date.now() < deadline) await sleep(20);
  assert.ok(readBack >= 1024 * 1024, `only ${readBack} bytes after resuming`);
}
