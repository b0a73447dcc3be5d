/**
 * A backend: its servers, the balancers over them, its queues, its retry policy, and what happens
 * when a server goes down or comes back.
 *
 * Slots and queues follow HAProxy (queue.c, backend.c): a request takes a slot on a server with
 * room (below its maxconn, nobody queued on it); when every usable server is full it waits in the
 * backend's queue, or, when the algorithm had to pick one server (hashing), in that server's own
 * queue up to `maxqueue`. A freed slot goes to the oldest request waiting either in its server's
 * queue or in the backend's. Backup servers serve only while no active server is usable (up, not
 * in maintenance or drain, weight above 0), so full actives make requests queue rather than spill
 * over to the backups; with no usable server at all a request is refused at once (503), and so
 * are the requests still queued when the last server goes down.
 *
 * @module
 */

import type {
  BalanceAlgorithmName,
  BalanceContext,
  BalanceHashKeyConfig,
  Balancer,
} from "./balance/types.ts";
import { createBalancer, keepsAffinity } from "./balance/mod.ts";
import type { Logger } from "./logger.ts";
import { SILENT_LOGGER } from "./logger.ts";
import { Server } from "./server.ts";
import type { ServerSpec } from "./server.ts";
import { SLOT_FREE, SLOT_HOLDING, SLOT_WAITING, SlotQueue } from "./server_slot.ts";
import type { ServerSlot, ShutdownCause } from "./server_slot.ts";
import type { TimerWheel, WheelTimer } from "./timer_wheel.ts";
import { TrafficCounters } from "./counters.ts";

/** What a backend is made from (resolved addresses, validated values). */
export interface BackendSpec {
  readonly name: string;
  readonly balance: BalanceAlgorithmName;
  /** What `uri` and `hdr` hash; required for them, ignored by the others (default null). */
  readonly hashKey?: BalanceHashKeyConfig | null;
  readonly retries: number;
  readonly redispatch: boolean;
  readonly allBackups: boolean;
  readonly connectTimeout: number;
  readonly serverTimeout: number;
  /** Idle timeout of an established tcp session; 0: min(client, server) applies. */
  readonly tunnelTimeout: number;
  /** Longest wait in a queue before a 503, ms; 0: no limit (default: connectTimeout, as HAProxy). */
  readonly queueTimeout?: number;
  readonly servers: readonly ServerSpec[];
}

/** What a backend needs from the process: messages, and a clock for slow starts. */
export interface BackendServices {
  readonly logger: Logger;
  /** Drives slow starts; null: servers come back at full weight at once. */
  readonly wheel: TimerWheel | null;
}

/** Turn-around delay before retrying the same server, as HAProxy: min(timeout connect, 1 s). */
export const RETRY_TURNAROUND_MAX_MS = 1_000;

/** A slow start ramps in this many steps, as HAProxy's (which steps at most every second). */
export const SLOWSTART_STEPS = 20;
/** Shortest time between two steps of a slow start: the timer wheel's default tick. */
export const SLOWSTART_MIN_STEP_MS = 100;

/** {@link Backend.takeSlot}: the slot is held on `slot.server`. */
export const SLOT_TAKEN = 0;
/** {@link Backend.takeSlot}: the request waits in a queue; `slotGranted` or `slotRefused` follows. */
export const SLOT_QUEUED = 1;
/** {@link Backend.takeSlot}: no server can take the request (none usable, or its server's queue is full). */
export const SLOT_NONE = 2;

/** A pool of servers behind one balancing algorithm. */
export class Backend {
  readonly name: string;
  readonly servers: readonly Server[];
  readonly retries: number;
  readonly redispatch: boolean;
  readonly connectTimeout: number;
  readonly serverTimeout: number;
  readonly tunnelTimeout: number;
  readonly queueTimeout: number;
  /** Requests that may go to any server, waiting for a slot. */
  readonly queue = new SlotQueue();
  /** Sessions (http: requests) currently using this backend. */
  activeConnections = 0;
  totalConnections = 0;
  /** Requests that left a queue with a 503 (timeout, or no server left). */
  queueFailures = 0;
  /** Active servers usable now. */
  usableActive = 0;
  /** Backup servers usable now. */
  usableBackup = 0;
  /** Traffic counters for the stats (see counters.ts). */
  readonly counters = new TrafficCounters();
  /** When the backend last went from having a usable server to none or back, monotonic ms [lastchg]. */
  lastChangeAt = 0;
  /** Time without a usable server, ms, over the periods that ended [downtime]. */
  downtimeEnded = 0;
  /** When the current period without a usable server began, monotonic ms; -1 while one is usable. */
  downSince = -1;
  private readonly activeBalancer: Balancer;
  private readonly backupBalancer: Balancer | null;
  private readonly backupServers: readonly Server[];
  private readonly allBackups: boolean;
  /** The algorithm ties requests to a server (hashing): retries stay on it until the last. */
  private readonly affinity: boolean;
  private readonly logger: Logger;
  private readonly wheel: TimerWheel | null;
  private readonly rampTimers = new Map<Server, WheelTimer>();
  private readonly rampStarts = new Map<Server, number>();

  constructor(spec: BackendSpec, services: BackendServices = { logger: SILENT_LOGGER, wheel: null }) {
    this.name = spec.name;
    this.retries = spec.retries;
    this.redispatch = spec.redispatch;
    this.connectTimeout = spec.connectTimeout;
    this.serverTimeout = spec.serverTimeout;
    this.tunnelTimeout = spec.tunnelTimeout;
    this.queueTimeout = spec.queueTimeout ?? spec.connectTimeout;
    this.allBackups = spec.allBackups;
    this.affinity = keepsAffinity(spec.balance);
    this.logger = services.logger;
    this.wheel = services.wheel;
    this.servers = spec.servers.map((serverSpec, index) => new Server(serverSpec, index));
    const active = this.servers.filter((server) => !server.backup);
    this.backupServers = this.servers.filter((server) => server.backup);
    const hashKey = spec.hashKey ?? null;
    this.activeBalancer = createBalancer(spec.balance, active, undefined, hashKey);
    this.backupBalancer = this.backupServers.length > 0
      ? createBalancer(spec.balance, this.backupServers, undefined, hashKey)
      : null;
    this.countUsable();
    const now = this.now();
    for (const server of this.servers) server.stateChanged(now);
    this.lastChangeAt = now;
    if (this.usableActive + this.usableBackup === 0) this.downSince = now;
  }

  /** The monotonic clock of the stats (the timer wheel's coarse time; 0 without one, in unit tests). */
  now(): number {
    return this.wheel === null ? 0 : this.wheel.now;
  }

  /** A session (http: a request) starts using this backend. */
  sessionStarted(): void {
    this.activeConnections++;
    this.totalConnections++;
    this.counters.sessionStarted(this.activeConnections, this.now());
  }

  /** Time without a usable server up to `nowMs`, ms [downtime]. */
  downtime(nowMs: number): number {
    return this.downtimeEnded + (this.downSince >= 0 ? nowMs - this.downSince : 0);
  }

  /**
   * Picks a server for a new request, or null when none can take it now. Backup servers are used
   * only when no active server is usable: the first usable one, or all of them with `allBackups`.
   */
  pickServer(context: BalanceContext, avoid: Server | null): Server | null {
    if (this.usableActive > 0 || this.backupBalancer === null) return this.activeBalancer.pick(context, avoid);
    if (this.allBackups) return this.backupBalancer.pick(context, avoid);
    const first = this.firstUsableBackup();
    return first !== null && first.isAvailable() ? first : null;
  }

  /**
   * Finds a slot for `slot`'s request: held at once ({@link SLOT_TAKEN}, `slot.server` is set),
   * queued ({@link SLOT_QUEUED}), or refused ({@link SLOT_NONE}).
   */
  takeSlot(slot: ServerSlot, now: number): number {
    const server = this.pickServer(slot.user, null);
    if (server === null) {
      if (this.usableActive === 0 && this.usableBackup === 0) return SLOT_NONE;
      this.enqueue(slot, this.queue, null, now);
      return SLOT_QUEUED;
    }
    if (server.hasFreeSlot()) {
      this.hold(slot, server);
      return SLOT_TAKEN;
    }
    // Picked although full: a hashing algorithm's server, or leastconn's with room in its queue.
    if (!server.queueHasRoom()) return SLOT_NONE;
    this.enqueue(slot, server.queue, server, now);
    return SLOT_QUEUED;
  }

  /** Gives up a held slot; the oldest request waiting for this server (or any) gets it. */
  releaseSlot(slot: ServerSlot): void {
    const server = slot.server;
    if (slot.state !== SLOT_HOLDING || server === null) return;
    server.holders.remove(slot);
    server.activeConnections--;
    slot.state = SLOT_FREE;
    slot.server = null;
    this.dequeueTo(server);
  }

  /** Takes a request out of its queue (timeout, client gone). */
  cancelWait(slot: ServerSlot): void {
    if (slot.state !== SLOT_WAITING) return;
    slot.queue!.remove(slot);
    slot.state = SLOT_FREE;
    slot.queue = null;
    slot.server = null;
  }

  /**
   * Moves a held slot to `to` (a redispatch after a failed connection): `to` was picked
   * available, so it has room; the old server's slot goes to whoever waits for it.
   */
  moveSlot(slot: ServerSlot, to: Server): void {
    const from = slot.server;
    if (from !== null && slot.state === SLOT_HOLDING) {
      from.holders.remove(slot);
      from.activeConnections--;
    }
    slot.state = SLOT_FREE;
    this.hold(slot, to);
    if (from !== null) this.dequeueTo(from);
  }

  /** Recounts usable servers and tells the balancers that weights or states changed. */
  serversChanged(): void {
    this.countUsable();
    this.activeBalancer.update();
    this.backupBalancer?.update();
  }

  /** Finds a server by name. */
  server(name: string): Server | undefined {
    return this.servers.find((server) => server.name === name);
  }

  /**
   * After a failed connection attempt, the server the next attempt goes to instead of `failed`,
   * or null to retry `failed`. HAProxy 2.6's rule with `option redispatch`
   * (stream_choose_redispatch): a failure says nothing about the other servers, so every retry
   * goes to another server when the algorithm has no reason to insist on this one (HAProxy: its
   * round-robin kind with more than one active server; here every algorithm but the hashing
   * ones, see {@link keepsAffinity}); with a hashing algorithm, only the last retry (`retriesLeft`
   * is 0 once it is counted) or a retry from a server that went down meanwhile goes elsewhere.
   * The other server must have a free slot, else the same one is retried.
   */
  redispatchTarget(context: BalanceContext, failed: Server, retriesLeft: number): Server | null {
    if (!this.redispatch) return null;
    if (this.affinity && retriesLeft !== 0 && failed.isUsable()) return null;
    const other = this.pickServer(context, failed);
    return other !== null && other !== failed && other.hasFreeSlot() ? other : null;
  }

  /**
   * Where a retry goes once its turn-around delay is over: `server` again, unless it was marked
   * down meanwhile and another server has room (with `redispatch`).
   */
  retryTarget(context: BalanceContext, server: Server): Server {
    if (!this.redispatch || server.isUsable()) return server;
    const other = this.pickServer(context, server);
    return other !== null && other !== server && other.hasFreeSlot() ? other : server;
  }

  /**
   * After a failed attempt on the slot's server: moves the slot to the server the next attempt
   * goes to at once and returns it, or returns null to retry the same one after the turn-around
   * (see {@link redispatchTarget}).
   */
  redispatchSlot(slot: ServerSlot, retriesLeft: number): Server | null {
    const other = this.redispatchTarget(slot.user, slot.server!, retriesLeft);
    if (other !== null) this.moveSlot(slot, other);
    return other;
  }

  /** Once a turn-around is over: moves the slot away from a server marked down meanwhile (see {@link retryTarget}). */
  retargetSlot(slot: ServerSlot): void {
    const next = this.retryTarget(slot.user, slot.server!);
    if (next !== slot.server) this.moveSlot(slot, next);
  }

  /** A queued request waited longer than `timeout queue`: it leaves the queue and counts as a queue failure. */
  queueTimedOut(slot: ServerSlot): void {
    this.cancelWait(slot);
    this.queueFailures++;
  }

  /**
   * Delay before retrying the same server after a failed connection attempt: HAProxy's
   * turn-around, min(timeout connect, 1 s), after an error (a refused connection would most
   * likely be refused again at once); none after `timeout connect` expired, which already waited
   * (HAProxy 2.6 back_handle_st_cer: only an error, SE_FL_ERROR, sets the turn-around timer).
   * A retry on another server never waits: see {@link redispatchTarget}.
   */
  retryTurnaround(timedOut: boolean): number {
    if (timedOut) return 0;
    return this.connectTimeout > 0 ? Math.min(this.connectTimeout, RETRY_TURNAROUND_MAX_MS) : RETRY_TURNAROUND_MAX_MS;
  }

  // ---- state changes ----

  /**
   * Marks `server` down (health checks or traffic): its queued requests go elsewhere, and with
   * `shutdownSessions` its sessions are closed. `why` ends the message ("reason: ...").
   */
  markDown(server: Server, why: string, shutdownSessions: boolean): void {
    if (!server.up) return;
    server.up = false;
    server.refusedInRow = 0;
    server.downTransitions++;
    server.stateChanged(this.now());
    this.stopRamp(server);
    const active = server.activeConnections;
    const requeued = this.serverLeft(server);
    if (shutdownSessions) this.shutdownSessions(server, "D");
    this.logger.alert(
      `Server "${this.name}/${server.name}" is DOWN, ${why}. ${this.usableActive} active and ${this.usableBackup} backup servers left. ` +
        `${active} sessions active, ${requeued} requeued, ${this.queue.length} remaining in queue.`,
    );
    this.reportIfEmpty();
  }

  /** Marks `server` up again; with `shutdownBackupSessions` (an active server) the backups' sessions are closed. */
  markUp(server: Server, why: string, shutdownBackupSessions: boolean): void {
    if (server.up) return;
    server.up = true;
    server.stateChanged(this.now());
    this.serverReturned(server);
    if (shutdownBackupSessions && !server.backup) {
      for (const backup of this.backupServers) this.shutdownSessions(backup, "U");
    }
    this.logger.notice(
      `Server "${this.name}/${server.name}" is UP, ${why}. ${this.usableActive} active and ${this.usableBackup} backup servers online. ` +
        `${this.queue.length} total in queue.`,
    );
  }

  /** Puts `server` in maintenance (no traffic, no checks) or takes it out. */
  setMaintenance(server: Server, on: boolean): void {
    if (server.maintenance === on) return;
    server.maintenance = on;
    server.stateChanged(this.now());
    if (on) {
      this.stopRamp(server);
      const requeued = this.serverLeft(server);
      this.logger.notice(`Server "${this.name}/${server.name}" is going DOWN for maintenance. ${requeued} requeued.`);
      this.reportIfEmpty();
    } else {
      this.serverReturned(server);
      this.logger.notice(`Server "${this.name}/${server.name}" is leaving maintenance: ${server.describeState()}.`);
    }
  }

  /** Drains `server` (no new traffic, sessions finish) or stops draining it. */
  setDrain(server: Server, on: boolean): void {
    if (server.draining === on) return;
    server.draining = on;
    server.stateChanged(this.now());
    if (on) {
      this.serverLeft(server);
      this.logger.notice(`Server "${this.name}/${server.name}" is entering DRAIN.`);
      this.reportIfEmpty();
    } else {
      this.serversChanged();
      this.dequeueTo(server);
      this.logger.notice(`Server "${this.name}/${server.name}" is leaving DRAIN.`);
    }
  }

  /** Stops the slow-start timers (the proxy is closing). */
  close(): void {
    for (const timer of this.rampTimers.values()) timer.disarm();
  }

  // ---- private ----

  private countUsable(): void {
    let active = 0;
    let backup = 0;
    for (const server of this.servers) {
      if (!server.isUsable()) continue;
      if (server.backup) backup++;
      else active++;
    }
    const wasUsable = this.usableActive + this.usableBackup > 0;
    this.usableActive = active;
    this.usableBackup = backup;
    const usable = active + backup > 0;
    if (usable === wasUsable) return;
    const now = this.now();
    this.lastChangeAt = now;
    if (!usable) this.downSince = now;
    else if (this.downSince >= 0) {
      this.downtimeEnded += now - this.downSince;
      this.downSince = -1;
    }
  }

  private firstUsableBackup(): Server | null {
    for (const server of this.backupServers) if (server.isUsable()) return server;
    return null;
  }

  private hold(slot: ServerSlot, server: Server): void {
    slot.state = SLOT_HOLDING;
    slot.server = server;
    slot.queue = null;
    server.holders.push(slot);
    server.activeConnections++;
    server.totalConnections++;
    server.counters.sessionStarted(server.activeConnections, this.now());
  }

  private enqueue(slot: ServerSlot, queue: SlotQueue, server: Server | null, now: number): void {
    slot.state = SLOT_WAITING;
    slot.server = server;
    slot.queue = queue;
    slot.queuedAt = now;
    queue.push(slot);
    (server === null ? this.counters : server.counters).queued(queue.length);
  }

  /** Whether requests from the backend's queue may go to `server` (backups only while no active is usable). */
  private servesBackendQueue(server: Server): boolean {
    if (!server.isUsable()) return false;
    if (!server.backup) return true;
    return this.usableActive === 0 && (this.allBackups || this.firstUsableBackup() === server);
  }

  /** Hands `server`'s free slots to the requests waiting for them, oldest first. */
  private dequeueTo(server: Server): void {
    // The common case, once per request: nobody waits anywhere.
    if (server.queue.length === 0 && this.queue.length === 0) return;
    for (;;) {
      if (!server.isUsable()) return;
      if (server.maxconn !== 0 && server.activeConnections >= server.dynamicMaxconn()) return;
      const own = server.queue.first;
      const shared = this.servesBackendQueue(server) ? this.queue.first : null;
      let next: ServerSlot;
      if (own === null) {
        if (shared === null) return;
        next = shared;
      } else {
        next = shared !== null && shared.queuedAt < own.queuedAt ? shared : own;
      }
      next.queue!.remove(next);
      this.hold(next, server);
      next.user.slotGranted(server);
    }
  }

  /** A server stopped taking traffic: balancers learn it, its queue is dispatched again. Returns the requests moved. */
  private serverLeft(server: Server): number {
    this.serversChanged();
    const waiting = server.queue.toArray();
    for (const slot of waiting) {
      server.queue.remove(slot);
      slot.state = SLOT_FREE;
      slot.queue = null;
      slot.server = null;
      this.redispatchWaiting(slot);
    }
    if (this.usableActive === 0 && this.usableBackup === 0) {
      // Nobody left to serve them: they get their 503 now rather than at their queue timeout.
      for (let slot = this.queue.shift(); slot !== null; slot = this.queue.shift()) {
        slot.state = SLOT_FREE;
        slot.queue = null;
        this.queueFailures++;
        slot.user.slotRefused();
      }
    } else {
      // A backup may have become eligible for the backend's queue.
      for (const other of this.servers) if (other !== server && other.backup) this.dequeueTo(other);
    }
    return waiting.length;
  }

  private redispatchWaiting(slot: ServerSlot): void {
    const queuedAt = slot.queuedAt;
    const outcome = this.takeSlot(slot, queuedAt);
    if (outcome === SLOT_TAKEN) slot.user.slotGranted(slot.server!);
    else if (outcome === SLOT_NONE) {
      this.queueFailures++;
      slot.user.slotRefused();
    }
  }

  /** A server takes traffic again: slow start, balancers, and the queued requests it can take. */
  private serverReturned(server: Server): void {
    // Refusals met while it was out (attempts already under way) say nothing about it now.
    server.refusedInRow = 0;
    this.startRamp(server);
    this.serversChanged();
    this.dequeueTo(server);
  }

  private shutdownSessions(server: Server, cause: ShutdownCause): void {
    for (const slot of server.holders.toArray()) slot.user.shutdownByServer(cause);
  }

  private reportIfEmpty(): void {
    if (this.usableActive === 0 && this.usableBackup === 0) this.logger.emerg(`Backend "${this.name}" has no server available!`);
  }

  private get dynamicWeights(): boolean {
    return this.activeBalancer.dynamicWeights;
  }

  private startRamp(server: Server): void {
    const wheel = this.wheel;
    if (server.slowstart <= 0 || wheel === null || !server.up || server.maintenance) return;
    this.rampStarts.set(server, wheel.now);
    let timer = this.rampTimers.get(server);
    if (timer === undefined) {
      timer = wheel.create(() => this.rampStep(server));
      this.rampTimers.set(server, timer);
    }
    this.applyRamp(server, this.rampStepMs(server) / server.slowstart);
    timer.arm(this.rampStepMs(server));
  }

  private rampStepMs(server: Server): number {
    return Math.max(SLOWSTART_MIN_STEP_MS, server.slowstart / SLOWSTART_STEPS);
  }

  private rampStep(server: Server): void {
    const started = this.rampStarts.get(server);
    if (started === undefined || this.wheel === null) return;
    const step = this.rampStepMs(server);
    // HAProxy's ramp runs one step ahead, so that the server starts at the first step, not at 0.
    const fraction = (this.wheel.now - started + step) / server.slowstart;
    this.applyRamp(server, fraction);
    this.serversChanged();
    this.dequeueTo(server);
    if (server.rampFraction < 1) this.rampTimers.get(server)!.arm(step);
    else this.rampStarts.delete(server);
  }

  private applyRamp(server: Server, fraction: number): void {
    server.rampFraction = fraction >= 1 ? 1 : fraction;
    // Static algorithms build tables from the weights: HAProxy ramps only maxconn for them.
    server.weight = this.dynamicWeights ? server.configuredWeight * server.rampFraction : server.configuredWeight;
  }

  private stopRamp(server: Server): void {
    this.rampTimers.get(server)?.disarm();
    this.rampStarts.delete(server);
    server.rampFraction = 1;
    server.weight = server.configuredWeight;
  }
}
