/**
 * Starting and, above all, stopping the processes of a benchmark run.
 *
 * Every child is registered before anything can fail, and stopped as a tree: nginx's worker
 * outlives a master killed with SIGKILL, and a benchmark that leaves proxies behind poisons the
 * next run's ports and figures.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { childFileLimit } from "./file_limits.ts";
import { isAlive, processTree } from "./proc_tree.ts";

/** How long a stopped process gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;

/** A child with its logs in files, so that a chatty child never blocks on a full pipe. */
export type TrackedProcess = {
  name: string;
  child: ChildProcess;
  pid: number;
  stdoutPath: string;
  stderrPath: string;
  /** Resolves with the exit code (or the signal name) once the child has exited. */
  exited: Promise<string>;
  exitDescription: string | null;
};

/** How to start a child. */
export type SpawnRequest = {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** CPUs to pin to via taskset, e.g. "0"; null leaves the scheduler free. */
  cpuList: string | null;
  /** Raise the open-file limit via prlimit; ignored when prlimit is not installed. */
  raiseFileLimit: boolean;
};

/** Whether an executable is on PATH (or is an existing path). */
export function hasCommand(command: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1" >/dev/null 2>&1', "sh", command]).status === 0;
}

/** Keeps track of every child, to stop them all on any exit path. */
export class ProcessRegistry {
  readonly #live = new Set<TrackedProcess>();
  readonly #logDirectory: string;
  readonly #canPin: boolean;
  readonly #canRaiseLimit: boolean;
  #counter = 0;
  #closed = false;

  constructor(logDirectory: string) {
    this.#logDirectory = logDirectory;
    this.#canPin = hasCommand("taskset");
    this.#canRaiseLimit = hasCommand("prlimit");
  }

  /** Whether taskset is available for pinning. */
  get canPin(): boolean {
    return this.#canPin;
  }

  /** Starts a child; it is stopped by stopAll() if nobody stops it earlier. */
  spawn(request: SpawnRequest): TrackedProcess {
    // A run interrupted by a signal must not start anything after its children were stopped.
    if (this.#closed) throw new Error(`Cannot start "${request.name}": the benchmark is stopping`);
    const prefix: string[] = [];
    // Both wrappers exec the target, so the pid we get is the target's own.
    if (request.raiseFileLimit && this.#canRaiseLimit) {
      const limit = childFileLimit();
      prefix.push("prlimit", `--nofile=${limit}:${limit}`, "--");
    }
    if (request.cpuList !== null && this.#canPin) prefix.push("taskset", "-c", request.cpuList);
    const argv = [...prefix, request.command, ...request.args];

    const slug = `${++this.#counter}-${request.name.replace(/[^a-z0-9]+/gi, "_")}`;
    const stdoutPath = join(this.#logDirectory, `${slug}.out`);
    const stderrPath = join(this.#logDirectory, `${slug}.err`);
    const stdoutFd = openSync(stdoutPath, "w");
    const stderrFd = openSync(stderrPath, "w");
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: request.cwd,
        env: request.env,
        stdio: ["ignore", stdoutFd, stderrFd],
      });
    } finally {
      closeSync(stdoutFd);
      closeSync(stderrFd);
    }
    let resolveExit: (description: string) => void = () => {};
    const tracked: TrackedProcess = {
      name: request.name,
      child,
      pid: child.pid ?? -1,
      stdoutPath,
      stderrPath,
      exited: new Promise<string>((resolve) => (resolveExit = resolve)),
      exitDescription: null,
    };
    const onExit = (description: string): void => {
      if (tracked.exitDescription !== null) return;
      tracked.exitDescription = description;
      this.#live.delete(tracked);
      resolveExit(description);
    };
    child.on("error", (error) => onExit(`could not start: ${error.message}`));
    child.on("exit", (code, signal) => onExit(signal !== null ? `signal ${signal}` : `exit code ${code}`));
    this.#live.add(tracked);
    return tracked;
  }

  /** Stops one child and its descendants: SIGTERM, then SIGKILL for whatever is left. */
  async stop(tracked: TrackedProcess): Promise<void> {
    if (tracked.exitDescription !== null || tracked.pid < 0) return;
    const tree = processTree(tracked.pid);
    signalAll([tracked.pid], "SIGTERM");
    const timer = new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), STOP_GRACE_MS));
    await Promise.race([tracked.exited, timer]);
    signalAll(tree.filter(isAlive), "SIGKILL");
    await Promise.race([tracked.exited, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  }

  /** Stops every child still running, in reverse start order, and refuses to start more. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    for (const tracked of [...this.#live].reverse()) await this.stop(tracked);
  }

  /** Last resort on process exit, when nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const tracked of this.#live) {
      if (tracked.pid > 0) signalAll(processTree(tracked.pid), "SIGKILL");
    }
  }
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

// Strips colour codes and consola's decorations so that the skip line quotes the message itself.
function plainText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
}

/** The first non-empty line a child wrote to stderr (or stdout when stderr is empty). */
export function firstOutputLine(tracked: TrackedProcess): string {
  for (const path of [tracked.stderrPath, tracked.stdoutPath]) {
    try {
      const line = plainText(readFileSync(path, "utf8")).split("\n").map((text) => text.trim())
        .find((text) => text !== "");
      if (line !== undefined) return line;
    } catch {
      // no log file: fall through
    }
  }
  return "(no output)";
}

/** The last lines a child wrote to stderr, for reports of crashes. */
export function lastErrorLines(tracked: TrackedProcess, count: number): string[] {
  try {
    const lines = plainText(readFileSync(tracked.stderrPath, "utf8")).split("\n").filter((line) =>
      line.trim() !== ""
    );
    return lines.slice(-count);
  } catch {
    return [];
  }
}

/** A free loopback port (the kernel picks it; another process could still take it before us). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Waits until the port accepts connections; fails with the child's first output line when the
 * child exits first or the time runs out.
 */
export async function waitUntilListening(
  tracked: TrackedProcess,
  port: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (tracked.exitDescription !== null) {
      throw new Error(`${tracked.name} exited (${tracked.exitDescription}): ${firstOutputLine(tracked)}`);
    }
    if (await canConnect(port)) {
      // A port can be taken by a process we did not start: make sure ours is still the one alive.
      if (tracked.exitDescription !== null) continue;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${tracked.name} did not listen on port "${port}" within ${timeoutMs} ms`);
}

/** Runs a command to completion and returns its stdout; rejects when it runs longer than allowed. */
export function runToCompletion(
  registry: ProcessRegistry,
  request: SpawnRequest,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; exit: string }> {
  const tracked = registry.spawn(request);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void registry.stop(tracked);
      reject(new Error(`${request.name} ran longer than ${timeoutMs} ms`));
    }, timeoutMs);
    void tracked.exited.then((exit) => {
      clearTimeout(timer);
      const read = (path: string): string => {
        try {
          return readFileSync(path, "utf8");
        } catch {
          return "";
        }
      };
      resolve({ stdout: read(tracked.stdoutPath), stderr: read(tracked.stderrPath), exit });
    });
  });
}
