/**
 * The runtime API of a -W master (HAProxy's master CLI, reduced to what is needed): the master
 * listens on the `stats-socket` and the workers, which hold the live model, answer. A command is
 * checked here first (unknown, or above the socket's level: refused once, not once per worker),
 * then sent over each worker's control channel (control_channel.ts), and the answers come back
 * one per worker, each under a line "@N (pid P)" where N is the worker's number, as the master CLI
 * names processes. A change (`set server ... state drain`) is so applied to every worker.
 *
 * `@N COMMAND` asks worker N alone and `@!PID COMMAND` the worker with that pid, as on HAProxy's
 * master CLI; the answer then comes without the line above it, exactly as that worker gives it.
 *
 * Only the workers of the current generation are asked: a generation finishing after a reload no
 * longer takes new work. A worker that does not answer within the timeout gets an error in its place.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { CommandExecutor } from "../control/cli_session.ts";
import { resolveCommand } from "../control/runtime_api.ts";
import { errorAnswer } from "../control/types.ts";
import type { AccessLevel, Answer, ProcessAnswer } from "../control/types.ts";
import type { ControlChannel } from "./control_channel.ts";

/** How long the master waits for a worker's answer. */
export const WORKER_ANSWER_TIMEOUT_MS = 10_000;

/** A worker the master can ask. */
export interface ApiWorker {
  /** Its number in its generation, from 1 (`@N`). */
  readonly number: number;
  readonly pid: number;
  /** Sends the command; resolves with the worker's answer, or an error answer when it gives none. */
  ask(words: readonly string[], level: AccessLevel): Promise<Answer>;
}

/** The master's executor: checks a command, asks the workers, gathers their answers. */
export class MasterCommandExecutor implements CommandExecutor {
  private readonly workers: () => readonly ApiWorker[];
  private readonly changed: (() => void) | undefined;

  /**
   * `workers`: the workers serving now (the current generation's, ready), in number order.
   * `changed`: told once a change (a command of level admin) was answered by the workers asked.
   */
  constructor(workers: () => readonly ApiWorker[], changed?: () => void) {
    this.workers = workers;
    this.changed = changed;
  }

  async execute(words: readonly string[], level: AccessLevel): Promise<Answer> {
    let chosen: ApiWorker[] | null = null;
    let command = words;
    const selector = words[0]!;
    if (selector.startsWith("@")) {
      const found = this.select(selector);
      if ("refusal" in found) return found.refusal;
      chosen = [found.worker];
      command = words.slice(1);
      if (command.length === 0) return errorAnswer(`Missing command after '${selector}': e.g. '${selector} show servers state'.`);
    }
    const resolved = resolveCommand(command, level);
    if ("refusal" in resolved) return resolved.refusal;
    const workers = chosen ?? [...this.workers()];
    if (workers.length === 0) return errorAnswer("No worker is serving: nothing can answer now.");
    const answers = await Promise.all(workers.map((worker) => worker.ask(command, level)));
    if (resolved.spec.level === "admin") this.changed?.();
    if (chosen !== null) return answers[0]!;
    const parts: ProcessAnswer[] = workers.map((worker, index) => ({ label: `@${worker.number} (pid ${worker.pid})`, answer: answers[index]! }));
    return { kind: "processes", parts };
  }

  /** HAProxy's master CLI selectors: `@N` (relative number), `@!PID`. */
  private select(selector: string): { readonly worker: ApiWorker } | { readonly refusal: Answer } {
    const byPid = selector.startsWith("@!");
    const text = selector.slice(byPid ? 2 : 1);
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    const worker = this.workers().find((candidate) => (byPid ? candidate.pid : candidate.number) === value);
    if (worker === undefined) {
      return { refusal: errorAnswer(`Can't find the process '${selector}': ${byPid ? "no serving worker has that pid" : "no serving worker has that number"}.`) };
    }
    return { worker };
  }
}

/** The runtime API commands in flight on one worker's control channel. */
export class WorkerRequests {
  private readonly channel: ControlChannel;
  private readonly runtime: Pick<Runtime, "setTimer" | "clearTimer">;
  private readonly timeoutMs: number;
  private readonly pending = new Map<number, (answer: Answer) => void>();
  private nextId = 1;

  constructor(channel: ControlChannel, runtime: Pick<Runtime, "setTimer" | "clearTimer">, timeoutMs = WORKER_ANSWER_TIMEOUT_MS) {
    this.channel = channel;
    this.runtime = runtime;
    this.timeoutMs = timeoutMs;
  }

  /** Sends one command; the answer, or an error answer when the worker is gone or silent. */
  ask(words: readonly string[], level: AccessLevel): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = this.runtime.setTimer(this.timeoutMs, () => {
        this.pending.delete(id);
        resolve(errorAnswer(`No answer from the worker within ${this.timeoutMs} ms.`));
      }, true);
      this.pending.set(id, (answer) => {
        this.runtime.clearTimer(timer);
        resolve(answer);
      });
      if (!this.channel.send({ type: "command", id, words: [...words], level })) this.settle(id, errorAnswer("The worker is gone."));
    });
  }

  /** A worker's answer frame arrived. An answer nobody waits for (timed out) is dropped. */
  answered(id: number, answer: Answer): void {
    this.settle(id, answer);
  }

  /** The channel closed: every command in flight gets an error answer. */
  closed(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, errorAnswer("The worker is gone."));
  }

  private settle(id: number, answer: Answer): void {
    const resolve = this.pending.get(id);
    if (resolve === undefined) return;
    this.pending.delete(id);
    resolve(answer);
  }
}
