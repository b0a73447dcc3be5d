/**
 * The slow-reader benchmark's normal client: `node slowread_client.ts PORT RATE DURATION_MS TIMEOUT_MS`.
 *
 * An open loop: RATE requests per second for DURATION_MS, each `GET /` on a new connection
 * (`Connection: close`), started on schedule whatever the earlier ones are doing, so a proxy that
 * stalls is not given less work (no coordinated omission) and every contender gets the same
 * offered load. A request's latency runs from the connect to the last byte of the answer, so a
 * connection left waiting in the accept queue counts too. A request without a complete answer
 * with a status below 400 within TIMEOUT_MS is a failure of one kind (reload_http.ts).
 *
 * The report goes to stdout as one JSON line ({@link ClientLatencyReport}).
 *
 * @module
 */

import { connect } from "node:net";
import type { FailureKind } from "./reload_http.ts";
import { classifyFailure, FAILURE_KINDS, isSuccessStatus, ResponseReader } from "./reload_http.ts";
import type { ClientLatencyReport } from "./slowread_results.ts";
import { percentile } from "./slowread_results.ts";

const [portText, rateText, durationText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const durationMs = Number(durationText);
const timeoutMs = Number(timeoutText);
if (
  !Number.isInteger(port) || port <= 0 || port > 65_535 || !(rate > 0) || !(durationMs > 0) ||
  !(timeoutMs > 0)
) {
  console.error(
    `Invalid arguments "${process.argv.slice(2).join(" ")}": usage: slowread_client.ts PORT RATE DURATION_MS TIMEOUT_MS`,
  );
  process.exit(2);
}

const request = Buffer.from(
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: slowread-bench\r\nConnection: close\r\n\r\n`,
  "latin1",
);
const failures = Object.fromEntries(FAILURE_KINDS.map((kind) => [kind, 0])) as Record<FailureKind, number>;
const latenciesMs: number[] = [];
let started = 0;
let finished = 0;

function sendOne(): void {
  started++;
  const begin = performance.now();
  const reader = new ResponseReader();
  const socket = connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  let connected = false;
  let errorCode: string | null = null;
  let done = false;
  const end = (outcome: "ok" | "timeout" | "closed" | "malformed"): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    finished++;
    if (outcome === "ok") {
      if (isSuccessStatus(reader.status)) latenciesMs.push(performance.now() - begin);
      else failures.status++;
    } else if (outcome === "malformed") {
      failures.other++;
    } else {
      failures[classifyFailure({
        code: errorCode,
        connected,
        responseBytes: reader.bytes,
        timedOut: outcome === "timeout",
      })]++;
    }
    if (finished === total) report();
  };
  const timer = setTimeout(() => end("timeout"), timeoutMs);
  socket.on("connect", () => {
    connected = true;
    socket.write(request);
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      if (reader.push(chunk)) end("ok");
    } catch {
      end("malformed");
    }
  });
  socket.on("error", (error: NodeJS.ErrnoException) => {
    errorCode ??= error.code ?? "EUNKNOWN";
  });
  socket.on("close", () => end(errorCode === null && reader.end() ? "ok" : "closed"));
}

const total = Math.max(1, Math.round((rate * durationMs) / 1_000));
const intervalMs = 1_000 / rate;
const startedAt = performance.now();

// Each request leaves at its scheduled time; a late tick sends every request it owes at once.
function tick(): void {
  const due = Math.min(total, Math.floor((performance.now() - startedAt) / intervalMs) + 1);
  while (started < due) sendOne();
  if (started < total) setTimeout(tick, Math.max(0, startedAt + started * intervalMs - performance.now()));
}
tick();

function report(): void {
  latenciesMs.sort((a, b) => a - b);
  const result: ClientLatencyReport = {
    requests: total,
    successes: latenciesMs.length,
    failures,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    maxMs: latenciesMs.length > 0 ? latenciesMs[latenciesMs.length - 1]! : null,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
process.on("SIGTERM", () => process.exit(143));
