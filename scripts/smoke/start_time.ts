/**
 * Start-to-listening time: from spawning the executable to its port accepting a TCP connection.
 * The port is chosen beforehand so that it can be polled without waiting for the log line; the
 * time the "listening" line arrives is recorded too, since that is what a supervisor watching the
 * log sees.
 *
 * @module
 */

import { performance } from "node:perf_hooks";
import { accepts, closeAll, freePort, startOrigins, tcpOrigin } from "./origins.ts";
import { ProxyProcess, sleep } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

/** Milliseconds from spawn to each sign of life. */
export interface StartTiming {
  readonly acceptMs: number;
  /** Undefined when the line had not arrived by the time the port accepted and the process stopped. */
  readonly logMs: number | undefined;
}

/** Polling interval: a failed connect on loopback costs microseconds, the timer's resolution is ~1 ms. */
const POLL_MS = 1;

async function timeOneStart(subject: Subject, backend: string): Promise<StartTiming> {
  const port = await freePort();
  const args = ["--bind", `127.0.0.1:${port}`, "--backend", backend, "--mode", "tcp"];
  const deadline = Date.now() + timeouts(subject).start;
  const started = performance.now();
  const proxy = new ProxyProcess(subject.launcher, subject.binary, args);
  let logMs: number | undefined;
  proxy.child.stderr?.on("data", () => {
    if (logMs === undefined && /listening on 127\.0\.0\.1:\d+/.test(proxy.stderr)) {
      logMs = performance.now() - started;
    }
  });
  try {
    while (Date.now() < deadline) {
      if (await accepts(port)) {
        const acceptMs = performance.now() - started;
        // The line may be on its way through the pipe: give it a moment, bounded.
        await proxy.waitFor(/listening on 127\.0\.0\.1:\d+/, 1_000).catch(() => undefined);
        return { acceptMs, logMs };
      }
      if (!proxy.running) {
        throw new Error(`The proxy ended before listening (${proxy.ending}):\n${proxy.outputTail()}`);
      }
      await sleep(POLL_MS);
    }
    throw new Error(
      `Port ${port} did not accept a connection within ${timeouts(subject).start} ms:\n${proxy.outputTail()}`,
    );
  } finally {
    await proxy.stop();
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `starts` timed starts, one after the other; the text gives the median and the range. */
export async function startToListening(subject: Subject, starts: number): Promise<string> {
  const origins = await startOrigins(["A"], tcpOrigin);
  try {
    const timings: StartTiming[] = [];
    for (let i = 0; i < starts; i++) timings.push(await timeOneStart(subject, origins[0]!.address));
    const accept = timings.map((timing) => timing.acceptMs);
    const logged = timings.flatMap((timing) => (timing.logMs === undefined ? [] : [timing.logMs]));
    const ms = (value: number) => `${Math.round(value)} ms`;
    const spread = starts > 1
      ? ` (median of ${starts}, ${ms(Math.min(...accept))} to ${ms(Math.max(...accept))})`
      : "";
    const log = logged.length > 0 ? `; "listening" logged after ${ms(median(logged))}` : "";
    return `accepts connections ${ms(median(accept))} after spawn${spread}${log}`;
  } finally {
    await closeAll(origins);
  }
}
