/**
 * A -W master's workers: one process from spawn to exit (`WorkerProcess`), one start or reload of
 * all of them (`Generation`, with the plan they run), and the backoff of a dead worker's restart.
 * The master (master.ts) drives them; this module holds their state.
 *
 * @module
 */

import type { ChildExit, ChildProcess, Runtime, TimerHandle } from "../runtime/types.ts";
import type { ControlChannel } from "./control_channel.ts";
import type { ReadConfig, WorkerSetup } from "./config_handover.ts";
import type { Identity } from "./privileges.ts";
import { inheritedSocketSetup } from "./listener_handover.ts";
import type { GenerationSockets } from "./listener_handover.ts";
import type { WorkerRequests } from "./master_runtime_api.ts";
import type { HandedServerState } from "./server_state_handover.ts";
import { LifecycleError } from "./errors.ts";

/** First delay before restarting a dead worker: long enough not to spin on a crash at start. */
export const RESTART_DELAY_MIN_MS = 100;
/** The delay doubles on each failed restart up to this. */
export const RESTART_DELAY_MAX_MS = 10_000;
/** A worker that stayed up this long had a healthy run: its next restart starts the backoff over. */
export const RESTART_STABLE_MS = 30_000;
/**
 * The delay before restarting a dead worker, and the one to use if it dies again: starts at
 * {@link RESTART_DELAY_MIN_MS}, doubles up to {@link RESTART_DELAY_MAX_MS}, and starts over when
 * the worker had served for {@link RESTART_STABLE_MS} (`uptime`, 0 when it never became ready).
 */
export function restartBackoff(
  planned: number | undefined,
  uptime: number,
): { readonly delay: number; readonly next: number } {
  const delay = planned === undefined || uptime >= RESTART_STABLE_MS ? RESTART_DELAY_MIN_MS : planned;
  return { delay, next: Math.min(delay * 2, RESTART_DELAY_MAX_MS) };
}

/** Everything one generation of workers runs with. */
export interface Plan {
  readonly read: ReadConfig;
  readonly workers: number;
  readonly identity: Identity | null;
  /** The workers' `chroot`, checked by `planChroot`. */
  readonly chroot: string | null;
  /** The setup of its workers but their sockets (each generation's, from `MasterListeners`) and server states. */
  readonly setup: Omit<WorkerSetup, "listeners" | "serverState">;
}

/** One start (or reload) of the workers, numbered from 1. */
export class Generation {
  readonly id: number;
  readonly plan: Plan;
  /** The sockets its workers inherit; null where they bind their own. */
  readonly sockets: GenerationSockets | null;
  /** The process in each worker slot (index = worker number - 1); null while a restart is pending. */
  readonly slots: (WorkerProcess | null)[];
  /** Pending restarts by worker number. */
  readonly restarts = new Map<number, TimerHandle>();
  /** Next restart delay by worker number. */
  readonly delays = new Map<number, number>();
  /**
   * The server states its workers start from: those it was started with, then those a worker of
   * its own gave after each change through the runtime API (a restarted worker gets the latest).
   */
  serverState: HandedServerState | null;

  constructor(id: number, plan: Plan, sockets: GenerationSockets | null, serverState: HandedServerState | null) {
    this.id = id;
    this.plan = plan;
    this.sockets = sockets;
    this.serverState = serverState;
    this.slots = new Array(plan.workers).fill(null);
  }

  /** What `worker` is sent: the plan's setup, which of its descriptors are the sockets, the server states. */
  setupOf(worker: WorkerProcess): WorkerSetup {
    const listeners = this.sockets === null ? null : inheritedSocketSetup(this.sockets, worker.child.inherited);
    return { ...this.plan.setup, listeners, serverState: this.serverState };
  }

  /** The processes of this generation that have not exited. */
  get live(): WorkerProcess[] {
    return this.slots.filter((worker): worker is WorkerProcess =>
      worker !== null && worker.state !== "exited"
    );
  }
}

/** One worker process, from spawn to exit. */
export class WorkerProcess {
  readonly number: number;
  readonly generation: Generation;
  readonly token: string;
  readonly child: ChildProcess;
  readonly label: string;
  readonly spawnedAt: number;
  state: "starting" | "ready" | "exited" = "starting";
  /** Told to stop (or to finish): its exit is expected. */
  stopRequested = false;
  channel: ControlChannel | null = null;
  /** Its runtime API commands in flight, once it said hello. */
  requests: WorkerRequests | null = null;
  readyAt = 0;
  /** Why it could not start, as it reported. */
  failure: string | null = null;
  /** Settles when it is ready; rejects when it fails or exits first. Always handled. */
  readonly ready: Promise<void>;
  private settle: { resolve: () => void; reject: (error: Error) => void } | null = null;

  constructor(number: number, generation: Generation, token: string, child: ChildProcess, now: number) {
    this.number = number;
    this.generation = generation;
    this.token = token;
    this.child = child;
    this.label = `Worker ${number} (pid ${child.pid})`;
    this.spawnedAt = now;
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Restarted workers' readiness is only logged: nobody awaits it, and it must not be unhandled.
    this.ready.catch(() => {});
  }

  markReady(now: number): void {
    if (this.state !== "starting") return;
    this.state = "ready";
    this.readyAt = now;
    this.settle?.resolve();
  }

  /** It reported a failure or exited before ready. */
  markFailed(message: string): void {
    this.failure ??= message;
    this.settle?.reject(
      new LifecycleError("LIFECYCLE_WORKER", `${this.label} could not start: ${this.failure}`),
    );
  }

  /**
   * Signals the worker. By pid through `runtime.kill` rather than `child.kill`: Deno's
   * node:child_process delivers only the first signal given to a child's `kill` (later calls do
   * nothing and return false), and then reports that first signal as the cause of the exit even
   * when the child exits with a code. SIGKILL, not in the contract's `kill`, is the last word anyway.
   */
  kill(signal: "SIGTERM" | "SIGTTOU" | "SIGTTIN" | "SIGKILL", runtime: Runtime): void {
    if (this.state === "exited") return;
    if (signal === "SIGKILL") {
      this.child.kill(signal);
      return;
    }
    try {
      runtime.kill(this.child.pid, signal);
    } catch {
      // Gone already: its exit is on its way.
    }
  }
}

export function describeExit(exit: ChildExit): string {
  return exit.code !== null ? `with code ${exit.code}` : `on ${exit.signal ?? "an unknown signal"}`;
}

