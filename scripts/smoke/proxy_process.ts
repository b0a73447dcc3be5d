/**
 * A proxy executable started by the smoke test, through its launcher (directly, under the musl
 * loader, under qemu-user), with its output collected. Every process started is tracked until it
 * exits, and {@link stopAll} ends whatever a failed check left running.
 *
 * @module
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { Launcher } from "./launchers.ts";

/** How long a process gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 5_000;

const running = new Set<ProxyProcess>();

/** One run of an executable. */
export class ProxyProcess {
  readonly child: ChildProcess;
  readonly command: string;
  stdout = "";
  stderr = "";
  exitCode: number | null = null;
  signal: string | null = null;
  /** Set when the process could not be started at all (ENOENT, EACCES...). */
  spawnError: Error | null = null;
  readonly exited: Promise<void>;

  constructor(launcher: Launcher, binary: string, args: readonly string[]) {
    const [command, commandArgs] = launcher.command(binary, args);
    this.command = [command, ...commandArgs].join(" ");
    this.child = spawn(command, commandArgs, {
      env: { ...process.env, ...launcher.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(this);
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on("error", (error) => {
        this.spawnError = error;
        running.delete(this);
        resolve();
      });
      this.child.on("exit", (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        running.delete(this);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === null && this.signal === null && this.spawnError === null;
  }

  /** How it ended, for messages: `exit code 1`, `signal SIGKILL`, `spawn failed: ...`. */
  get ending(): string {
    if (this.spawnError !== null) return `could not start "${this.command}": ${this.spawnError.message}`;
    if (this.signal !== null) return `killed by ${this.signal}`;
    if (this.exitCode !== null) return `exit code ${this.exitCode}`;
    return "still running";
  }

  /** The last lines of stderr and stdout, indented, for a failure message. */
  outputTail(lines = 8): string {
    const tail = `${this.stderr}${this.stdout}`.trimEnd().split("\n").slice(-lines);
    return tail.join("\n").trim() === "" ? "(no output)" : tail.map((line) => `  | ${line}`).join("\n");
  }

  /** Waits until stderr matches `pattern`; fails with the output so far after `timeoutMs` or on exit. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = this.stderr.match(pattern);
      if (match !== null) return match;
      if (!this.running) {
        throw new Error(
          `Expected ${pattern} in the output; the process ended (${this.ending}):\n${this.outputTail()}`,
        );
      }
      await sleep(5);
    }
    throw new Error(`Expected ${pattern} in the output within ${timeoutMs} ms:\n${this.outputTail()}`);
  }

  /** Waits for the process to exit on its own, bounded; resolves with its exit code. */
  async waitExit(timeoutMs: number): Promise<number | null> {
    await boundedWait(this.exited, timeoutMs);
    if (this.running) {
      throw new Error(`The process did not exit within ${timeoutMs} ms:\n${this.outputTail()}`);
    }
    if (this.spawnError !== null) throw new Error(this.ending);
    return this.exitCode;
  }

  /** Sends a signal by pid (qemu-user passes it on to the emulated program). */
  sendSignal(name: NodeJS.Signals): void {
    if (this.running && this.pid !== undefined) process.kill(this.pid, name);
  }

  /** Stops with SIGTERM, then SIGKILL after a bound. Safe to call more than once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    await boundedWait(this.exited, STOP_GRACE_MS);
    if (this.running) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** Runs `binary args` to completion, bounded; the process is killed if it overstays. */
export async function runToExit(
  launcher: Launcher,
  binary: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; process: ProxyProcess }> {
  const run = new ProxyProcess(launcher, binary, args);
  try {
    const code = await run.waitExit(timeoutMs);
    return { code, stdout: run.stdout, stderr: run.stderr, process: run };
  } finally {
    await run.stop();
  }
}

/** Starts `binary args` and resolves once it logs that it listens, with the first port it names. */
export async function startListening(
  launcher: Launcher,
  binary: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ proxy: ProxyProcess; port: number }> {
  const proxy = new ProxyProcess(launcher, binary, args);
  try {
    const match = await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/, timeoutMs);
    return { proxy, port: Number(match[1]) };
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

/** Ends every process still running (after a check failed half-way). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((proxy) => proxy.stop()));
}

/** Waits for `promise`, at most `ms`; the timer is cleared so it does not hold the process open. */
export async function boundedWait(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
