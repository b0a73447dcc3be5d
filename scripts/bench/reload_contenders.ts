/**
 * Starting a proxy for the reload benchmark and reloading it, the way an operator does:
 * - "sf": `proxy -f FILE -p PIDFILE`, then each reload starts `proxy -f FILE -p PIDFILE -sf
 *   $(cat PIDFILE)` (HAProxy: `haproxy -f FILE -sf PID`); the reload is complete once the old
 *   process has exited.
 * - "master": `proxy -W -f FILE -p PIDFILE` (HAProxy: `haproxy -W -f FILE`), and each reload is
 *   `kill -USR2 MASTER`; it is complete once every worker that ran before it has exited and a new
 *   one runs (the master retires the old workers only once the new ones listen).
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive, processTree } from "./proc_tree.ts";
import type { ProcessRegistry, TrackedProcess } from "./processes.ts";
import { firstOutputLine, lastErrorLines, waitUntilListening } from "./processes.ts";
import type { ReloadContender } from "./reload_options.ts";
import type { ReloadMode, ReloadWindow } from "./reload_results.ts";

/** How the proxy forwards: http (parsed, `Connection: close` on graceful stop) or tcp (spliced). */
export type ProxyMode = "http" | "tcp";

/**
 * `hard-stop-after` in both proxies' configuration: a process told to finish is cut off after
 * this long, so that a reload cannot wait forever on a session that never ends.
 */
export const HARD_STOP_AFTER_SECONDS = 10;
/** How long a reload may take (start of the new process, then the old one's last session). */
export const RELOAD_TIMEOUT_MS = (HARD_STOP_AFTER_SECONDS + 15) * 1_000;
/** How long the first process may take to listen (Deno compiles the TypeScript on first start). */
const START_TIMEOUT_MS = 30_000;
/** How often the master's workers are looked at while a reload runs. */
const POLL_MS = 10;

/** Where and how a contender runs. */
export type ContenderPlan = {
  contender: ReloadContender;
  reloadMode: ReloadMode;
  proxyMode: ProxyMode;
  port: number;
  backends: readonly string[];
  directory: string;
  projectRoot: string;
  registry: ProcessRegistry;
};

/** A reload as it happened. */
export type ReloadOutcome = ReloadWindow & {
  /** What went wrong; null for a clean reload. */
  problem: string | null;
};

/** Our proxy's configuration file for the benchmark. */
export function ourConfig(proxyMode: ProxyMode, port: number, backends: readonly string[]): string {
  return [
    "[global]",
    `hard-stop-after = "${HARD_STOP_AFTER_SECONDS}s"`,
    "",
    "[defaults]",
    `mode = "${proxyMode}"`,
    // Fewer server connections opened and closed per request: the origin side stays out of the figures.
    ...(proxyMode === "http" ? ['http-reuse = "always"'] : []),
    "",
    "[defaults.timeout]",
    'connect = "5s"',
    'client = "30s"',
    'server = "30s"',
    "",
    "[frontends.bench]",
    `bind = "127.0.0.1:${port}"`,
    'default-backend = "origins"',
    "",
    "[backends.origins]",
    'balance = "roundrobin"',
    "servers = [",
    ...backends.map((address, index) => `  { name = "origin${index + 1}", address = "${address}" },`),
    "]",
    "",
  ].join("\n");
}

/** HAProxy's configuration for the same setup: one thread, as our proxy runs one process. */
export function haproxyReloadConfig(proxyMode: ProxyMode, port: number, backends: readonly string[]): string {
  return [
    "global",
    "    nbthread 1",
    "    maxconn 4096",
    `    hard-stop-after ${HARD_STOP_AFTER_SECONDS}s`,
    "",
    "defaults",
    `    mode ${proxyMode}`,
    "    timeout connect 5s",
    "    timeout client 30s",
    "    timeout server 30s",
    ...(proxyMode === "http" ? ["    option http-keep-alive", "    http-reuse always"] : []),
    "",
    "frontend bench",
    `    bind 127.0.0.1:${port}`,
    "    default_backend origins",
    "",
    "backend origins",
    "    balance roundrobin",
    ...backends.map((address, index) => `    server origin${index + 1} ${address}`),
    "",
  ].join("\n");
}

/** The command line of one start (`finish`: the pid to take over from with -sf). */
export function contenderCommand(
  plan: Pick<ContenderPlan, "contender" | "reloadMode" | "projectRoot">,
  configPath: string,
  pidPath: string,
  finish: number | null,
): { command: string; args: string[] } {
  const takeOver = finish === null ? [] : ["-sf", String(finish)];
  const master = plan.reloadMode === "master" ? ["-W"] : [];
  if (plan.contender === "haproxy") {
    return { command: "haproxy", args: [...master, "-f", configPath, "-p", pidPath, ...takeOver] };
  }
  const bin = join(plan.projectRoot, "node_modules", ".bin", plan.contender);
  const entry = join(plan.projectRoot, "src", "main.ts");
  const prefix = plan.contender === "deno" ? ["run", "-A"] : [];
  return { command: bin, args: [...prefix, entry, ...master, "-f", configPath, "-p", pidPath, ...takeOver] };
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8").trim().split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function timeout(ms: number): { promise: Promise<"timeout">; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** A proxy under the benchmark's control, from its first start to its stop. */
export class ReloadableProxy {
  readonly plan: ContenderPlan;
  readonly configPath: string;
  readonly pidPath: string;
  /** Every process started, in order: -sf starts one per reload. */
  readonly processes: TrackedProcess[] = [];
  /** The process serving now (-sf), or the master (-W). */
  current: TrackedProcess | null = null;
  #starts = 0;

  constructor(plan: ContenderPlan) {
    this.plan = plan;
    const slug = `${plan.contender}-${plan.reloadMode}-${plan.proxyMode}-${plan.port}`;
    this.configPath = join(plan.directory, `${slug}.${plan.contender === "haproxy" ? "cfg" : "toml"}`);
    this.pidPath = join(plan.directory, `${slug}.pid`);
    writeFileSync(
      this.configPath,
      plan.contender === "haproxy"
        ? haproxyReloadConfig(plan.proxyMode, plan.port, plan.backends)
        : ourConfig(plan.proxyMode, plan.port, plan.backends),
    );
  }

  /** A label for messages: "node -sf http". */
  get label(): string {
    return `${this.plan.contender} ${this.plan.reloadMode === "sf" ? "-sf" : "-W"} ${this.plan.proxyMode}`;
  }

  #spawn(finish: number | null): TrackedProcess {
    const { command, args } = contenderCommand(this.plan, this.configPath, this.pidPath, finish);
    const tracked = this.plan.registry.spawn({
      name: `${this.label} #${++this.#starts}`,
      command,
      args,
      cwd: this.plan.projectRoot,
      env: process.env,
      cpuList: null,
      raiseFileLimit: true,
    });
    this.processes.push(tracked);
    return tracked;
  }

  /** Starts the first process and waits until it (or, with -W, its worker) listens. */
  async start(): Promise<void> {
    const first = this.#spawn(null);
    this.current = first;
    await waitUntilListening(first, this.plan.port, START_TIMEOUT_MS);
    if (this.plan.reloadMode === "master" && this.#workers().length === 0) {
      throw new Error(`${this.label}: the master listens itself, with no worker process`);
    }
  }

  /** The master's worker processes (every descendant but the master itself). */
  #workers(): number[] {
    const master = this.current;
    if (master === null) return [];
    return processTree(master.pid).filter((pid) => pid !== master.pid && isAlive(pid));
  }

  /** One reload; resolves once it is complete, or with the problem that stopped it. */
  reload(): Promise<ReloadOutcome> {
    return this.plan.reloadMode === "sf" ? this.#reloadSoftFinish() : this.#reloadMaster();
  }

  async #reloadSoftFinish(): Promise<ReloadOutcome> {
    const old = this.current!;
    // As an operator's `-sf $(cat pidfile)`; HAProxy in the foreground writes no pid file.
    const oldPid = this.plan.contender === "haproxy" ? old.pid : readPid(this.pidPath);
    const startedAt = Date.now();
    if (oldPid !== old.pid) {
      return {
        startedAt,
        finishedAt: null,
        problem: `the pid file holds ${oldPid}, not the running ${old.pid}`,
      };
    }
    const next = this.#spawn(oldPid);
    const limit = timeout(RELOAD_TIMEOUT_MS);
    const first = await Promise.race([
      old.exited.then(() => "old" as const),
      next.exited.then(() => "new" as const),
      limit.promise,
    ]);
    limit.cancel();
    if (first === "new") {
      return {
        startedAt,
        finishedAt: null,
        problem: `the new process exited (${next.exitDescription}): ${firstOutputLine(next)}`,
      };
    }
    this.current = next;
    if (first === "timeout") {
      return {
        startedAt,
        finishedAt: null,
        problem: `the old process ${old.pid} did not exit within ${RELOAD_TIMEOUT_MS} ms`,
      };
    }
    const finishedAt = Date.now();
    const problems: string[] = [];
    if (old.exitDescription !== "exit code 0") {
      problems.push(
        `the old process exited with ${old.exitDescription}: ${lastErrorLines(old, 2).join(" | ")}`,
      );
    }
    if (next.exitDescription !== null) problems.push(`the new process exited (${next.exitDescription})`);
    if (this.plan.contender !== "haproxy" && readPid(this.pidPath) !== next.pid) {
      problems.push(`the pid file holds ${readPid(this.pidPath)} after the reload, not ${next.pid}`);
    }
    return { startedAt, finishedAt, problem: problems.length > 0 ? problems.join("; ") : null };
  }

  async #reloadMaster(): Promise<ReloadOutcome> {
    const master = this.current!;
    const before = this.#workers();
    const startedAt = Date.now();
    process.kill(master.pid, "SIGUSR2");
    const deadline = startedAt + RELOAD_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (master.exitDescription !== null) {
        return {
          startedAt,
          finishedAt: null,
          problem: `the master exited (${master.exitDescription}): ${lastErrorLines(master, 3).join(" | ")}`,
        };
      }
      const now = this.#workers();
      if (before.every((pid) => !isAlive(pid)) && now.some((pid) => !before.includes(pid))) {
        return { startedAt, finishedAt: Date.now(), problem: null };
      }
      await sleep(POLL_MS);
    }
    const left = before.filter(isAlive);
    return {
      startedAt,
      finishedAt: null,
      problem: left.length > 0
        ? `old worker(s) ${left.join(", ")} still running after ${RELOAD_TIMEOUT_MS} ms`
        : `no new worker after ${RELOAD_TIMEOUT_MS} ms`,
    };
  }

  /** Whether the serving process (or the master) is still running. */
  get alive(): boolean {
    return this.current !== null && this.current.exitDescription === null;
  }

  /** What the processes wrote to stderr that reports a failure, for the run's incidents. */
  errorLines(): string[] {
    const pattern = /reload failed|could not start|uncaught|unhandled|\[ALERT\]/i;
    return this.processes.flatMap((tracked) => {
      try {
        return readFileSync(tracked.stderrPath, "utf8").split("\n").filter((line) => pattern.test(line))
          .map((line) => `${tracked.name}: ${line.trim()}`);
      } catch {
        return [];
      }
    });
  }

  /** Stops every process this proxy started (and their workers). */
  async stop(): Promise<void> {
    for (const tracked of [...this.processes].reverse()) await this.plan.registry.stop(tracked);
  }
}
