/**
 * The part of `writeOutput` every runtime shares: whole buffers written to one stream one at a
 * time, over partial writes, with a backoff when the pipe is full. A full non-blocking pipe gives
 * no signal when it drains (EAGAIN on Node and Bun, WouldBlock on Deno), so the writer polls,
 * from 1 ms up to 50 ms between tries. The contract keeps one write in flight per stream; a second
 * one arriving anyway waits its turn rather than interleaving.
 *
 * @module
 */

import type { OutputStreamName } from "./types.ts";
import { toNetError } from "./net_error.ts";

/** The first and the longest wait before retrying a write that found the pipe full. */
const RETRY_FIRST_MS = 1;
const RETRY_MAX_MS = 50;

type Done = (error: Error | undefined) => void;

/** One stream's writer; a runtime module supplies `step`, which writes `bytes` from `offset`. */
export abstract class OutputWriter {
  readonly name: OutputStreamName;
  protected bytes: Uint8Array = new Uint8Array(0);
  protected offset = 0;
  private done: Done | undefined = undefined;
  private retryMs = RETRY_FIRST_MS;
  private readonly waiting: Array<[Uint8Array, Done]> = [];
  /** Made once: one function for every retry, whatever the traffic. */
  protected readonly step: () => void;

  constructor(name: OutputStreamName) {
    this.name = name;
    this.step = () => this.writeSome();
  }

  /** Writes all of `bytes`, then calls `done` once. */
  write(bytes: Uint8Array, done: Done): void {
    if (this.done !== undefined) {
      this.waiting.push([bytes, done]);
      return;
    }
    this.start(bytes, done);
  }

  /** Starts one write of `bytes` from `offset`; its outcome goes to `wrote`, `retryLater` or `fail`. */
  protected abstract writeSome(): void;

  /** `count` bytes left (0: the pipe was full). */
  protected wrote(count: number): void {
    if (count <= 0) {
      this.retryLater();
      return;
    }
    this.offset += count;
    this.retryMs = RETRY_FIRST_MS;
    if (this.offset >= this.bytes.length) this.finish(undefined);
    else this.step();
  }

  /** The pipe is full: try again after a growing delay. */
  protected retryLater(): void {
    setTimeout(this.step, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** The write failed for good. */
  protected fail(error: unknown): void {
    this.finish(toNetError(error, "Cannot write to", this.name));
  }

  private start(bytes: Uint8Array, done: Done): void {
    this.bytes = bytes;
    this.offset = 0;
    this.done = done;
    if (bytes.length === 0) {
      // Still asynchronous, like every other completion.
      queueMicrotask(() => this.finish(undefined));
      return;
    }
    this.step();
  }

  private finish(error: Error | undefined): void {
    const done = this.done!;
    this.done = undefined;
    this.bytes = new Uint8Array(0);
    const next = this.waiting.shift();
    if (next !== undefined) this.start(next[0], next[1]);
    done(error);
  }
}
