/**
 * Helpers for tests that use the runtime contract directly: recording handlers and bounded waits.
 */

import type { Connection, ConnectionHandler } from "../src/runtime/types.ts";
import type { NetError } from "../src/runtime/net_error.ts";
import type { TimerClock } from "../src/core/timer_wheel.ts";

/** A handler that records every event and can be awaited on. */
export class RecordingHandler implements ConnectionHandler {
  opened = false;
  ended = false;
  closed = false;
  closeError: NetError | undefined = undefined;
  drains = 0;
  received: Uint8Array[] = [];
  receivedBytes = 0;
  private waiters: Array<() => void> = [];
  onDataHook: ((conn: Connection, chunk: Uint8Array) => void) | undefined;
  onEndHook: ((conn: Connection) => void) | undefined;
  onDrainHook: ((conn: Connection) => void) | undefined;

  onOpen(_conn: Connection): void {
    this.opened = true;
    this.wake();
  }
  onData(conn: Connection, chunk: Uint8Array): void {
    this.received.push(chunk.slice());
    this.receivedBytes += chunk.length;
    this.onDataHook?.(conn, chunk);
    this.wake();
  }
  onDrain(conn: Connection): void {
    this.drains++;
    this.onDrainHook?.(conn);
    this.wake();
  }
  onEnd(conn: Connection): void {
    this.ended = true;
    this.onEndHook?.(conn);
    this.wake();
  }
  onClose(_conn: Connection, error: NetError | undefined): void {
    this.closed = true;
    this.closeError = error;
    this.wake();
  }

  /** Everything received, joined. */
  bytes(): Uint8Array {
    const all = new Uint8Array(this.receivedBytes);
    let offset = 0;
    for (const part of this.received) {
      all.set(part, offset);
      offset += part.length;
    }
    return all;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  /** Resolves when `condition` holds, rejects after `timeoutMs`. */
  until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Deterministic pseudo-random bytes, so a corrupted transfer is detected byte for byte. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** True when both arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes `data` in slices, honouring write() === false by waiting for drain; then half-closes if asked. */
export function writeWithBackpressure(
  conn: Connection,
  handler: RecordingHandler,
  data: Uint8Array,
  sliceSize: number,
  endAfter: boolean,
): { blocked: () => number; done: Promise<void> } {
  let offset = 0;
  let blockedCount = 0;
  const done = new Promise<void>((resolve) => {
    const pump = () => {
      while (offset < data.length) {
        const slice = data.subarray(offset, Math.min(offset + sliceSize, data.length));
        offset += slice.length;
        if (!conn.write(slice)) {
          blockedCount++;
          return;
        }
      }
      handler.onDrainHook = undefined;
      if (endAfter) conn.end();
      resolve();
    };
    handler.onDrainHook = pump;
    pump();
  });
  return { blocked: () => blockedCount, done };
}

/** Latin1 bytes of a string (every character below 0x100): byte-exact message text for parsers. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Latin1 text of some bytes: byte-exact, readable in assertion diffs. */
export function latin1Text(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i++) out += String.fromCharCode(data[i]!);
  return out;
}

/** A runtime timer a {@link ManualClock} holds. */
export interface PendingTimer {
  at: number;
  callback: () => void;
}

/** A manual clock for timer wheels: time moves only in `advance`, which runs due timers at their own times. */
export class ManualClock implements TimerClock {
  time: number;
  readonly pending = new Map<number, PendingTimer>();
  #nextId = 1;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, callback: () => void, _unref?: boolean): unknown {
    const id = this.#nextId++;
    this.pending.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that comes due on the way, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0;; fired++) {
      if (fired >= 10_000_000) throw new Error("Runaway timers");
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, timer] of this.pending) {
        if (timer.at <= end && timer.at < nextAt) {
          nextId = id;
          nextAt = timer.at;
        }
      }
      if (nextId === -1) break;
      const timer = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      // A timer overdue after a stall (time set directly) runs late, as a real one would.
      this.time = Math.max(this.time, timer.at);
      timer.callback();
    }
    this.time = end;
  }

  /** Advances to absolute time `at`. */
  advanceTo(at: number): void {
    this.advance(at - this.time);
  }
}
