/**
 * Helpers for tests that follow a master's worker processes through Linux's /proc.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { boundedWait, cliCommand, deadPort, ROOT, sleep } from "./_cli_helpers.ts";

/** A free loopback port, for workers that share one fixed port (port 0 would give each its own). */
export const freePort: () => Promise<number> = deadPort;

/** Linux's net.ipv4.tcp_migrate_req ("unknown" elsewhere): at 0 (its default) a closing listener resets its accept queue. */
export const MIGRATE_REQ: string = (() => {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim();
  } catch {
    return "unknown";
  }
})();

/** True while `pid` exists and is not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The children of `pid`, from every one of its threads (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text !== "") children.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Gone already.
  }
  return children;
}

/**
 * The listening socket on 127.0.0.1:`port` as each of `pids` holds it (Linux /proc): the pid, its
 * descriptor and the descriptor's open flags, for every descriptor of that socket.
 */
export function listeningSocketHolders(port: number, pids: readonly number[]): { pid: number; fd: number; flags: number }[] {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const line = readFileSync("/proc/net/tcp", "utf8").split("\n").find((entry) => {
    const fields = entry.trim().split(/\s+/);
    return fields[1] === `0100007F:${portHex}` && fields[3] === "0A";
  });
  if (line === undefined) return [];
  const inode = line.trim().split(/\s+/)[9];
  const holders: { pid: number; fd: number; flags: number }[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== `socket:[${inode}]`) continue;
        const flags = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))![1]!;
        holders.push({ pid, fd: Number(fd), flags: parseInt(flags, 8) });
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return holders;
}

/** A master started with -W (or workers > 1), its output collected, its workers tracked. */
export class MasterProcess {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  stdout = "";
  stderr = "";
  exitCode: number | null = null;
  signal: string | null = null;
  readonly exited: Promise<void>;
  private readonly seen = new Set<number>();

  /** Runs `args` through our CLI from source, or through `program` (a built executable) when given. */
  constructor(
    args: readonly string[],
    env: Record<string, string> = {},
    program?: { command: string; prefix?: readonly string[] },
  ) {
    const [command, commandArgs] = program === undefined
      ? cliCommand(args)
      : [program.command, [...(program.prefix ?? []), ...args]];
    this.child = spawn(command, commandArgs, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
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

  /** Waits until stderr (from `from` on) matches; fails with the output after `timeoutMs`. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let lastLook = false;
    while (Date.now() < deadline) {
      this.track();
      const match = this.stderr.slice(from).match(pattern);
      if (match !== null) return match;
      if (lastLook) break;
      // Workers outlive a killed master for a while, writing to the same pipe; once all are gone,
      // one last look after what they wrote last has been read.
      if (!this.running && this.liveWorkers().length === 0) {
        lastLook = true;
        await boundedWait(this.exited, 1_000);
        await sleep(200);
        continue;
      }
      await sleep(20);
    }
    throw new Error(`Expected ${pattern} in the master's output; got:\n${this.stderr}`);
  }

  /** Pids of the workers that said they were ready, by worker number, in order of the lines. */
  readyWorkers(from = 0): { number: number; pid: number }[] {
    return [...this.stderr.slice(from).matchAll(/Worker (\d+) \(pid (\d+)\) ready/g)].map((match) => ({
      number: Number(match[1]),
      pid: Number(match[2]),
    }));
  }

  /** Remembers every worker pid visible now, for the clean-up. */
  track(): void {
    for (const match of this.stderr.matchAll(/\(pid (\d+)\)/g)) this.seen.add(Number(match[1]));
    if (this.running) { for (const pid of childrenOf(this.pid)) this.seen.add(pid); }
  }

  /** Every worker ever seen that is still alive. */
  liveWorkers(): number[] {
    this.track();
    return [...this.seen].filter((pid) => pid !== this.pid && alive(pid));
  }

  signalMaster(name: NodeJS.Signals): void {
    process.kill(this.pid, name);
  }

  async waitExit(timeoutMs = 20_000): Promise<number | null> {
    await boundedWait(this.exited, timeoutMs);
    if (this.running) throw new Error(`The master did not exit within ${timeoutMs} ms:\n${this.stderr}`);
    return this.exitCode;
  }

  /** Waits until none of the workers seen is alive; fails after a bound. */
  async waitWorkersGone(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.liveWorkers().length > 0) {
      if (Date.now() > deadline) {
        throw new Error(`Workers ${this.liveWorkers().join(", ")} still alive:\n${this.stderr}`);
      }
      await sleep(20);
    }
  }

  /** The master's exit code once it and every worker seen are gone; fails after a bound. */
  async waitAllGone(timeoutMs = 20_000): Promise<number | null> {
    const code = await this.waitExit(timeoutMs);
    await this.waitWorkersGone(timeoutMs);
    return code;
  }

  /** Stops the master (SIGTERM, then SIGKILL) and SIGKILLs any worker left. Safe to call more than once. */
  async stop(): Promise<void> {
    this.track();
    if (this.running) {
      this.child.kill("SIGTERM");
      await boundedWait(this.exited, 10_000);
      if (this.running) {
        this.child.kill("SIGKILL");
        await boundedWait(this.exited, 5_000);
      }
    }
    for (const pid of this.liveWorkers()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone between the check and the kill.
      }
    }
  }
}
