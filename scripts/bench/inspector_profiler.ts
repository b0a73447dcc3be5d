/**
 * A CPU profile of a process through its inspector (the Chrome DevTools Protocol's Profiler domain
 * over the inspector's WebSocket): how the benchmark profiles Deno, which has no `--cpu-prof` in
 * 2.9 (`deno run --help`). The sampler is V8's, the one behind Node's `--cpu-prof`, and the
 * profile has the same format; it covers exactly the time between `start` and `stop`.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import type { CpuProfile } from "./profile_summary.ts";

/** A profiler session on one inspector. */
export type InspectorProfiler = {
  /** Starts sampling every `intervalMicros`. */
  start(intervalMicros: number): Promise<void>;
  /** Stops sampling and returns the profile. */
  stop(): Promise<CpuProfile>;
  close(): void;
};

/** How long one protocol call may take. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Waits until a process has written its inspector's address ("Debugger listening on ws://...", as
 * Node and Deno print it with `--inspect=127.0.0.1:0`) to `stderrPath`.
 */
export async function inspectorUrlFrom(stderrPath: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let text = "";
    try {
      text = readFileSync(stderrPath, "utf8");
    } catch {
      // not written yet
    }
    const match = /ws:\/\/[^\s]+/.exec(text);
    if (match !== null) return match[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`No inspector address in "${stderrPath}" within ${timeoutMs} ms`);
}

/** Connects to the inspector at `url` and enables its profiler. */
export async function connectInspectorProfiler(url: string): Promise<InspectorProfiler> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`Cannot connect to the inspector at "${url}"`)), {
      once: true,
    });
  });
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  let lastId = 0;
  socket.addEventListener("message", (event: MessageEvent) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const waiting = message.id === undefined ? undefined : pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id!);
    if (message.error !== undefined) waiting.reject(new Error(`Inspector: ${message.error.message}`));
    else waiting.resolve(message.result);
  });
  socket.addEventListener("close", () => {
    for (const waiting of pending.values()) waiting.reject(new Error("The inspector closed the connection"));
    pending.clear();
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++lastId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`Inspector: no answer to ${method} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  return {
    async start(intervalMicros) {
      await call("Profiler.setSamplingInterval", { interval: intervalMicros });
      await call("Profiler.start");
    },
    async stop() {
      const result = await call("Profiler.stop") as { profile: CpuProfile };
      return result.profile;
    },
    close() {
      socket.close();
    },
  };
}
