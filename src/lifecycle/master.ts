/**
 * -W (and `workers` above 1): the master process, which runs the workers, as HAProxy's
 * master-worker mode does.
 *
 * The master reads and validates the configuration, then starts each worker as this same program
 * (`runtime.spawnSelf`) in the runtime's permission jail and hands it the configuration texts over
 * a loopback control channel (control_channel.ts, config_handover.ts): a worker needs no file
 * system. The master serves no traffic; it:
 * - binds every listening address once, as root, and hands the sockets to each generation of
 *   workers (listener_handover.ts): they listen on them, the master never accepts, and a reload
 *   never closes one (where the runtime cannot hand sockets down, the workers bind their own with
 *   SO_REUSEPORT);
 * - pins each worker to its cores (`cpu-map`) right after spawning it;
 * - waits until every worker is listening, then writes the pid file (its own pid), tells -sf/-st
 *   processes to finish and notifies systemd;
 * - passes stop requests on (SIGTERM/SIGINT: SIGTERM to every worker; SIGUSR1: a "finish" frame,
 *   see `finish`) and pause (SIGTTOU: the workers stop listening and the master closes its
 *   sockets, so the addresses are free), and exits once the workers are gone; SIGTTIN binds again
 *   and starts a new generation (a worker cannot adopt a socket it closed);
 * - reloads on SIGUSR2 or SIGHUP: reads the files again; an invalid configuration is logged with
 *   its positions and changes nothing; a valid one gets the sockets it names (new addresses bound
 *   now: a bind error fails the reload) and starts a new generation of workers beside the old one,
 *   and only once all of them listen are the old ones told to finish; a new generation that fails
 *   is stopped and the old one keeps serving;
 * - restarts a worker of the current generation that dies unexpectedly, with a backoff;
 * - listens on the runtime API's sockets (`stats-socket`) and asks the workers of the current
 *   generation each command, answering with what each says (master_runtime_api.ts);
 * - hands each generation the server states to start from (server_state_handover.ts): at start
 *   the -sf/-st process's or the `server-state-file`'s, at a reload those of a serving worker of
 *   the generation it replaces, which it also asks after each change made through the runtime
 *   API (a restarted worker starts from that).
 *
 * @module
 */

import type { StatsSnapshot } from "../stats/snapshot.ts";
import type {
  ChildExit,
  ChildProcess,
  Connection,
  Listener,
  Runtime,
  SignalName,
  TimerHandle,
} from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Config } from "../config/types.ts";
import type { QuickStartOptions } from "../config/quick_start.ts";
import { formatConfigIssue } from "../config/load.ts";
import type { ConfigIssue } from "../config/load.ts";
import type { ProcessOptions } from "./process_options.ts";
import { LifecycleError } from "./errors.ts";
import {
  ControlChannel,
  formatMasterAddress,
  MAX_WORKER_ANSWER_FRAME_BYTES,
  MAX_WORKER_FRAME_BYTES,
  parseWorkerFrame,
  randomToken,
  sameToken,
} from "./control_channel.ts";
import type { Frame } from "./control_channel.ts";
import { certificateFilesRead, configReadIo, newTicketKeys, readConfig } from "./config_handover.ts";
import type { ConfigHandover, ReadConfig, WorkerSetup } from "./config_handover.ts";
import { MASTER_VARIABLE, WORKER_COMMAND } from "./worker_command.ts";
import { verbosityOfArgs } from "./worker_logger.ts";
import { resolveIdentity } from "./privileges.ts";
import { planChroot } from "./chroot.ts";
import { checkCpuMap, coresOfWorker, pinProcess, workerCount } from "./cpu_map.ts";
import { writePidFile } from "./pidfile.ts";
import { bindTakingOver, finishOldProcesses, resumeOldProcesses } from "./handover.ts";
import type { Handover } from "./handover.ts";
import { MasterListeners } from "./listener_handover.ts";
import type { GenerationSockets } from "./listener_handover.ts";
import { chooseJailProbe } from "./jail_check.ts";
import { SystemdNotifier } from "./systemd_notify.ts";
import { describeExit, Generation, restartBackoff, WorkerProcess } from "./worker_generation.ts";
import type { Plan } from "./worker_generation.ts";
import { MasterCommandExecutor, WorkerRequests } from "./master_runtime_api.ts";
import type { ApiWorker } from "./master_runtime_api.ts";
import { RuntimeApiServer } from "../engine/runtime_api_server.ts";
import { askWorker, initialServerState, readServerStateFile } from "./server_state_handover.ts";
import type { HandedServerState } from "./server_state_handover.ts";

/** What the master starts from: the first configuration, and where to read it again on reload. */
export interface MasterStart {
  /** The configuration the CLI read and validated: the first generation runs it. */
  readonly config: Config;
  /** Its warnings, already printed by the CLI. */
  readonly warnings: readonly ConfigIssue[];
  /** The texts of that read, handed to the first generation's workers. */
  readonly handover: ConfigHandover;
  /** The -f files, in order; empty for the quick start. */
  readonly files: readonly string[];
  /** The quick-start flags when there are no files. */
  readonly quickStart: QuickStartOptions | null;
  readonly process: ProcessOptions;
}

/** How long a generation of workers may take to be ready (bind, resolve servers) before it counts as failed. */
export const READY_TIMEOUT_MS = 30_000;
/** How long a connection to the control port may stay silent before saying hello. */
export const HELLO_TIMEOUT_MS = 5_000;
/** Control connections that have not said hello yet, at most: the port is open to the whole machine. */
export const MAX_PENDING_CONTROL_CONNECTIONS = 64;
/** How long workers told to stop now (SIGTERM) get before SIGKILL. */
export const STOP_TIMEOUT_MS = 10_000;
/** Exit code of a master that stopped as asked. */
const EXIT_STOPPED = 0;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The master: its workers, generations, control port and signals. */
class Master {
  private readonly start: MasterStart;
  private readonly runtime: Runtime;
  private readonly logger: Logger;
  private readonly notifier: SystemdNotifier;
  private listener: Listener | null = null;
  /** The runtime API's sockets (`stats-socket`), or null. */
  private api: RuntimeApiServer | null = null;
  /** The listening sockets handed to the workers; null where the runtime cannot (workers bind their own). */
  private readonly listeners: MasterListeners | null;
  private readonly channels = new Set<ControlChannel>();
  /** TLS session ticket keys, made once: every worker of every generation gets the same. */
  private readonly ticketKeys = newTicketKeys();
  private pendingHellos = 0;
  /** Workers that have not said hello yet, by token. */
  private readonly awaitingHello = new Map<string, WorkerProcess>();
  /** Every worker process not yet exited, of every generation. */
  private readonly live = new Set<WorkerProcess>();
  private current: Generation | null = null;
  private generations = 0;
  private stopping: "graceful" | "hard" | null = null;
  private killTimer: TimerHandle | null = null;
  private reloading = false;
  /**
   * SIGTTOU was forwarded and no SIGTTIN or reload since: restarted workers are paused too (with
   * inherited sockets, none is restarted: the master's sockets are closed, SIGTTIN starts new workers).
   */
  private paused = false;
  /** A reload (or a resume: `reread` false) asked for while one was running. */
  private reloadPending: { readonly signal: SignalName; readonly reread: boolean } | null = null;
  private resolveStopRequested!: () => void;
  /** Settles when a stop was asked for. */
  private readonly stopRequested: Promise<void>;
  private resolveStopped!: () => void;
  /** Settles when a stop was asked for and every worker exited. */
  private readonly stopped: Promise<void>;

  constructor(start: MasterStart, runtime: Runtime, logger: Logger) {
    this.start = start;
    this.runtime = runtime;
    this.logger = logger;
    this.notifier = new SystemdNotifier(runtime, logger);
    this.listeners = runtime.info.inheritableSockets ? new MasterListeners(runtime) : null;
    this.stopRequested = new Promise((resolve) => (this.resolveStopRequested = resolve));
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  async run(): Promise<number> {
    const startedAt = this.runtime.now();
    // Handlers first: the default action of SIGUSR2 or SIGHUP would kill a master still starting.
    this.subscribeSignals();
    const plan = await this.plan(this.start);
    this.listener = await this.runtime.listen(
      { host: "127.0.0.1", port: 0, backlog: MAX_PENDING_CONTROL_CONNECTIONS, reusePort: false },
      (connection) => this.accept(connection),
      (error) => this.logger.warn(`Control port: ${error.message}`),
    );
    if (this.listeners === null) {
      this.logger.notice(
        `Workers bind their own listening sockets: ${this.runtime.info.name} cannot hand sockets to them here ` +
          "(a reload then relies on SO_REUSEPORT and net.ipv4.tcp_migrate_req = 1)",
      );
    }
    let generation: Generation | null = null;
    let handover: Handover = { paused: [] };
    // Nothing of the start may outlive its failure: workers, sockets, control port; and the -sf
    // processes paused to free an address listen again.
    const undo = async (error: unknown): Promise<never> => {
      if (generation !== null) await this.stopGeneration(generation);
      await this.closeApi();
      this.listeners?.closeAll();
      resumeOldProcesses(handover.paused, this.runtime, this.logger);
      await this.closeControl();
      throw error;
    };
    try {
      if (this.stopping === null) {
        let sockets: GenerationSockets | null = null;
        if (this.listeners !== null) {
          const listeners = this.listeners;
          // Bound beside the -sf/-st processes, or taking the addresses over from them (handover.ts).
          handover = await bindTakingOver(async () => {
            sockets = await listeners.bindFor(plan.read.config);
          }, this.start.process.finish, this.runtime, this.logger);
        }
        // Asked on the -sf/-st process's socket before ours replaces it.
        const serverState = await initialServerState(plan.read.config.global, this.start.process.finish !== null, this.runtime, this.logger);
        // Before the workers: a socket path in use fails the start before anything runs. A -sf
        // start replaces the old process's socket.
        const statsSockets = plan.read.config.global.statsSockets;
        if (statsSockets.length > 0) {
          const executor = new MasterCommandExecutor(() => this.apiWorkers(), () => this.changedThroughApi());
          this.api = await RuntimeApiServer.open(statsSockets, this.runtime, executor, this.logger, this.start.process.finish !== null);
        }
        generation = this.spawnGeneration(plan, sockets, serverState);
        await this.whenReady(generation);
      }
    } catch (error) {
      await undo(error);
    }
    if (this.stopping === null && generation !== null) {
      this.current = generation;
      try {
        const pidfile = this.start.process.pidfile ?? plan.read.config.global.pidfile;
        if (pidfile !== null) await writePidFile(pidfile, this.runtime);
      } catch (error) {
        await undo(error);
      }
      this.logger.notice(
        `Master (pid ${this.runtime.pid}): ${plural(plan.workers, "worker")} ready in ${
          Math.round(this.runtime.now() - startedAt)
        } ms`,
      );
      this.api?.announce();
      finishOldProcesses(this.start.process.finish, this.runtime, this.logger);
      this.notifier.ready();
      if (this.reloadPending !== null) this.reload(this.reloadPending.signal, this.reloadPending.reread);
    }
    await this.stopped;
    if (this.killTimer !== null) this.runtime.clearTimer(this.killTimer);
    await this.closeApi();
    this.listeners?.closeAll();
    await this.closeControl();
    await this.notifier.flush();
    this.logger.notice(`Master (pid ${this.runtime.pid}) stopped`);
    return EXIT_STOPPED;
  }

  /**
   * Checks everything a generation needs, from `read` or (on reload) from the files read again;
   * throws what is wrong (ConfigFileError with positions...).
   */
  private async plan(read?: ReadConfig): Promise<Plan> {
    const { files, quickStart, process } = this.start;
    read ??= await readConfig(files, quickStart, process.noReusePort, configReadIo(this.runtime));
    const global = read.config.global;
    checkCpuMap(global, this.runtime);
    const workers = workerCount(global, this.runtime);
    const identity = await resolveIdentity(global, this.runtime);
    const chroot = await planChroot(global, this.runtime, "master");
    const setup: Omit<WorkerSetup, "listeners" | "serverState"> = {
      config: read.handover,
      noReusePort: process.noReusePort,
      identity,
      hostname: this.runtime.hostname(),
      jailProbe: await chooseJailProbe(files, this.runtime, certificateFilesRead(read.handover)),
      verbosity: verbosityOfArgs(this.runtime.args()),
      tlsTicketKeys: this.ticketKeys,
    };
    return { read, workers, identity, chroot, setup };
  }

  private subscribeSignals(): void {
    // Subscriptions last as long as the process: see process_signals.ts on why none is removed.
    const runtime = this.runtime;
    runtime.onSignal("SIGTERM", () => this.stop("hard", "SIGTERM"));
    runtime.onSignal("SIGINT", () => this.stop("hard", "SIGINT"));
    runtime.onSignal("SIGUSR1", () => this.stop("graceful", "SIGUSR1"));
    runtime.onSignal("SIGUSR2", () => this.reload("SIGUSR2", true));
    runtime.onSignal("SIGHUP", () => this.reload("SIGHUP", true));
    runtime.onSignal("SIGTTOU", () => this.pause());
    runtime.onSignal("SIGTTIN", () => this.resume());
  }

  private spawnGeneration(plan: Plan, sockets: GenerationSockets | null, serverState: HandedServerState | null): Generation {
    const generation = new Generation(++this.generations, plan, sockets, serverState);
    try {
      for (let number = 1; number <= plan.workers; number++) this.spawnWorker(generation, number);
    } catch (error) {
      // The caller gets no generation to stop: those already started are stopped here.
      for (const worker of generation.live) {
        worker.stopRequested = true;
        worker.kill("SIGTERM", this.runtime);
      }
      throw error;
    }
    return generation;
  }

  private spawnWorker(generation: Generation, number: number): WorkerProcess {
    const runtime = this.runtime;
    const token = randomToken();
    const address = formatMasterAddress({ host: "127.0.0.1", port: this.listener!.address.port, token });
    let child: ChildProcess;
    try {
      child = runtime.spawnSelf([WORKER_COMMAND], {
        env: { [MASTER_VARIABLE]: address },
        jailed: true,
        changesIdentity: generation.plan.identity !== null,
        chroots: generation.plan.chroot !== null,
        ...(generation.sockets === null ? {} : { sockets: generation.sockets.sockets }),
      });
    } catch (error) {
      throw new LifecycleError("LIFECYCLE_WORKER", `Cannot start worker ${number}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const worker = new WorkerProcess(number, generation, token, child, runtime.now());
    generation.slots[number - 1] = worker;
    this.live.add(worker);
    this.awaitingHello.set(token, worker);
    child.exited.then((exit) => this.exited(worker, exit));
    const cores = coresOfWorker(generation.plan.read.config.global.cpuMap, number, runtime.cpuCount());
    try {
      // At once: the threads the worker's runtime starts from now on inherit the set.
      if (cores !== null) pinProcess(runtime, child.pid, cores, this.logger, worker.label);
    } catch (error) {
      // Out of its slot first, so its exit is not taken for a crash to restart.
      generation.slots[number - 1] = null;
      worker.stopRequested = true;
      worker.kill("SIGTERM", runtime);
      throw error;
    }
    this.logger.debug(`${worker.label} started (generation ${generation.id})`);
    return worker;
  }

  /** Resolves once every worker of `generation` is ready, or a stop was asked; rejects on the first failure. */
  private async whenReady(generation: Generation): Promise<void> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.runtime.setTimer(READY_TIMEOUT_MS, () => {
        const late = generation.live.filter((worker) => worker.state === "starting").map((worker) =>
          worker.label
        );
        reject(
          new LifecycleError(
            "LIFECYCLE_WORKER",
            `${late.join(", ")} not ready within ${READY_TIMEOUT_MS} ms`,
          ),
        );
      }, false);
    });
    try {
      await Promise.race([
        Promise.all(generation.slots.map((worker) => worker!.ready)),
        timeout,
        this.stopRequested,
      ]);
    } finally {
      this.runtime.clearTimer(timer);
    }
  }

  /** Stops every worker of `generation` now (SIGTERM, then SIGKILL after a bound) and waits for them. */
  private async stopGeneration(generation: Generation): Promise<void> {
    for (const timer of generation.restarts.values()) this.runtime.clearTimer(timer);
    generation.restarts.clear();
    const workers = generation.live;
    for (const worker of workers) {
      worker.stopRequested = true;
      worker.kill("SIGTERM", this.runtime);
    }
    const exits = Promise.all(workers.map((worker) => worker.child.exited));
    let timer: TimerHandle | undefined;
    const late = await Promise.race([
      exits.then(() => false),
      new Promise<boolean>((
        resolve,
      ) => (timer = this.runtime.setTimer(STOP_TIMEOUT_MS, () => resolve(true), false))),
    ]);
    this.runtime.clearTimer(timer);
    if (late) {
      for (const worker of generation.live) {
        this.logger.warn(`${worker.label} did not stop within ${STOP_TIMEOUT_MS} ms: killing it`);
        worker.kill("SIGKILL", this.runtime);
      }
      await exits;
    }
  }

  private accept(connection: Connection): void {
    if (this.pendingHellos >= MAX_PENDING_CONTROL_CONNECTIONS || this.listener === null) {
      connection.destroy();
      return;
    }
    this.pendingHellos++;
    let worker: WorkerProcess | null = null;
    let greeted = false;
    const greet = () => {
      if (greeted) return;
      greeted = true;
      this.pendingHellos--;
      this.runtime.clearTimer(timer);
    };
    const channel = new ControlChannel(MAX_WORKER_FRAME_BYTES, {
      onFrame: (frame) => {
        worker = this.onFrame(worker, channel, frame);
        greet();
      },
      onClose: (reason) => {
        greet();
        this.channels.delete(channel);
        worker?.requests?.closed();
        if (worker !== null && reason !== undefined && worker.state !== "exited") {
          this.logger.debug(`${worker.label}: control channel closed: ${reason}`);
        }
      },
    });
    const timer = this.runtime.setTimer(HELLO_TIMEOUT_MS, () => channel.destroy("no hello"), true);
    this.channels.add(channel);
    channel.attach(connection);
  }

  /** Handles one frame of a control connection; returns the worker it belongs to. Throws to hang up. */
  private onFrame(worker: WorkerProcess | null, channel: ControlChannel, raw: Frame): WorkerProcess {
    const frame = parseWorkerFrame(raw);
    if (worker === null) {
      if (frame.type !== "hello") {
        throw new LifecycleError("LIFECYCLE_WORKER", `Control connection spoke before hello`);
      }
      // Compared in constant time, not looked up: the port is open to every local user.
      const owner = [...this.awaitingHello.values()].find((candidate) =>
        sameToken(candidate.token, frame.token)
      );
      if (owner === undefined) {
        throw new LifecycleError("LIFECYCLE_WORKER", "Control connection with an unknown token");
      }
      this.awaitingHello.delete(owner.token);
      owner.channel = channel;
      // A worker that proved its token may answer the runtime API at length.
      channel.allowFrames(MAX_WORKER_ANSWER_FRAME_BYTES);
      owner.requests = new WorkerRequests(channel, this.runtime);
      channel.send({
        type: "setup",
        worker: owner.number,
        generation: owner.generation.id,
        setup: owner.generation.setupOf(owner),
      });
      return owner;
    }
    if (frame.type === "answer") {
      worker.requests?.answered(frame.id, frame.answer);
    } else if (frame.type === "stats") {
      this.shareStats(worker, frame.snapshot);
    } else if (frame.type === "ready") {
      worker.markReady(this.runtime.now());
      const restarted = this.current === worker.generation;
      this.logger.info(
        `${worker.label} ready in ${Math.round(worker.readyAt - worker.spawnedAt)} ms${
          restarted ? " (restarted)" : ""
        }`,
      );
      if (restarted && this.paused) worker.kill("SIGTTOU", this.runtime);
    } else if (frame.type === "failed") {
      worker.markFailed(frame.message);
      // A restarted worker's failure has nobody waiting for it: say it here.
      if (this.current === worker.generation) {
        this.logger.error(`${worker.label} could not start: ${frame.message}`);
      }
    } else {
      throw new LifecycleError("LIFECYCLE_WORKER", `${worker.label} said hello twice`);
    }
    return worker;
  }

  /** Passes a worker's counters to the other ready workers of its generation (src/engine/peer_stats.ts). */
  private shareStats(from: WorkerProcess, snapshot: StatsSnapshot): void {
    for (const peer of from.generation.slots) {
      if (peer === null || peer === from || peer.state !== "ready" || peer.channel === null) continue;
      peer.channel.send({ type: "peer-stats", worker: from.number, snapshot });
    }
  }

  private exited(worker: WorkerProcess, exit: ChildExit): void {
    const wasReady = worker.state === "ready";
    worker.state = "exited";
    this.live.delete(worker);
    this.awaitingHello.delete(worker.token);
    worker.channel?.destroy(undefined);
    if (!wasReady) worker.markFailed(`exited ${describeExit(exit)} before it was ready`);
    const generation = worker.generation;
    const expected = this.stopping !== null || worker.stopRequested || generation !== this.current ||
      generation.slots[worker.number - 1] !== worker;
    if (expected) {
      // Told to stop, it exits 0; anything else (a crash while finishing) is worth a warning.
      if (exit.code === 0) this.logger.info(`${worker.label} exited ${describeExit(exit)}`);
      else this.logger.warn(`${worker.label} exited ${describeExit(exit)}`);
    } else {
      const uptime = wasReady ? this.runtime.now() - worker.readyAt : 0;
      this.scheduleRestart(generation, worker.number, `${worker.label} exited ${describeExit(exit)}`, uptime);
    }
    if (this.stopping !== null && this.live.size === 0) this.resolveStopped();
  }

  /** Restarts worker `number` of `generation` after its backoff delay; `what` says what happened. */
  private scheduleRestart(generation: Generation, number: number, what: string, uptime: number): void {
    const { delay, next } = restartBackoff(generation.delays.get(number), uptime);
    generation.delays.set(number, next);
    generation.slots[number - 1] = null;
    this.logger.alert(`${what}: restarting in ${delay} ms`);
    // The restarted worker starts from its siblings' server states, when one is serving.
    void this.refreshState(generation);
    generation.restarts.set(
      number,
      this.runtime.setTimer(delay, () => {
        generation.restarts.delete(number);
        if (this.stopping !== null || this.current !== generation) return;
        if (this.paused && this.listeners !== null) {
          this.logger.notice(`Worker ${number} is not restarted while paused: SIGTTIN starts new workers`);
          return;
        }
        try {
          this.spawnWorker(generation, number);
        } catch (error) {
          this.scheduleRestart(generation, number, errorMessage(error), 0);
        }
      }, false),
    );
  }

  private stop(mode: "graceful" | "hard", signal: SignalName): void {
    if (this.stopping === "hard" || this.stopping === mode) return;
    const first = this.stopping === null;
    this.stopping = mode;
    if (first) this.notifier.stopping();
    if (this.current !== null) {
      for (const timer of this.current.restarts.values()) this.runtime.clearTimer(timer);
      this.current.restarts.clear();
    }
    const workers = [...this.live];
    this.logger.notice(
      mode === "hard"
        ? `${signal} received: stopping ${plural(workers.length, "worker")} now`
        : `${signal} received: ${
          plural(workers.length, "worker")
        } finish their sessions, then the master exits`,
    );
    for (const worker of workers) {
      if (mode === "hard") {
        worker.stopRequested = true;
        worker.kill("SIGTERM", this.runtime);
      } else {
        this.finish(worker);
      }
    }
    this.resolveStopRequested();
    // The runtime API closes with the listeners, as a standalone process's does.
    void this.closeApi();
    if (mode === "hard") {
      this.killTimer = this.runtime.setTimer(STOP_TIMEOUT_MS, () => {
        for (const worker of this.live) {
          this.logger.warn(`${worker.label} did not stop within ${STOP_TIMEOUT_MS} ms: killing it`);
          worker.kill("SIGKILL", this.runtime);
        }
      }, true);
    }
    if (this.live.size === 0) this.resolveStopped();
  }

  private forwardToCurrent(signal: "SIGTTOU" | "SIGTTIN", what: string): void {
    if (this.stopping !== null || this.current === null) return;
    this.paused = signal === "SIGTTOU";
    // Only to workers that serve: a worker still starting has no handler yet, and SIGTTOU's default
    // action would suspend it. A restarted worker is paused once ready (see onFrame).
    const workers = this.current.live.filter((worker) => !worker.stopRequested && worker.state === "ready");
    if (workers.length === 0) return;
    this.logger.notice(`${signal} received: ${plural(workers.length, "worker")} ${what}`);
    for (const worker of workers) worker.kill(signal, this.runtime);
  }

  /**
   * SIGTTOU: the workers stop listening (and keep serving their sessions). With inherited sockets
   * the master closes its own too, so that once the workers have closed theirs nobody holds them:
   * the addresses are free (what a -sf process that cannot share them waits for) and new
   * connections are refused, as with a standalone process.
   */
  private pause(): void {
    if (this.stopping !== null || this.current === null) return;
    if (this.listeners !== null && this.reloading) {
      // The generation starting holds the sockets the master would close: it would serve on them
      // paused or not, and the master could not restart its workers.
      this.logger.notice("SIGTTOU received: ignored while a reload runs; send it again once the reload is done");
      return;
    }
    this.forwardToCurrent("SIGTTOU", "stop listening");
    if (this.listeners !== null && this.listeners.size > 0) {
      this.listeners.closeAll();
      this.logger.notice("SIGTTOU received: the master closed its listening sockets");
    }
  }

  /**
   * SIGTTIN: the workers listen again. With inherited sockets they cannot (a closed descriptor is
   * gone): the master binds again and starts a new generation, as a reload with the configuration
   * it runs, and the paused workers finish their sessions.
   */
  private resume(): void {
    if (this.listeners === null) {
      this.forwardToCurrent("SIGTTIN", "listen again");
      return;
    }
    if (this.stopping !== null || this.current === null) return;
    if (!this.paused) {
      this.logger.notice("SIGTTIN received: already listening");
      return;
    }
    this.reload("SIGTTIN", false);
  }

  /**
   * SIGUSR2/SIGHUP (`reread`): a new generation from the files read again, or the old one kept.
   * SIGTTIN while paused (not `reread`): a new generation from the configuration it runs.
   */
  private reload(signal: SignalName, reread: boolean): void {
    if (this.stopping !== null) return;
    if (this.reloading || this.current === null) {
      // One more reload after this one (or after the start) reads the files as they are by then; a
      // resume asked meanwhile is one if nothing else is.
      if (reread || this.reloadPending === null) this.reloadPending = { signal, reread };
      this.logger.notice(
        `${signal} received: ${reread ? "reloading" : "listening again"} once the ${
          this.reloading ? "current reload" : "start"
        } is done`,
      );
      return;
    }
    this.reloading = true;
    this.reloadPending = null;
    this.notifier.reloading();
    this.logger.notice(
      reread
        ? `${signal} received: reloading the configuration`
        : `${signal} received: binding again and starting new workers`,
    );
    this.runReload(reread).finally(() => {
      this.reloading = false;
      if (this.stopping !== null) return;
      this.notifier.ready();
      const pending = this.reloadPending;
      // A resume that a reload made needless is dropped.
      if (pending !== null && (pending.reread || this.paused)) this.reload(pending.signal, pending.reread);
      else this.reloadPending = null;
    });
  }

  private async runReload(reread: boolean): Promise<void> {
    const startedAt = this.runtime.now();
    let generation: Generation | null = null;
    const old = this.current!;
    try {
      const plan = reread ? await this.plan() : old.plan;
      if (reread) for (const warning of plan.read.warnings) this.logger.warn(formatConfigIssue(warning));
      if (reread && JSON.stringify(plan.read.config.global.statsSockets) !== JSON.stringify(old.plan.read.config.global.statsSockets)) {
        this.logger.warn("stats-socket changed: the master keeps the runtime API's sockets it opened at start until it is restarted");
      }
      if (this.stopping !== null) return;
      // New addresses are bound before anything starts: a bind error fails the reload here.
      const sockets = this.listeners === null ? null : await this.listeners.bindFor(plan.read.config);
      if (this.stopping !== null) return;
      const serverState = await this.reloadState(old, plan);
      if (this.stopping !== null) return;
      generation = this.spawnGeneration(plan, sockets, serverState);
      await this.whenReady(generation);
      if (this.stopping !== null) return;
      this.current = generation;
      // The new generation listens: a pause does not survive a reload.
      this.paused = false;
      const finishing = this.retire(old);
      // Told to finish, the old workers close their copies at once; the addresses the new
      // configuration dropped close with the master's.
      this.listeners?.keepOnly([generation.sockets]);
      this.logger.notice(
        `${reread ? "Reload" : "Resume"} done: ${plural(plan.workers, "worker")} of generation ${generation.id} ready in ` +
          `${Math.round(this.runtime.now() - startedAt)} ms, ${
            plural(finishing, "worker")
          } of generation ${old.id} finishing`,
      );
    } catch (error) {
      this.logger.error(
        `${reread ? "Reload" : "Resume"} failed, the running workers keep serving: ${errorMessage(error)}`,
      );
      if (generation !== null) await this.stopGeneration(generation);
    } finally {
      // Sockets bound for a generation that did not take over are closed; a stop closes them all.
      if (this.current === old && this.stopping === null) this.listeners?.keepOnly([old.sockets]);
    }
  }

  /** Tells a replaced generation to finish its sessions; returns how many workers it has. */
  private retire(generation: Generation): number {
    for (const timer of generation.restarts.values()) this.runtime.clearTimer(timer);
    generation.restarts.clear();
    const workers = generation.live;
    for (const worker of workers) this.finish(worker);
    return workers.length;
  }

  /**
   * Tells a worker to finish its sessions and exit, over its control channel rather than with
   * SIGUSR1: Node's permission model swallows SIGUSR1 (the inspector's signal), so a jailed Node
   * worker never sees it. A worker not serving yet has nothing to finish: it is stopped.
   */
  private finish(worker: WorkerProcess): void {
    worker.stopRequested = true;
    if (worker.state === "ready" && worker.channel !== null && worker.channel.send({ type: "finish" })) {
      return;
    }
    worker.kill("SIGTERM", this.runtime);
  }

  /** The workers the runtime API asks: the current generation's, serving, in number order. */
  private apiWorkers(): ApiWorker[] {
    if (this.stopping !== null || this.current === null) return [];
    return this.current.live
      .filter((worker) => worker.state === "ready" && !worker.stopRequested && worker.requests !== null)
      .sort((a, b) => a.number - b.number)
      .map((worker) => ({
        number: worker.number,
        pid: worker.child.pid,
        ask: (words, level) => worker.requests!.ask(words, level),
      }));
  }

  /**
   * The server states a reload's new generation starts from: a serving worker of `old`'s (every
   * change through the runtime API reached all of them, so any one has the admin states), else
   * those the master last saw, else the `server-state-file`'s.
   */
  private async reloadState(old: Generation, plan: Plan): Promise<HandedServerState | null> {
    const live = await this.refreshState(old);
    if (live !== null) return live;
    const seen = old.serverState;
    if (seen !== null) {
      this.logger.warn(`Starting generation ${this.generations + 1} from the server state of ${seen.source}, the last the master saw`);
      return seen;
    }
    const file = plan.read.config.global.serverStateFile;
    return file === null ? null : await readServerStateFile(file, this.runtime, this.logger);
  }

  /** Asks the first serving worker of `generation` for its server states and keeps them; null when none answers. */
  private async refreshState(generation: Generation): Promise<HandedServerState | null> {
    const worker = generation.live
      .filter((candidate) => candidate.state === "ready" && !candidate.stopRequested && candidate.requests !== null)
      .sort((a, b) => a.number - b.number)[0];
    if (worker === undefined) return null;
    const asked = { number: worker.number, pid: worker.child.pid, ask: worker.requests!.ask.bind(worker.requests!) };
    const state = await askWorker(asked, generation.id, this.runtime, this.logger);
    if (state !== null) generation.serverState = state;
    return state;
  }

  /** A change went through the runtime API: the master keeps the states it made, for a worker restarted later. */
  private changedThroughApi(): void {
    if (this.stopping === null && this.current !== null) void this.refreshState(this.current);
  }

  private async closeApi(): Promise<void> {
    const api = this.api;
    this.api = null;
    await api?.close();
  }

  private async closeControl(): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    for (const channel of this.channels) channel.destroy(undefined);
    this.channels.clear();
    await listener?.close();
  }
}

/** Runs the master until it is stopped; returns the exit code. */
export function runMaster(start: MasterStart, runtime: Runtime, logger: Logger): Promise<number> {
  return new Master(start, runtime, logger).run();
}
