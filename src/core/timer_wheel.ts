/**
 * One coarse timer structure for all the idle timeouts of the process.
 *
 * A proxy holds thousands of sessions, each with a timeout per phase and side, and data on a session
 * postpones its timeout on every chunk. One runtime timer per socket, re-created per chunk, would
 * cost a native timer operation and an allocation per chunk. HAProxy instead keeps a coarse clock
 * (`now_ms`) and a timer tree; undici keeps "fast timers" on one native timer. This wheel does the
 * same with a hashed timing wheel:
 *
 * - time is cut into ticks of `resolutionMs`; each entry sits in the slot of the tick of its
 *   deadline, in an intrusive doubly linked list, so arming and disarming are O(1);
 * - {@link WheelTimer.touch}, the per-chunk call, only writes the new deadline: the entry stays
 *   where it is, and when its slot comes due the wheel sees the later deadline and moves it;
 * - deadlines are absolute, so a delay longer than one revolution just makes the entry pass over its
 *   slot (and stay there) until its deadline is reached;
 * - one unref'd runtime timer ticks while entries are armed, and stops once the wheel is empty, so
 *   an idle wheel neither wakes the process nor keeps it alive.
 *
 * Precision: a timer fires at most one tick late (plus the runtime's own timer lateness), never
 * early after {@link WheelTimer.arm}. {@link WheelTimer.touch} measures from the coarse
 * {@link TimerWheel.now}, which lags the real clock by at most one tick, so a touched timer may fire
 * up to one tick before `delay` has passed since the touch: the error is bounded by one tick either
 * way, as with HAProxy's `now_ms`.
 *
 * @module
 */

/** The clock and timers the wheel needs: a structural subset of the runtime contract. */
export interface TimerClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** One-shot timer; the wheel always passes unref = true. */
  setTimer(ms: number, cb: () => void, unref: boolean): unknown;
  clearTimer(h: unknown): void;
}

/**
 * Tick length when none is given. Proxy timeouts are counted in seconds (HAProxy's defaults are
 * 5 s connect, 30-50 s client and server), so 100 ms is at most 10% late on a 1 s timeout and costs
 * only ten wake-ups a second while sessions are open.
 */
export const DEFAULT_RESOLUTION_MS = 100;

/**
 * Slots per revolution, a power of two so a tick maps to its slot with a mask. With the default
 * resolution one revolution is 102.4 s: the usual timeouts are placed once and never moved, and
 * longer ones (tunnel timeouts of hours) pass over their slot once per revolution.
 */
export const WHEEL_SLOTS = 1024;

const SLOT_MASK = WHEEL_SLOTS - 1;

/** Index of the extra list that holds the entries found due during a tick, before they fire. */
const DUE_LIST = WHEEL_SLOTS;

/** Largest delay accepted: beyond it a deadline loses millisecond precision as a double. */
const MAX_DELAY_MS = 2 ** 52;

/** The owner of the wheel's list heads, which never fire. */
const NO_OWNER: TimerOwner = { onTimer(): void {} };

/** What a timer calls when it expires: an object with a method, so that an owner needs no closure. */
export interface TimerOwner {
  onTimer(): void;
}

/** One timeout, created once by {@link TimerWheel.create} and re-armed as often as needed. */
export class WheelTimer {
  /** Absolute deadline on the wheel's clock, in ms. Meaningful only while armed. */
  deadline = 0;
  /** @internal Start of the tick before its slot: a deadline at or below it needs an earlier slot. */
  bucketStart = 0;
  /** @internal Neighbours in the slot list; null when not armed. */
  prev: WheelTimer | null = null;
  /** @internal */
  next: WheelTimer | null = null;
  /** @internal */
  readonly wheel: TimerWheel;
  /** @internal */
  readonly owner: TimerOwner;

  /** @internal Use {@link TimerWheel.create} or {@link TimerWheel.createFor}. */
  constructor(wheel: TimerWheel, owner: TimerOwner) {
    this.wheel = wheel;
    this.owner = owner;
  }

  /** True while the timer waits to fire. */
  get armed(): boolean {
    return this.next !== null;
  }

  /** Fires `delayMs` from now (read from the clock), replacing any earlier deadline. */
  arm(delayMs: number): void {
    checkDelay(delayMs);
    this.wheel.schedule(this, delayMs);
  }

  /**
   * Moves the deadline to `delayMs` from the wheel's coarse now, for the per-chunk path: no clock
   * read, no relinking when the deadline moves later. Does nothing when the timer is not armed, so
   * data arriving on a phase without a timeout does not start one.
   */
  touch(delayMs: number): void {
    if (this.next === null) return;
    checkDelay(delayMs);
    const deadline = this.wheel.now + delayMs;
    this.deadline = deadline;
    // A shorter delay than the one armed would be served late by the current slot: rare, so the
    // relink stays off the common path of a deadline that only moves later.
    if (deadline <= this.bucketStart) this.wheel.relinkEarlier(this);
  }

  /** Cancels the timer; safe when it is not armed. */
  disarm(): void {
    if (this.next === null) return;
    this.wheel.remove(this);
  }
}

/** A hashed timing wheel driving any number of {@link WheelTimer}s from one runtime timer. */
export class TimerWheel {
  /** Tick length in ms. */
  readonly resolutionMs: number;
  #now: number;
  #size = 0;
  readonly #clock: TimerClock;
  readonly #onError: ((error: unknown) => void) | undefined;
  /** One sentinel per slot, plus the due list: empty lists point at themselves. */
  readonly #heads: WheelTimer[];
  /** Last tick whose slot has been visited; new entries go to later ticks. */
  #lastTick: number;
  #timerHandle: unknown = undefined;
  #timerRunning = false;
  #ticking = false;
  readonly #onTimer: () => void;

  /**
   * `onError` receives what a timer callback throws; the other callbacks and the wheel go on
   * either way. Without it such errors are dropped: callbacks are expected to handle their own.
   */
  constructor(
    clock: TimerClock,
    resolutionMs: number = DEFAULT_RESOLUTION_MS,
    onError?: (error: unknown) => void,
  ) {
    if (!Number.isInteger(resolutionMs) || resolutionMs < 1) {
      throw new RangeError(`Invalid timer resolution "${resolutionMs}": expected a whole number of ms >= 1`);
    }
    this.#clock = clock;
    this.resolutionMs = resolutionMs;
    this.#onError = onError;
    this.#heads = [];
    for (let index = 0; index <= WHEEL_SLOTS; index++) {
      const head = new WheelTimer(this, NO_OWNER);
      head.prev = head;
      head.next = head;
      this.#heads.push(head);
    }
    this.#now = clock.now();
    this.#lastTick = Math.floor(this.#now / resolutionMs);
    this.#onTimer = () => this.#tick();
  }

  /**
   * Coarse current time: the clock as read at the last tick or the last arm(). Behind the real
   * clock by at most one tick while timers are armed (HAProxy's `now_ms`).
   */
  get now(): number {
    return this.#now;
  }

  /** Number of armed timers. */
  get size(): number {
    return this.#size;
  }

  /** Makes a disarmed timer whose expiry runs `callback` (after the timer is disarmed). */
  create(callback: () => void): WheelTimer {
    return new WheelTimer(this, { onTimer: callback });
  }

  /**
   * Makes a disarmed timer whose expiry calls `owner.onTimer()`. For objects held per connection:
   * a closure and its scope cost 80 bytes each on Bun, 800 kB for 10,000 idle connections.
   */
  createFor(owner: TimerOwner): WheelTimer {
    return new WheelTimer(this, owner);
  }

  /** Disarms every timer and stops the runtime timer. The wheel stays usable. */
  close(): void {
    for (const head of this.#heads) {
      let entry = head.next!;
      while (entry !== head) {
        const next = entry.next!;
        entry.prev = null;
        entry.next = null;
        entry = next;
      }
      head.prev = head;
      head.next = head;
    }
    this.#size = 0;
    this.#stopTimer();
  }

  /** @internal Arms `timer` at `delayMs` from the clock's now. */
  schedule(timer: WheelTimer, delayMs: number): void {
    const now = this.#clock.now();
    this.#now = now;
    const idle = !this.#timerRunning && !this.#ticking;
    // Nothing is armed while idle, so skipping the ticks that passed meanwhile loses nothing.
    if (idle) this.#lastTick = Math.floor(now / this.resolutionMs);
    timer.deadline = now + delayMs;
    if (timer.next !== null) unlink(timer);
    else this.#size++;
    this.#insert(timer);
    if (idle) this.#startTimer(now);
  }

  /** @internal Moves a touched timer to an earlier slot when its new deadline needs one. */
  relinkEarlier(timer: WheelTimer): void {
    const tick = this.#tickFor(timer.deadline);
    if ((tick - 1) * this.resolutionMs >= timer.bucketStart) return;
    unlink(timer);
    this.#insert(timer);
  }

  /** @internal Disarms an armed timer. */
  remove(timer: WheelTimer): void {
    unlink(timer);
    this.#size--;
  }

  /** The tick whose visit first sees `deadline` as due; never one already visited. */
  #tickFor(deadline: number): number {
    const tick = Math.ceil(deadline / this.resolutionMs);
    return tick > this.#lastTick ? tick : this.#lastTick + 1;
  }

  #insert(timer: WheelTimer): void {
    const tick = this.#tickFor(timer.deadline);
    timer.bucketStart = (tick - 1) * this.resolutionMs;
    append(this.#heads[tick & SLOT_MASK]!, timer);
  }

  #startTimer(now: number): void {
    // Aim at the next tick boundary, so an entry is late by less than one tick plus timer lateness.
    const delay = Math.max(1, Math.ceil((this.#lastTick + 1) * this.resolutionMs - now));
    this.#timerHandle = this.#clock.setTimer(delay, this.#onTimer, true);
    this.#timerRunning = true;
  }

  #stopTimer(): void {
    if (!this.#timerRunning) return;
    this.#clock.clearTimer(this.#timerHandle);
    this.#timerHandle = undefined;
    this.#timerRunning = false;
  }

  #tick(): void {
    this.#timerRunning = false;
    this.#timerHandle = undefined;
    this.#ticking = true;
    try {
      const now = this.#clock.now();
      this.#now = now;
      const target = Math.floor(now / this.resolutionMs);
      // After a stall longer than a revolution, one visit of each slot checks every entry.
      let tick = Math.max(this.#lastTick + 1, target - SLOT_MASK);
      for (; tick <= target; tick++) {
        this.#lastTick = tick;
        this.#collectDue(tick & SLOT_MASK);
        this.#fireDue();
      }
    } finally {
      this.#ticking = false;
    }
    // The wheel stops one tick after it empties rather than on every last disarm, so a lone
    // connection opening and closing does not set and clear a runtime timer each time.
    if (this.#size > 0 && !this.#timerRunning) {
      const now = this.#clock.now();
      this.#now = now;
      this.#startTimer(now);
    }
  }

  /** Moves the due entries of a slot to the due list and the others to the slot of their deadline. */
  #collectDue(slot: number): void {
    const head = this.#heads[slot]!;
    let entry = head.next!;
    if (entry === head) return;
    // Detach the whole list first: entries re-inserted into this same slot must not be seen again.
    head.prev = head;
    head.next = head;
    const now = this.#now;
    const due = this.#heads[DUE_LIST]!;
    while (entry !== head) {
      const next = entry.next!;
      if (entry.deadline <= now) append(due, entry);
      else this.#insert(entry);
      entry = next;
    }
  }

  /** Fires the due entries one by one, so a callback may disarm or re-arm any timer, itself included. */
  #fireDue(): void {
    const due = this.#heads[DUE_LIST]!;
    while (due.next !== due) {
      const entry = due.next!;
      unlink(entry);
      this.#size--;
      try {
        entry.owner.onTimer();
      } catch (error) {
        this.#report(error);
      }
    }
  }

  #report(error: unknown): void {
    if (this.#onError === undefined) return;
    try {
      this.#onError(error);
    } catch {
      // The error handler failing must not stop the wheel: there is no one left to tell.
    }
  }
}

function checkDelay(delayMs: number): void {
  if (!(delayMs >= 0 && delayMs <= MAX_DELAY_MS)) {
    throw new RangeError(`Invalid timer delay "${delayMs}": expected 0 to ${MAX_DELAY_MS} ms`);
  }
}

function append(head: WheelTimer, entry: WheelTimer): void {
  const tail = head.prev!;
  entry.prev = tail;
  entry.next = head;
  tail.next = entry;
  head.prev = entry;
}

function unlink(entry: WheelTimer): void {
  entry.prev!.next = entry.next;
  entry.next!.prev = entry.prev;
  entry.prev = null;
  entry.next = null;
}
