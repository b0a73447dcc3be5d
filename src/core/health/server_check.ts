/**
 * The health check of one server: when it runs, what its results do, and passive health.
 *
 * HAProxy's check.c, without its threads: one timer per checked server on the process's timer
 * wheel, armed with the check's timeout while a probe runs and with the next interval after it.
 * The next check starts one interval after the previous one ended (HAProxy's rule), so checks never
 * run faster than configured, whatever the server's answer time; the interval is `interval` while
 * the server is steady, `fastInterval` while it is changing state, `downInterval` while it is down.
 * A probe only opens its own connection: a check never waits on, or blocks, traffic.
 *
 * Passive health (HAProxy's `observe`): sessions report what real traffic meets; `errorLimit`
 * consecutive errors trigger `onError`, and the next check then comes at `fastInterval`.
 *
 * Refused connections count whether `observe` is set or not: a connection of real traffic that
 * fails with an error (refused, reset, unreachable: what a layer-4 check would report as
 * "Layer4 connection problem" at that moment) is evidence a check would have gathered, so a run
 * of them counts as that many failed checks (see {@link ServerCheck.connectRefused}). A dead
 * server is then out after `fall` refused connections, within milliseconds under load, rather
 * than after `fall` intervals.
 *
 * @module
 */

import type { Backend } from "../backend.ts";
import type { Logger } from "../logger.ts";
import type { RefusalWatcher, Server, TrafficObserver } from "../server.ts";
import type { TimerWheel, WheelTimer } from "../timer_wheel.ts";
import { CheckCounter } from "./check_counter.ts";
import type { CounterChange } from "./check_counter.ts";
import { CHECK_STATUS, errorInfo } from "./probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "./probe.ts";

/** How a server is checked (validated values, ms). */
export interface ServerCheckSpec {
  readonly interval: number;
  readonly fastInterval: number;
  readonly downInterval: number;
  readonly rise: number;
  readonly fall: number;
  readonly timeout: number;
  /** "layer4": failed connections count; "layer7": bad http responses too; null: passive health off. */
  readonly observe: "layer4" | "layer7" | null;
  readonly errorLimit: number;
  readonly onError: "fastinter" | "fail-check" | "sudden-death" | "mark-down";
  readonly shutdownSessionsOnDown: boolean;
  readonly shutdownBackupSessionsOnUp: boolean;
}

/** A monotonic clock in ms (the runtime's, or a test's). */
export interface CheckClock {
  now(): number;
}

/** HAProxy's layer-7 observe rule: 500-599 are errors, except 501 and 505, which say "not supported". */
export function isServerErrorStatus(status: number): boolean {
  return status >= 500 && status <= 599 && status !== 501 && status !== 505;
}

/** The health check of one server; see the module notes. */
export class ServerCheck implements TrafficObserver, RefusalWatcher {
  readonly server: Server;
  readonly counter: CheckCounter;
  /** Checks run so far. */
  checks = 0;
  /** The last result, for the server's state dump; null before the first. */
  lastResult: ProbeResult | null = null;
  /** How long the last check took, ms; -1 before the first. */
  lastDuration = -1;
  private readonly backend: Backend;
  private readonly spec: ServerCheckSpec;
  private readonly probe: HealthProbe;
  private readonly clock: CheckClock;
  private readonly logger: Logger;
  private readonly timer: WheelTimer;
  private run: ProbeRun | null = null;
  private startedAt = 0;
  private consecutiveErrors = 0;
  private lastError = "";
  private hurried = false;
  private stopped = true;

  constructor(
    backend: Backend,
    server: Server,
    spec: ServerCheckSpec,
    probe: HealthProbe,
    wheel: TimerWheel,
    clock: CheckClock,
    logger: Logger,
  ) {
    this.backend = backend;
    this.server = server;
    this.spec = spec;
    this.probe = probe;
    this.clock = clock;
    this.logger = logger;
    this.counter = new CheckCounter(spec.rise, spec.fall);
    this.timer = wheel.create(() => this.onTimer());
    server.counter = this.counter;
    server.refusalWatcher = this;
    if (spec.observe !== null) server.observer = this;
  }

  /** Starts checking; the first check runs after `firstDelayMs` (the spread over the interval). */
  start(firstDelayMs: number): void {
    this.stopped = false;
    this.timer.arm(firstDelayMs > 0 ? firstDelayMs : 0);
  }

  /** Stops checking; a probe in progress is cancelled. */
  stop(): void {
    this.stopped = true;
    this.timer.disarm();
    const run = this.run;
    this.run = null;
    run?.cancel();
  }

  /** The steady interval, ms (for spreading first checks). */
  get interval(): number {
    return this.spec.interval;
  }

  /** Checks are scheduled (started and not stopped). */
  get enabled(): boolean {
    return !this.stopped;
  }

  /** Whether a probe is in progress. */
  get running(): boolean {
    return this.run !== null;
  }

  // ---- passive health ----

  connectFailed(): void {
    this.trafficError(CHECK_STATUS.layer4Problem);
  }

  connected(): void {
    this.consecutiveErrors = 0;
  }

  responseStatus(status: number): void {
    if (this.spec.observe !== "layer7") return;
    if (isServerErrorStatus(status)) this.trafficError(`${CHECK_STATUS.layer7WrongStatus} ${status}`);
    else this.consecutiveErrors = 0;
  }

  responseFailed(): void {
    if (this.spec.observe === "layer7") this.trafficError(CHECK_STATUS.layer7InvalidResponse);
  }

  private trafficError(what: string): void {
    this.lastError = what;
    if (++this.consecutiveErrors < this.spec.errorLimit) return;
    this.consecutiveErrors = 0;
    const why = `reason: ${CHECK_STATUS.healthAnalyze}, info: "Detected ${this.spec.errorLimit} consecutive errors, last one was: ${this.lastError}"`;
    switch (this.spec.onError) {
      case "fail-check":
        this.apply(this.counter.fail(), why, false);
        break;
      case "sudden-death":
        this.apply(this.counter.suddenDeath(), why, false);
        break;
      case "mark-down":
        this.apply(this.counter.markDown(), why, false);
        break;
    }
    this.hurry();
  }

  /** The next check comes at the fast interval (if that is sooner than planned). */
  private hurry(): void {
    this.hurried = true;
    if (this.stopped || this.run !== null) return;
    const timer = this.timer;
    const soonest = this.clock.now() + this.spec.fastInterval;
    if (!timer.armed || timer.deadline > soonest) timer.arm(this.spec.fastInterval);
  }

  // ---- refused connections ----

  /**
   * A connection of real traffic failed with an error, the `inRow`th since one last succeeded.
   * The run counts as failed checks, all at once when it reaches the number of failed checks
   * that take the server down from where its counter is (`fall` when steady up; fewer after
   * failed checks; one after a start, since the counter starts at `rise`). Counting them one by
   * one instead would let the odd refusal between successful connections add up to a false
   * DOWN between two checks; a successful connection ends the run (Server.connected), as it ends
   * HAProxy's consecutive errors of `observe`. In HAProxy's terms: `observe layer4`, `error-limit
   * <fall>`, `on-error mark-down`, for connection errors only, implied by `check`. Like every
   * passive action, the next check then comes at `fastinter`.
   */
  connectRefused(inRow: number, error: unknown): void {
    const counter = this.counter;
    if (this.stopped || !counter.isUp || inRow < counter.health - counter.rise + 1) return;
    const why = `reason: ${CHECK_STATUS.layer4Problem}, info: "${errorInfo(error)}", ${inRow} traffic connections in a row`;
    this.apply(counter.markDown(), why, false);
    this.hurry();
  }

  // ---- active checks ----

  private onTimer(): void {
    if (this.stopped) return;
    if (this.run !== null) {
      const run = this.run;
      this.run = null;
      run.cancel();
      const status = run.connected ? CHECK_STATUS.layer7Timeout : CHECK_STATUS.layer4Timeout;
      this.finished({ passed: false, status, code: null, info: null });
      return;
    }
    if (this.server.maintenance) {
      // HAProxy stops checking a server in maintenance; it resumes where it was when it leaves.
      this.timer.arm(this.spec.interval);
      return;
    }
    this.startedAt = this.clock.now();
    this.timer.arm(this.spec.timeout);
    this.run = this.probe.start((result) => this.probeDone(result));
  }

  private probeDone(result: ProbeResult): void {
    if (this.run === null || this.stopped) return;
    this.run = null;
    this.finished(result);
  }

  private finished(result: ProbeResult): void {
    this.checks++;
    this.lastResult = result;
    const duration = Math.max(0, Math.round(this.clock.now() - this.startedAt));
    this.lastDuration = duration;
    if (!result.passed && this.server.up) this.server.checkFailures++;
    let why = `reason: ${result.status}`;
    if (result.code !== null) why += `, code: ${result.code}`;
    if (result.info !== null && result.info !== "") why += `, info: "${result.info}"`;
    why += `, check duration: ${duration}ms`;
    this.apply(result.passed ? this.counter.pass() : this.counter.fail(), why, result.passed);
    if (!this.stopped) this.timer.arm(this.nextInterval());
  }

  private apply(change: CounterChange, why: string, passed: boolean): void {
    const name = `"${this.backend.name}/${this.server.name}"`;
    switch (change) {
      case "went-down":
        this.backend.markDown(this.server, why, this.spec.shutdownSessionsOnDown);
        return;
      case "went-up":
        this.backend.markUp(this.server, why, this.spec.shutdownBackupSessionsOnUp);
        return;
      case "moved":
        if (passed) this.logger.notice(`Health check for server ${name} succeeded, ${why}, status: ${this.counter.progress()}.`);
        else this.logger.warn(`Health check for server ${name} failed, ${why}, status: ${this.counter.progress()}.`);
        return;
    }
  }

  private nextInterval(): number {
    const spec = this.spec;
    if (this.hurried) {
      this.hurried = false;
      return spec.fastInterval;
    }
    if (this.counter.isDown) return spec.downInterval;
    if (this.counter.isChanging) return spec.fastInterval;
    return spec.interval;
  }
}

/**
 * When each checked server's first check runs: spread evenly over the interval in declaration
 * order across the whole process (HAProxy's start_checks), so that a farm is not probed all at
 * the same instant.
 */
export function firstCheckDelay(position: number, count: number, interval: number): number {
  return count <= 1 ? 0 : Math.floor((interval * position) / count);
}
