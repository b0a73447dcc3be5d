/**
 * The signal handlers of a running proxy (src/lifecycle/process_signals.ts) against a recording
 * proxy, runtime and logger: what each notice says must already be true when it is written, since
 * operators and scripts (and the end-to-end tests) act on it at once.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { serveUntilStopped } from "../src/lifecycle/process_signals.ts";
import type { ServedProxy } from "../src/lifecycle/process_signals.ts";
import type { Runtime, SignalName } from "../src/runtime/types.ts";
import type { Logger } from "../src/core/logger.ts";
import type { GlobalConfig } from "../src/config/types.ts";

/** A proxy whose listeners close a few turns after it is asked (as a real close may), recording the order of events. */
function recordingProxy(events: string[]): ServedProxy & { sessions: number } {
  let idle: () => void = () => {};
  const whenIdle = new Promise<void>((resolve) => (idle = resolve));
  return {
    sessions: 1,
    get activeSessions() {
      return this.sessions;
    },
    frontends: [],
    backends: [],
    grace: 0,
    beginStop() {
      events.push("monitors failing");
    },
    listen: () => Promise.resolve(),
    async stopListening() {
      events.push("closing the listeners");
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
      events.push("listeners closed");
      idle();
    },
    whenIdle: () => whenIdle,
  };
}

/** The signal subscriptions and timers of serveUntilStopped, driven by the test. */
function signalRuntime(): { runtime: Runtime; raise: (signal: SignalName) => void } {
  const handlers = new Map<SignalName, Array<() => void>>();
  const runtime = {
    onSignal(signal: SignalName, callback: () => void) {
      handlers.set(signal, [...(handlers.get(signal) ?? []), callback]);
      return () => {};
    },
    setTimer: (ms: number, callback: () => void) => setTimeout(callback, ms),
    clearTimer: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  } as unknown as Runtime;
  return { runtime, raise: (signal) => handlers.get(signal)?.forEach((handler) => handler()) };
}

function recordingLogger(events: string[]): Logger {
  const log = (message: string) => events.push(message);
  return { emerg: log, alert: log, error: log, warn: log, notice: log, info: log, debug: log };
}

const GLOBAL = { hardStopAfter: null } as unknown as GlobalConfig;

test("SIGUSR1: the notice that the proxy stopped listening comes once the listeners are closed", async () => {
  const events: string[] = [];
  const proxy = recordingProxy(events);
  const { runtime, raise } = signalRuntime();
  const serving = serveUntilStopped(proxy, GLOBAL, runtime, recordingLogger(events));
  raise("SIGUSR1");
  assert.equal(await serving.stopped, "graceful-stop");
  assert.deepEqual(events, [
    "monitors failing",
    "closing the listeners",
    "listeners closed",
    "SIGUSR1 received: stopped listening, finishing 1 session(s)",
  ]);
});

test("a graceful stop asked by a -W master: the same order", async () => {
  const events: string[] = [];
  const proxy = recordingProxy(events);
  const { runtime } = signalRuntime();
  const serving = serveUntilStopped(proxy, GLOBAL, runtime, recordingLogger(events));
  serving.finish("Master asked to finish");
  assert.equal(await serving.stopped, "graceful-stop");
  assert.deepEqual(events.slice(-2), ["listeners closed", "Master asked to finish: stopped listening, finishing 1 session(s)"]);
});

test("SIGUSR1 with a grace: the monitors fail first, the listeners close only once the grace is over", async () => {
  const events: string[] = [];
  const proxy = { ...recordingProxy(events), grace: 30 };
  const { runtime, raise } = signalRuntime();
  const serving = serveUntilStopped(proxy, GLOBAL, runtime, recordingLogger(events));
  raise("SIGUSR1");
  // The grace runs on a timer: nothing is closed in the same turn.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(events, [
    "monitors failing",
    "SIGUSR1 received: grace of 30 ms: monitor-uri fails, still listening and serving 1 session(s)",
  ]);
  assert.equal(await serving.stopped, "graceful-stop");
  assert.deepEqual(events.slice(2), [
    "closing the listeners",
    "listeners closed",
    "SIGUSR1 received: stopped listening, finishing 1 session(s)",
  ]);
});

test("hard-stop-after shorter than the grace: a hard stop, still listening (the exit closes everything)", async () => {
  const events: string[] = [];
  const proxy = { ...recordingProxy(events), grace: 60_000 };
  const { runtime, raise } = signalRuntime();
  const global = { hardStopAfter: 20 } as unknown as GlobalConfig;
  const serving = serveUntilStopped(proxy, global, runtime, recordingLogger(events));
  raise("SIGUSR1");
  assert.equal(await serving.stopped, "hard-stop");
  assert.equal(events.includes("closing the listeners"), false);
  assert.equal(events.at(-1), "hard-stop-after (20 ms) expired: cutting 1 remaining session(s)");
});
