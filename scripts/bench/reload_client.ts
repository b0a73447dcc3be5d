/**
 * The reload benchmark's load: `node reload_client.ts PORT CONNECTIONS LOAD TIMEOUT_MS`.
 *
 * CONNECTIONS loops each send GET / one request at a time, for as long as the process runs:
 * - LOAD "close": every request on a new connection (`Connection: close`), the load that meets a
 *   listener at the moment it closes, with connections still in its accept queue;
 * - LOAD "keepalive": one connection per loop, reused until the server says `Connection: close`
 *   (a graceful stop does so on the next response) or closes it, then a new one.
 *
 * Every request ends as a success (a complete response with a status below 400) or as a failure
 * of one kind (reload_http.ts): nothing is retried. On SIGUSR2 the loops finish the request they
 * are in and stop; the results go to stdout as one JSON line (reload_results.ts reads it).
 *
 * @module
 */

import { connect } from "node:net";
import type { Socket } from "node:net";
import type { FailureKind } from "./reload_http.ts";
import {
  classifyFailure,
  FAILURE_KINDS,
  isRetryable,
  isSuccessStatus,
  ResponseReader,
} from "./reload_http.ts";
import type { ClientReport, FailureSample, LoadKind } from "./reload_results.ts";
import { MAX_FAILURE_SAMPLES } from "./reload_results.ts";

const [portText, connectionsText, loadText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const connectionCount = Number(connectionsText);
const timeoutMs = Number(timeoutText);
if (
  !Number.isInteger(port) || port <= 0 || port > 65_535 || !Number.isInteger(connectionCount) ||
  connectionCount <= 0 || (loadText !== "close" && loadText !== "keepalive") || !(timeoutMs > 0)
) {
  console.error(
    `Invalid arguments "${process.argv.slice(2).join(" ")}": ` +
      "usage: reload_client.ts PORT CONNECTIONS close|keepalive TIMEOUT_MS",
  );
  process.exit(2);
}
const load: LoadKind = loadText;
const request = Buffer.from(
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: reload-bench\r\n` +
    (load === "close" ? "Connection: close\r\n" : "") + "\r\n",
  "latin1",
);

const failures = Object.fromEntries(FAILURE_KINDS.map((kind) => [kind, 0])) as Record<FailureKind, number>;
const samples: FailureSample[] = [];
let samplesDropped = 0;
let successes = 0;
let retryable = 0;
let connectionsOpened = 0;
const startedAt = Date.now();
let lastCompletionAt = 0;
let longestStallMs = 0;
let longestStallEndedAt = 0;
let stopping = false;

function recordFailure(
  kind: FailureKind,
  code: string | null,
  connected: boolean,
  reused: boolean,
  status: number,
): void {
  failures[kind]++;
  if (isRetryable(kind, reused)) retryable++;
  if (samples.length < MAX_FAILURE_SAMPLES) {
    samples.push({ at: Date.now(), kind, code, connected, reused, ...(status > 0 ? { status } : {}) });
  } else samplesDropped++;
}

function recordSuccess(): void {
  const now = Date.now();
  successes++;
  // The longest time without any completed request: how long the reload left clients waiting.
  if (lastCompletionAt > 0 && now - lastCompletionAt > longestStallMs) {
    longestStallMs = now - lastCompletionAt;
    longestStallEndedAt = now;
  }
  lastCompletionAt = now;
}

/** One request in progress. */
type Pending = {
  reader: ResponseReader;
  reused: boolean;
  timer: ReturnType<typeof setTimeout>;
};

/** One socket and what its events mean; a retired socket's late events change nothing. */
type SocketState = {
  socket: Socket;
  connected: boolean;
  retired: boolean;
  errorCode: string | null;
  requests: number;
};

/** One client loop: a request at a time until stopped. */
class Loop {
  #state: SocketState | null = null;
  #pending: Pending | null = null;
  readonly done: Promise<void>;
  #resolveDone: () => void = () => {};

  constructor() {
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  next(): void {
    if (stopping) {
      this.#retire();
      this.#resolveDone();
      return;
    }
    if (this.#state === null) this.#open();
    else this.#send(this.#state);
  }

  #open(): void {
    connectionsOpened++;
    const socket = connect({ host: "127.0.0.1", port });
    const state: SocketState = { socket, connected: false, retired: false, errorCode: null, requests: 0 };
    this.#state = state;
    socket.setNoDelay(true);
    this.#start(false);
    socket.on("connect", () => {
      if (state.retired) return;
      state.connected = true;
      this.#send(state);
    });
    socket.on("data", (chunk: Buffer) => {
      if (state.retired || this.#pending === null) return;
      const pending = this.#pending;
      let complete: boolean;
      try {
        complete = pending.reader.push(chunk);
      } catch {
        this.#fail(state, "other", "EPROTO");
        return;
      }
      if (!complete) return;
      this.#finish();
      if (isSuccessStatus(pending.reader.status)) recordSuccess();
      else recordFailure("status", null, true, pending.reused, pending.reader.status);
      // Connection: close (always so with the "close" load): the server closes, a new one is needed.
      if (load === "close" || pending.reader.closeAfter) this.#retire();
      this.next();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      state.errorCode ??= error.code ?? "EUNKNOWN";
    });
    socket.on("close", () => {
      if (state.retired) return;
      state.retired = true;
      if (this.#state === state) this.#state = null;
      const pending = this.#pending;
      if (pending === null) return;
      if (state.errorCode === null && pending.reader.end()) {
        // A body delimited by the close: complete.
        this.#finish();
        if (isSuccessStatus(pending.reader.status)) recordSuccess();
        else recordFailure("status", null, true, pending.reused, pending.reader.status);
        this.next();
        return;
      }
      const kind = classifyFailure({
        code: state.errorCode,
        connected: state.connected,
        responseBytes: pending.reader.bytes,
        timedOut: false,
      });
      this.#finish();
      recordFailure(kind, state.errorCode, state.connected, pending.reused, 0);
      this.next();
    });
  }

  #send(state: SocketState): void {
    if (state.requests > 0) this.#start(true);
    state.requests++;
    state.socket.write(request);
  }

  /** Starts the clock of a request: the first one of a connection includes its connect. */
  #start(reused: boolean): void {
    const timer = setTimeout(() => {
      const state = this.#state;
      this.#finish();
      recordFailure("timeout", "ETIMEDOUT", state?.connected ?? false, reused, 0);
      if (state !== null) this.#retire();
      this.next();
    }, timeoutMs);
    this.#pending = { reader: new ResponseReader(), reused, timer };
  }

  #finish(): void {
    if (this.#pending !== null) clearTimeout(this.#pending.timer);
    this.#pending = null;
  }

  #fail(state: SocketState, kind: FailureKind, code: string): void {
    const reused = this.#pending?.reused ?? false;
    this.#finish();
    recordFailure(kind, code, state.connected, reused, 0);
    if (this.#state === state) this.#retire();
    this.next();
  }

  #retire(): void {
    const state = this.#state;
    this.#state = null;
    if (state === null) return;
    state.retired = true;
    state.socket.destroy();
  }
}

const loops = Array.from({ length: connectionCount }, () => new Loop());
for (const loop of loops) loop.next();

let stoppedAt = 0;
process.on("SIGUSR2", () => {
  if (stopping) return;
  stopping = true;
  stoppedAt = Date.now();
  // A request in flight gets its own timeout to finish; then the report goes out regardless.
  const deadline = setTimeout(() => report(true), timeoutMs + 1_000);
  void Promise.all(loops.map((loop) => loop.done)).then(() => {
    clearTimeout(deadline);
    report(false);
  });
});
process.on("SIGTERM", () => process.exit(143));

function report(cutShort: boolean): void {
  const result: ClientReport = {
    load,
    connections: connectionCount,
    startedAt,
    stoppedAt,
    successes,
    failures,
    retryable,
    connectionsOpened,
    longestStallMs,
    longestStallEndedAt,
    samples,
    samplesDropped,
    cutShort,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
