/**
 * A real http session on fake connections and a fake runtime, for tests of what a session does
 * call by call (tests/http_session_writes.test.ts, tests/http_parser_pool.test.ts): every write
 * is recorded as its own entry, bytes copied, and the test plays the runtime's events.
 */

import assert from "node:assert/strict";
import { TrafficCounters } from "../../src/core/counters.ts";
import { HttpSession } from "../../src/http/session.ts";
import type { HttpSessionHost } from "../../src/http/session.ts";
import { buildHttpFrontendPolicy } from "../../src/http/policy.ts";
import type { HttpFrontendPolicy } from "../../src/http/policy.ts";
import { ServerPool } from "../../src/http/server_pool.ts";
import { validateConfigDocument } from "../../src/config/validate.ts";
import type { BackendConfig, Config } from "../../src/config/types.ts";
import type { Backend } from "../../src/core/backend.ts";
import { buildBackend } from "../../src/engine/proxy.ts";
import { SILENT_LOGGER } from "../../src/core/logger.ts";
import { TimerWheel } from "../../src/core/timer_wheel.ts";
import type { Connection, ConnectionHandler, ConnectOptions, NetAddr, Runtime } from "../../src/runtime/types.ts";
import type { NetError } from "../../src/runtime/net_error.ts";
import { latin1Text as text, ManualClock as FakeClock } from "../_runtime_helpers.ts";


/** What was done to a fake connection, in order. */
export type Op =
  | { readonly kind: "write"; readonly bytes: Uint8Array }
  | { readonly kind: "setNoDelay"; readonly value: boolean }
  | { readonly kind: "pause" | "resume" | "end" | "destroy" };

/** A connection that records every call, and through which the test plays the runtime's events. */
export class FakeConnection implements Connection {
  handler: ConnectionHandler | null = null;
  readonly ops: Op[] = [];
  readonly remote: NetAddr;
  local: NetAddr;
  open: boolean;
  owner: unknown = undefined;
  tls = undefined;
  bufferedAmount = 0;
  closed = false;

  constructor(remote: NetAddr, local: NetAddr, open: boolean) {
    this.remote = remote;
    this.local = local;
    this.open = open;
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  /** What `write` returns: false plays a peer that does not read (backpressure). */
  writeResult = true;

  write(chunk: Uint8Array): boolean {
    // A copy: the entry shows what was sent at that moment, whatever happens to the buffer later.
    this.ops.push({ kind: "write", bytes: chunk.slice() });
    return this.writeResult;
  }

  pause(): void {
    this.ops.push({ kind: "pause" });
  }

  resume(): void {
    this.ops.push({ kind: "resume" });
  }

  end(): void {
    this.ops.push({ kind: "end" });
  }

  destroy(): void {
    this.ops.push({ kind: "destroy" });
    this.open = false;
  }

  setNoDelay(value: boolean): void {
    this.ops.push({ kind: "setNoDelay", value });
  }

  // ---- the runtime's side ----

  /** An outgoing connection is established. */
  deliverOpen(): void {
    this.open = true;
    this.local = { address: "10.0.0.254", port: 40_000, family: 4 };
    this.handler!.onOpen(this);
  }

  deliverData(chunk: Uint8Array): void {
    // The chunk belongs to the handler (runtime contract): hand over a buffer of its own.
    this.handler!.onData(this, chunk.slice());
  }

  deliverEnd(): void {
    this.handler!.onEnd(this);
  }

  deliverClose(error?: NetError): void {
    this.open = false;
    this.closed = true;
    this.handler!.onClose(this, error);
  }

  // ---- what the test reads ----

  /** Each write, as its own entry. */
  get writes(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const op of this.ops) if (op.kind === "write") out.push(op.bytes);
    return out;
  }

  /** The written bytes, each write as latin1 text. */
  get writeTexts(): string[] {
    return this.writes.map(text);
  }

  /** Everything written, as one latin1 text. */
  get written(): string {
    return this.writeTexts.join("");
  }

  /** The values of the setNoDelay calls, in order. */
  get noDelayCalls(): boolean[] {
    const out: boolean[] = [];
    for (const op of this.ops) if (op.kind === "setNoDelay") out.push(op.value);
    return out;
  }

  /** Index in `ops` of the n-th write (from 0). */
  writeIndex(n: number): number {
    let seen = 0;
    for (let i = 0; i < this.ops.length; i++) {
      if (this.ops[i]!.kind !== "write") continue;
      if (seen === n) return i;
      seen++;
    }
    throw new Error(`No write number ${n}`);
  }

  /** Index in `ops` of the setNoDelay(value) calls. */
  noDelayIndexes(value: boolean): number[] {
    const out: number[] = [];
    this.ops.forEach((op, index) => {
      if (op.kind === "setNoDelay" && op.value === value) out.push(index);
    });
    return out;
  }

  count(kind: "pause" | "resume" | "end" | "destroy"): number {
    return this.ops.filter((op) => op.kind === kind).length;
  }

  /** Forgets the recorded calls (the next phase of a test starts from a clean record). */
  clear(): void {
    this.ops.length = 0;
  }
}

/** The part of the runtime a session uses: `connect` (recorded) and the clock. */
export class FakeRuntime {
  readonly clock: FakeClock;
  readonly servers: FakeConnection[] = [];
  readonly connects: ConnectOptions[] = [];

  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  connect(options: ConnectOptions, handler: ConnectionHandler): Connection {
    const conn = new FakeConnection(
      { address: options.host, port: options.port, family: 4 },
      { address: "", port: 0, family: 4 },
      false,
    );
    conn.setHandler(handler);
    this.connects.push(options);
    this.servers.push(conn);
    return conn;
  }

  now(): number {
    return this.clock.now();
  }

  wallClock(): number {
    return 1_700_000_000_000 + this.clock.now();
  }

  setTimer(ms: number, callback: () => void): unknown {
    return this.clock.setTimer(ms, callback);
  }

  clearTimer(handle: unknown): void {
    this.clock.clearTimer(handle);
  }
}

export class FakeHost implements HttpSessionHost {
  readonly runtime: Runtime;
  readonly fakeRuntime: FakeRuntime;
  readonly wheel: TimerWheel;
  readonly logger = SILENT_LOGGER;
  readonly serverPool: ServerPool;
  readonly draining = false;
  readonly ended: object[] = [];
  readonly name = "fake";
  readonly trafficLog = null;
  readonly bufferSize = 16_384;
  readonly activeSessions = 1;
  readonly processSessions = 1;
  readonly counters = new TrafficCounters();
  readonly timed = true;

  constructor() {
    const clock = new FakeClock(1_000);
    this.fakeRuntime = new FakeRuntime(clock);
    // Sessions only call connect(), now() and wallClock() on the runtime.
    this.runtime = this.fakeRuntime as unknown as Runtime;
    this.wheel = new TimerWheel(clock);
    this.serverPool = new ServerPool(this.wheel, () => clock.now());
  }

  sessionEnded(session: object): void {
    this.ended.push(session);
  }
}

// ---- configuration ----

type Table = Record<string, unknown>;

/** A real Config from a document: one http frontend "web", one backend "app" with one server. */
export function configFor(sections: { global?: Table; frontend?: Table; backend?: Table } = {}): Config {
  const document: Table = {
    defaults: { mode: "http" },
    frontends: { web: { bind: "127.0.0.1:0", "default-backend": "app", ...sections.frontend } },
    backends: { app: { servers: [{ name: "s1", address: "10.0.0.1:80" }], ...sections.backend } },
  };
  if (sections.global !== undefined) document.global = sections.global;
  const result = validateConfigDocument(document);
  const errors = result.issues.filter((issue) => issue.severity === "error");
  assert.deepEqual(errors, []);
  assert.ok(result.config !== undefined);
  return result.config;
}

export function backendOf(config: BackendConfig): Backend {
  return buildBackend(config, config.servers.map((server) => server.host));
}

export interface Rig {
  readonly host: FakeHost;
  readonly config: Config;
  readonly policy: HttpFrontendPolicy;
  readonly session: HttpSession;
  readonly client: FakeConnection;
  /** The server connections the session opened, in order. */
  readonly servers: FakeConnection[];
}

/** A session started on a fake client connection, with the configuration's frontend and backend. */
export function rig(config: Config = configFor()): Rig {
  const host = new FakeHost();
  const byName = new Map(config.backends.map((backend) => [backend.name, { backend: backendOf(backend), config: backend }]));
  const frontend = config.frontends[0]!;
  const policy = buildHttpFrontendPolicy(frontend, byName, config.global.tune);
  const session = new HttpSession(host, policy);
  const client = new FakeConnection(
    { address: "192.0.2.10", port: 50_000, family: 4 },
    { address: "127.0.0.1", port: 8_080, family: 4 },
    true,
  );
  session.start(client, frontend.timeouts);
  return { host, config, policy, session, client, servers: host.fakeRuntime.servers };
}

/** The client closes: the session ends and gives itself back (checks nothing was left half-done). */
export function hangUp(r: Rig): void {
  r.client.deliverEnd();
  r.client.deliverClose();
  assert.deepEqual(r.host.ended, [r.session]);
  r.host.serverPool.closeAll();
  r.host.wheel.close();
}

/** The only server connection opened so far. */
export function onlyServer(r: Rig): FakeConnection {
  assert.equal(r.servers.length, 1, "expected exactly one server connection");
  return r.servers[0]!;
}
