/**
 * Helpers for tests that use the runtime contract directly: recording handlers and bounded waits.
 */

import type { Connection, ConnectionHandler } from "../src/runtime/types.ts";
import type { NetError } from "../src/runtime/net_error.ts";

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
