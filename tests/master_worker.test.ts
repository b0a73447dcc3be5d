/**
 * The pure parts of -W: control-channel framing, the configuration hand-over, the worker's logger,
 * the jail self-check and the systemd notifications (with a scripted runtime), and the control
 * channel over real loopback connections of the runtime running the tests.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ControlChannel,
  encodeFrame,
  failureMessage,
  formatMasterAddress,
  FrameDecoder,
  MAX_FAILURE_MESSAGE_CHARS,
  parseMasterAddress,
  parseWorkerFrame,
  randomToken,
  sameToken,
} from "../src/lifecycle/control_channel.ts";
import type { Frame } from "../src/lifecycle/control_channel.ts";
import { certificateFilesRead, configFromSetup, newTicketKeys, parseWorkerSetup, readConfig, ticketKeyBytes } from "../src/lifecycle/config_handover.ts";
import type { WorkerSetup } from "../src/lifecycle/config_handover.ts";
import { verbosityOfArgs, workerLogger, workerPrefix } from "../src/lifecycle/worker_logger.ts";
import { checkJail, chooseJailProbe, FALLBACK_JAIL_PROBE } from "../src/lifecycle/jail_check.ts";
import { NOTIFY_TIMEOUT_MS, SystemdNotifier } from "../src/lifecycle/systemd_notify.ts";
import { LifecycleError } from "../src/lifecycle/errors.ts";
import {
  RESTART_DELAY_MAX_MS,
  RESTART_DELAY_MIN_MS,
  RESTART_STABLE_MS,
  restartBackoff,
} from "../src/lifecycle/worker_generation.ts";
import { ConfigFileError } from "../src/config/load.ts";
import { currentRuntime } from "../src/runtime/detect.ts";
import type {
  ChildExit,
  ChildProcess,
  FileAccess,
  InheritableSocket,
  JailKind,
  ListenOptions,
  Runtime,
} from "../src/runtime/types.ts";
import { NetError } from "../src/runtime/net_error.ts";
import { inheritedListeners, inheritedSocketSetup, MasterListeners } from "../src/lifecycle/listener_handover.ts";
import { loadConfigSources } from "../src/config/load.ts";
import type { Config } from "../src/config/types.ts";
import type { Logger } from "../src/core/logger.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

describe("control channel framing", () => {
  test("frames survive any chunking, byte by byte included", () => {
    const stream = new Uint8Array([
      ...encodeFrame({ type: "hello", token: "ab", pid: 7 }),
      ...encodeFrame({ type: "failed", message: "line one\nline two, é 日本 🚀" }),
      ...encodeFrame({ type: "ready" }),
    ]);
    const expected = [
      { type: "hello", token: "ab", pid: 7 },
      { type: "failed", message: "line one\nline two, é 日本 🚀" },
      { type: "ready" },
    ];
    assert.deepEqual(decodeAll(new FrameDecoder(1024), [stream]), expected);
    const oneByOne = [...stream].map((byte) => new Uint8Array([byte]));
    const decoder = new FrameDecoder(1024);
    assert.deepEqual(decodeAll(decoder, oneByOne), expected);
    assert.equal(decoder.bufferedBytes, 0);
    for (let cut = 1; cut < stream.length; cut += 7) {
      assert.deepEqual(
        decodeAll(new FrameDecoder(1024), [stream.subarray(0, cut), stream.subarray(cut)]),
        expected,
        `cut at ${cut}`,
      );
    }
  });

  test("a frame of exactly the limit passes, one byte more closes", () => {
    const frame = encodeFrame({ type: "x", pad: "a".repeat(100) });
    const body = frame.length - 1;
    assert.equal(new FrameDecoder(body).push(frame).length, 1);
    assert.throws(() => new FrameDecoder(body - 1).push(frame), /Control frame over \d+ bytes/);
    // Held across chunks too, before any newline arrives.
    const decoder = new FrameDecoder(10);
    decoder.push(bytes('{"type":'));
    assert.throws(
      () => decoder.push(bytes('"abc"')),
      (error: unknown) => error instanceof LifecycleError && error.code === "LIFECYCLE_WORKER",
    );
  });

  test("a line that is not a JSON object with a string type is refused", () => {
    for (const line of ["not json", "[1,2]", "42", "null", '"text"', '{"kind":"x"}', '{"type":3}', ""]) {
      assert.throws(() => new FrameDecoder(100).push(bytes(line + "\n")), LifecycleError, line);
    }
    assert.throws(
      () => new FrameDecoder(100).push(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a])),
      /not UTF-8/,
    );
  });

  test("worker frames are checked field by field", () => {
    assert.deepEqual(parseWorkerFrame({ type: "hello", token: "t", pid: 12 }), {
      type: "hello",
      token: "t",
      pid: 12,
    });
    assert.deepEqual(parseWorkerFrame({ type: "ready", extra: 1 }), { type: "ready" });
    assert.deepEqual(parseWorkerFrame({ type: "failed", message: "m" }), { type: "failed", message: "m" });
    for (
      const frame of [
        { type: "hello", token: 1, pid: 12 },
        { type: "hello", token: "t", pid: 0 },
        { type: "hello", token: "t", pid: 1.5 },
        { type: "failed" },
        { type: "setup" },
      ]
    ) {
      assert.throws(() => parseWorkerFrame(frame), LifecycleError, JSON.stringify(frame));
    }
  });

  test("a long failure message is cut to fit a worker frame", () => {
    assert.equal(failureMessage("short"), "short");
    const cut = failureMessage("x".repeat(MAX_FAILURE_MESSAGE_CHARS * 2));
    assert.ok(cut.length < MAX_FAILURE_MESSAGE_CHARS + 20 && cut.endsWith("(cut)"));
  });

  test("the master address round-trips and malformed values are refused", () => {
    const token = randomToken();
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.notEqual(randomToken(), token);
    const value = formatMasterAddress({ host: "127.0.0.1", port: 40123, token });
    assert.deepEqual(parseMasterAddress(value), { host: "127.0.0.1", port: 40123, token });
    for (
      const bad of [
        "",
        "127.0.0.1:0 " + token,
        "127.0.0.1:70000 " + token,
        "localhost:80 " + token,
        "127.0.0.1:80",
        `127.0.0.1:80 ${token} x`,
      ]
    ) {
      assert.throws(() => parseMasterAddress(bad), LifecycleError, bad);
    }
  });

  test("tokens compare equal only when identical", () => {
    assert.equal(sameToken("abcd", "abcd"), true);
    assert.equal(sameToken("abcd", "abce"), false);
    assert.equal(sameToken("abcd", "abc"), false);
  });
});

describe("control channel over loopback", () => {
  async function pair(maxFrame: number): Promise<{
    server: { frames: Frame[]; closed: Promise<string | undefined>; channel: Promise<ControlChannel> };
    client: ControlChannel;
    clientFrames: Frame[];
    clientClosed: Promise<string | undefined>;
    stop: () => Promise<void>;
  }> {
    const runtime = currentRuntime();
    const frames: Frame[] = [];
    let resolveClosed!: (reason: string | undefined) => void;
    const closed = new Promise<string | undefined>((resolve) => (resolveClosed = resolve));
    let resolveChannel!: (channel: ControlChannel) => void;
    const accepted = new Promise<ControlChannel>((resolve) => (resolveChannel = resolve));
    const listener = await runtime.listen(
      { host: "127.0.0.1", port: 0, backlog: 8, reusePort: false },
      (connection) => {
        const channel = new ControlChannel(maxFrame, {
          onFrame: (frame) => {
            if (frame.type === "boom") throw new Error("refused by the receiver");
            frames.push(frame);
            if (frame.type === "ping") channel.send({ type: "pong" });
          },
          onClose: resolveClosed,
        });
        channel.attach(connection);
        resolveChannel(channel);
      },
      () => {},
    );
    const clientFrames: Frame[] = [];
    let resolveClientClosed!: (reason: string | undefined) => void;
    const clientClosed = new Promise<string | undefined>((resolve) => (resolveClientClosed = resolve));
    const client = new ControlChannel(1024, {
      onFrame: (frame) => clientFrames.push(frame),
      onClose: resolveClientClosed,
    });
    runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true }, client);
    await client.opened;
    return {
      server: { frames, closed, channel: accepted },
      client,
      clientFrames,
      clientClosed,
      stop: async () => {
        client.destroy(undefined);
        (await accepted).destroy(undefined);
        await listener.close();
      },
    };
  }

  async function within<T>(promise: Promise<T>, ms = 5_000): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timed out")), ms))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  test("frames go both ways and an orderly close is reported without a reason", async () => {
    const { server, client, clientFrames, clientClosed, stop } = await pair(1024);
    try {
      assert.equal(client.send({ type: "ping", n: 1 }), true);
      for (let i = 0; i < 100 && clientFrames.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(server.frames, [{ type: "ping", n: 1 }]);
      assert.deepEqual(clientFrames, [{ type: "pong" }]);
      client.close();
      assert.equal(await within(server.closed), undefined);
      assert.equal(await within(clientClosed), undefined);
      assert.equal(client.isOpen, false);
      assert.equal(client.send({ type: "ping" }), false);
    } finally {
      await stop();
    }
  });

  test("an oversized frame closes the channel with the reason", async () => {
    const { server, client, clientClosed, stop } = await pair(64);
    try {
      client.send({ type: "big", pad: "x".repeat(200) });
      assert.match((await within(server.closed)) ?? "", /Control frame over 64 bytes/);
      await within(clientClosed);
      assert.deepEqual(server.frames, []);
    } finally {
      await stop();
    }
  });

  test("a frame the receiver refuses closes the channel, and later frames are not delivered", async () => {
    const { server, client, stop } = await pair(1024);
    try {
      client.send({ type: "boom" });
      client.send({ type: "ping" });
      assert.equal(await within(server.closed), "refused by the receiver");
      assert.deepEqual(server.frames, []);
    } finally {
      await stop();
    }
  });
});

function tempDirectory(): { path: string; file: (name: string, text: string) => string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "proxy-handover-"));
  return {
    path,
    file(name, text) {
      const file = join(path, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

function setupOf(read: Awaited<ReturnType<typeof readConfig>>, noReusePort = false): WorkerSetup {
  // Through JSON, as over the channel.
  return parseWorkerSetup(JSON.parse(JSON.stringify({
    config: read.handover,
    noReusePort,
    identity: { uid: 65534, gid: 65534 },
    hostname: "edge-1",
    jailProbe: "/etc/passwd",
    verbosity: "verbose",
    listeners: null,
    tlsTicketKeys: newTicketKeys(),
  })));
}

describe("configuration hand-over", () => {
  test("the worker rebuilds from the texts exactly the config the master validated, errorfiles included", async () => {
    const directory = tempDirectory();
    try {
      const page =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown";
      const errorFile = directory.file("503.http", page);
      const base = directory.file(
        "base.toml",
        `
[frontends.web]
bind = "127.0.0.1:8080"
mode = "http"
default-backend = "app"
errorfiles = { 503 = "${errorFile}" }

[backends.app]
mode = "http"
servers = [{ name = "a", address = "127.0.0.1:9001" }]
`,
      );
      const override = directory.file(
        "override.toml",
        `
[global]
workers = 2

[backends.app]
servers = [{ name = "b", address = "127.0.0.1:9002" }]
`,
      );
      const read = await readConfig([base, override], null, false, { readTextFile: (path) => readFile(path, "utf8") });
      assert.equal(read.handover.kind, "files");
      if (read.handover.kind !== "files") return;
      assert.deepEqual(read.handover.sources.map((source) => source.name), [base, override]);
      assert.deepEqual(read.handover.errorFiles, [[errorFile, page]]);
      // The files may change or vanish now: the worker needs none of them.
      directory.remove();
      const setup = setupOf(read);
      const rebuilt = configFromSetup(setup);
      assert.deepEqual(rebuilt, read.config);
      assert.equal(rebuilt.global.workers, 2);
      assert.equal(rebuilt.backends[0]!.servers[0]!.name, "b");
      assert.deepEqual(setup.identity, { uid: 65534, gid: 65534 });
      assert.equal(setup.hostname, "edge-1");
    } finally {
      directory.remove();
    }
  });

  test("--no-reuseport reaches the worker's binds", async () => {
    const directory = tempDirectory();
    try {
      const file = directory.file(
        "p.toml",
        `
[frontends.f]
bind = "127.0.0.1:8080"
default-backend = "b"
[backends.b]
servers = [{ name = "s", address = "127.0.0.1:9001" }]
`,
      );
      const read = await readConfig([file], null, true, { readTextFile: (path) => readFile(path, "utf8") });
      assert.equal(read.config.frontends[0]!.binds[0]!.reusePort, false);
      assert.equal(configFromSetup(setupOf(read, true)).frontends[0]!.binds[0]!.reusePort, false);
    } finally {
      directory.remove();
    }
  });

  test("an invalid file fails with its positions, as on the command line", async () => {
    const directory = tempDirectory();
    try {
      const file = directory.file(
        "bad.toml",
        `[frontends.f]\nbind = "127.0.0.1:8080"\ndefault-backend = "missing"\n`,
      );
      await assert.rejects(
        readConfig([file], null, false, { readTextFile: (path) => readFile(path, "utf8") }),
        (error: unknown) => error instanceof ConfigFileError && error.message.includes(`${file}:3:`),
      );
    } finally {
      directory.remove();
    }
  });

  test("the quick start is handed over as its flags", async () => {
    const options = {
      bind: ["127.0.0.1:8080"],
      backend: ["127.0.0.1:9001,127.0.0.1:9002"],
      mode: "tcp",
      reusePort: false,
      log: [],
    };
    const read = await readConfig([], options, true, { readTextFile: () => Promise.reject(new Error("no file is read")) });
    assert.deepEqual(read.handover, { kind: "quick-start", options, tlsFiles: [] });
    assert.deepEqual(configFromSetup(setupOf(read, true)), read.config);
    assert.equal(read.config.backends[0]!.servers.length, 2);
  });

  test("TLS session ticket keys: 48 random bytes, the same bytes on the worker's side", () => {
    const keys = newTicketKeys();
    assert.notEqual(keys, newTicketKeys());
    const setup = parseWorkerSetup(JSON.parse(JSON.stringify({
      config: { kind: "quick-start", options: { bind: ["a"], backend: ["b"] }, tlsFiles: [] },
      noReusePort: false, identity: null, hostname: "h", jailProbe: null, verbosity: "normal", listeners: null, tlsTicketKeys: keys,
    })));
    const bytes = ticketKeyBytes(setup);
    assert.equal(bytes.length, 48);
    assert.equal(btoa(String.fromCharCode(...bytes)), keys);
  });

  test("a malformed setup is refused", () => {
    const good = {
      config: { kind: "quick-start", options: { bind: ["a"], backend: ["b"] }, tlsFiles: [] },
      noReusePort: false,
      identity: null,
      hostname: "h",
      jailProbe: null,
      verbosity: "normal",
      listeners: null,
      tlsTicketKeys: newTicketKeys(),
    };
    assert.equal(parseWorkerSetup(good).identity, null);
    const listeners = [{ frontend: "web", bind: 0, fd: 3, host: "127.0.0.1", port: 8080 }];
    assert.deepEqual(parseWorkerSetup({ ...good, listeners }).listeners, listeners);
    const socket = listeners[0]!;
    const broken: Record<string, unknown>[] = [
      { ...good, identity: { uid: -1, gid: 0 } },
      { ...good, identity: undefined },
      { ...good, noReusePort: "no" },
      { ...good, hostname: 1 },
      { ...good, jailProbe: 3 },
      { ...good, verbosity: "loud" },
      { ...good, config: { kind: "files", sources: [], errorFiles: [] } },
      { ...good, config: { kind: "files", sources: [{ name: "a" }], errorFiles: [] } },
      { ...good, config: { kind: "files", sources: [{ name: "a", text: "" }], errorFiles: [["a"]] } },
      { ...good, config: { kind: "quick-start", options: { bind: "a", backend: ["b"] } } },
      { ...good, config: { kind: "other" } },
      { ...good, config: { kind: "quick-start", options: { bind: ["a"], backend: ["b"] } } },
      { ...good, config: { kind: "quick-start", options: { bind: ["a"], backend: ["b"] }, tlsFiles: [["a.pem", { text: 1 }]] } },
      { ...good, listeners: undefined },
      { ...good, tlsTicketKeys: undefined },
      { ...good, tlsTicketKeys: "c2hvcnQ=" },
      { ...good, listeners: socket },
      { ...good, listeners: [{ ...socket, fd: 2 }] },
      { ...good, listeners: [{ ...socket, bind: -1 }] },
      { ...good, listeners: [{ ...socket, port: 0 }] },
      { ...good, listeners: [{ ...socket, host: 1 }] },
      { ...good, listeners: [{ ...socket, frontend: null }] },
    ];
    for (const setup of broken) {
      assert.throws(() => parseWorkerSetup(setup), LifecycleError, JSON.stringify(setup));
    }
  });
});

/** Binds nothing: records what the master asks for, hands out fake sockets, fails where told. */
class BindRecorder {
  readonly asked: ListenOptions[] = [];
  readonly closed: string[] = [];
  readonly failing = new Map<number, NetError>();
  private nextPort = 40_000;

  bindInheritable(options: ListenOptions): Promise<InheritableSocket> {
    this.asked.push(options);
    const failure = this.failing.get(options.port);
    if (failure !== undefined) return Promise.reject(failure);
    const port = options.port === 0 ? this.nextPort++ : options.port;
    const address = { address: options.host, port, family: options.host.includes(":") ? 6 : 4 } as const;
    const closed = this.closed;
    return Promise.resolve({
      address,
      close: () => closed.push(`${options.host}:${port}`),
    });
  }
}

function configOf(text: string): Config {
  return loadConfigSources([{ name: "test.toml", text }]).config;
}

function webConfig(binds: string, more = ""): Config {
  return configOf(`
[frontends.web]
bind = ${binds}
default-backend = "app"
${more}
[backends.app]
servers = [{ name = "a", address = "127.0.0.1:9001" }]
`);
}

describe("listener hand-over", () => {
  test("the master binds each address once, keeps it across generations, binds what a reload adds and closes what it drops when told", async () => {
    const recorder = new BindRecorder();
    const listeners = new MasterListeners(recorder as unknown as Runtime);
    const first = webConfig(
      '["127.0.0.1:8080", "127.0.0.1:0"]',
      '[frontends.api]\nbind = "[::]:9090"\ndefault-backend = "app"\n',
    );
    const one = await listeners.bindFor(first);
    assert.deepEqual(one.binds, [
      { frontend: "web", bind: 0, host: "127.0.0.1", port: 8080 },
      { frontend: "web", bind: 1, host: "127.0.0.1", port: 40_000 },
      { frontend: "api", bind: 0, host: "::", port: 9090 },
    ]);
    // Each worker is told its own descriptor of each, whatever numbers its runtime gave them.
    assert.deepEqual(inheritedSocketSetup(one, [3, 4, 5]).map((entry) => [entry.frontend, entry.bind, entry.fd]), [
      ["web", 0, 3],
      ["web", 1, 4],
      ["api", 0, 5],
    ]);
    assert.deepEqual(inheritedSocketSetup(one, [21, 22, 23]).map((entry) => entry.fd), [21, 22, 23]);
    assert.throws(() => inheritedSocketSetup(one, [3]), /inherited 1 socket\(s\) of 3/);
    assert.deepEqual(recorder.asked.map((options) => [options.host, options.port, options.reusePort, options.ipv6Only]), [
      ["127.0.0.1", 8080, true, false],
      ["127.0.0.1", 0, true, false],
      ["::", 9090, true, true],
    ]);
    // The same configuration again (a reload, a restart): the same sockets, nothing bound.
    const again = await listeners.bindFor(first);
    assert.equal(recorder.asked.length, 3);
    assert.deepEqual(again.sockets, one.sockets);
    // A reload that keeps 8080, drops the free port and the api frontend, adds 8081.
    const second = await listeners.bindFor(webConfig('["127.0.0.1:8081", "127.0.0.1:8080"]'));
    assert.deepEqual(recorder.asked.slice(3).map((options) => options.port), [8081]);
    assert.equal(second.sockets[1], one.sockets[0]);
    assert.deepEqual(second.binds.map((entry) => entry.port), [8081, 8080]);
    assert.deepEqual(recorder.closed, [], "nothing closes before the old generation is told to finish");
    listeners.keepOnly([second]);
    assert.deepEqual(recorder.closed.sort(), ["127.0.0.1:40000", ":::9090"].sort());
    assert.equal(listeners.size, 2);
    listeners.closeAll();
    assert.equal(listeners.size, 0);
    assert.deepEqual(recorder.closed.slice(2).sort(), ["127.0.0.1:8080", "127.0.0.1:8081"]);
  });

  test("a bind error closes what that call bound, keeps what was held, and names the frontend", async () => {
    const recorder = new BindRecorder();
    const listeners = new MasterListeners(recorder as unknown as Runtime);
    await listeners.bindFor(webConfig('"127.0.0.1:8080"'));
    recorder.failing.set(8082, new NetError("EADDRINUSE", 'Cannot bind "127.0.0.1:8082": address already in use'));
    await assert.rejects(
      listeners.bindFor(webConfig('["127.0.0.1:8080", "127.0.0.1:8083", "127.0.0.1:8082"]')),
      (error: unknown) =>
        error instanceof NetError && error.code === "EADDRINUSE" &&
        error.message === 'Frontend "web": Cannot bind "127.0.0.1:8082": address already in use',
    );
    assert.deepEqual(recorder.closed, ["127.0.0.1:8083"]);
    assert.equal(listeners.size, 1);
  });

  test("after a pause closed everything, a free-port bind gets its port back", async () => {
    const recorder = new BindRecorder();
    const listeners = new MasterListeners(recorder as unknown as Runtime);
    const config = webConfig('"127.0.0.1:0"');
    const before = await listeners.bindFor(config);
    listeners.closeAll();
    const after = await listeners.bindFor(config);
    assert.equal(recorder.asked[1]!.port, before.binds[0]!.port);
    assert.equal(after.binds[0]!.port, before.binds[0]!.port);
    // Dropped by a reload, it is forgotten: added back, it is any free port again.
    listeners.keepOnly([]);
    await listeners.bindFor(config);
    assert.equal(recorder.asked[2]!.port, 0);
  });

  test("a worker adopts each socket once, and refuses a setup that does not cover its binds", () => {
    const config = webConfig('["127.0.0.1:8080", "127.0.0.1:0"]');
    assert.equal(inheritedListeners(null, config), null);
    const setup = [
      { frontend: "web", bind: 0, fd: 3, host: "127.0.0.1", port: 8080 },
      { frontend: "web", bind: 1, fd: 4, host: "127.0.0.1", port: 40_001 },
    ];
    const table = inheritedListeners(setup, config)!;
    assert.deepEqual(table.take("web", 1), { fd: 4, host: "127.0.0.1", port: 40_001 });
    assert.deepEqual(table.take("web", 0), { fd: 3, host: "127.0.0.1", port: 8080 });
    // Closed once, the descriptor's number may be any file's: never adopted again.
    assert.throws(
      () => table.take("web", 0),
      (error: unknown) =>
        error instanceof LifecycleError && /Cannot listen on "127\.0\.0\.1:8080" again: its socket came from the master/.test(error.message),
    );
    assert.throws(() => table.take("other", 0), /no socket for bind 1 of frontend "other"/);
    assert.throws(() => inheritedListeners(setup.slice(1), config), /1 socket\(s\) for 2 bind\(s\)/);
  });
});

describe("worker logger", () => {
  test("prints like consola does without a terminal, naming the worker, at the master's verbosity", () => {
    const written: string[] = [];
    const logger = workerLogger((text) => written.push(text), workerPrefix(2, 4321), "normal");
    logger.info("listening");
    logger.notice("stopping");
    logger.warn("careful");
    logger.error("broken");
    logger.alert("worse");
    logger.debug("hidden");
    assert.deepEqual(written, [
      "ℹ Worker 2 (pid 4321): listening\n",
      "ℹ Worker 2 (pid 4321): stopping\n",
      "\n WARN  Worker 2 (pid 4321): careful\n\n",
      "\n ERROR  Worker 2 (pid 4321): broken\n\n",
      "\n ERROR  Worker 2 (pid 4321): worse\n\n",
    ]);
    const quiet: string[] = [];
    const quietLogger = workerLogger((text) => quiet.push(text), "", "quiet");
    quietLogger.info("no");
    quietLogger.warn("yes");
    assert.deepEqual(quiet, ["\n WARN  yes\n\n"]);
    const verbose: string[] = [];
    workerLogger((text) => verbose.push(text), "", "verbose").debug("detail");
    assert.deepEqual(verbose, ["⚙ detail\n"]);
  });

  test("reads -q and -V as the CLI does", () => {
    assert.equal(verbosityOfArgs(["-W", "-f", "a.toml"]), "normal");
    assert.equal(verbosityOfArgs(["-Wq", "-f", "a.toml"]), "quiet");
    assert.equal(verbosityOfArgs(["--verbose"]), "verbose");
    assert.equal(verbosityOfArgs(["--", "-q"]), "normal");
  });
});

/** A runtime whose only working parts are the ones a test scripts. */
function scriptedRuntime(parts: Partial<Runtime>): Runtime {
  return new Proxy(parts, {
    get(target, key) {
      if (key in target) return (target as Record<PropertyKey, unknown>)[key];
      throw new Error(`The test runtime has no ${String(key)}`);
    },
  }) as Runtime;
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return {
    lines,
    logger: {
      emerg: at("emerg"),
      alert: at("alert"),
      error: at("error"),
      warn: at("warn"),
      notice: at("notice"),
      info: at("info"),
      debug: at("debug"),
    },
  };
}

describe("jail self-check", () => {
  const info = (name: "node" | "bun" | "deno") => ({ name }) as Runtime["info"];
  const withAccess = (access: FileAccess, name: "node" | "bun" | "deno" = "deno") =>
    scriptedRuntime({ info: info(name), fileAccess: () => Promise.resolve(access) });

  test("each outcome is said, a jail that should hold and does not as a warning", async () => {
    const cases: [JailKind, FileAccess, string][] = [
      ["deno-permissions", "denied", 'info: File system closed: reading "/p" was denied (deno-permissions)'],
      [
        "node-permission-model",
        "readable",
        'warn: File system open: reading "/p" succeeded although this worker runs in the node-permission-model jail',
      ],
      [
        "deno-permissions",
        "failed",
        'warn: File system jail (deno-permissions) not checked: reading "/p" failed for a reason other than permissions',
      ],
    ];
    for (const [jail, access, line] of cases) {
      const { logger, lines } = recordingLogger();
      assert.equal(await checkJail(jail, "/p", withAccess(access), logger), access);
      assert.deepEqual(lines, [line]);
    }
    const { logger, lines } = recordingLogger();
    assert.equal(await checkJail("none", "/p", withAccess("readable", "bun"), logger), "no-jail");
    assert.match(lines[0]!, /^info: File system open: bun has no permission model/);
    assert.equal(await checkJail("deno-permissions", null, withAccess("denied"), logger), "no-probe");
  });

  test("the probe is the first configuration file the master can read, else the fallback", async () => {
    const readable = (paths: string[]) =>
      scriptedRuntime({
        fileAccess: (path: string) => Promise.resolve(paths.includes(path) ? "readable" : "failed"),
      });
    assert.equal(
      await chooseJailProbe(["/etc/p.toml", "/etc/q.toml"], readable(["/etc/p.toml", FALLBACK_JAIL_PROBE])),
      "/etc/p.toml",
    );
    assert.equal(
      await chooseJailProbe(["/etc/p.toml"], readable([FALLBACK_JAIL_PROBE])),
      FALLBACK_JAIL_PROBE,
    );
    assert.equal(await chooseJailProbe([], readable([])), null);
  });

  test("with certificates, the probe is the first certificate file the master read: a key is what the jail must keep", async () => {
    const readable = scriptedRuntime({ fileAccess: () => Promise.resolve("readable") });
    assert.equal(await chooseJailProbe(["/etc/p.toml"], readable, ["/etc/site.pem", "/etc/ca.pem"]), "/etc/site.pem");
    const handover = {
      kind: "files",
      sources: [{ name: "/etc/p.toml", text: "" }],
      errorFiles: [],
      tlsFiles: [["/etc/gone.pem", { error: "no such file", missing: true }], ["/etc/certs", { entries: ["/etc/certs/a.pem"] }], ["/etc/certs/a.pem", { text: "" }]],
    } as const;
    assert.deepEqual(certificateFilesRead(handover), ["/etc/certs/a.pem"]);
  });
});

describe("systemd notifications", () => {
  interface Spawned {
    command: string;
    args: readonly string[];
    finish: (exit: ChildExit) => void;
    killed: string[];
  }

  function notifyRuntime(notifySocket: string | undefined, onSpawn?: (spawned: Spawned) => void) {
    const spawned: Spawned[] = [];
    let micros = 1_000_000n;
    const timers: (() => void)[] = [];
    const runtime = scriptedRuntime({
      pid: 4242,
      env: (name: string) => (name === "NOTIFY_SOCKET" ? notifySocket : undefined),
      monotonicMicros: () => (micros += 1n),
      setTimer: (_ms: number, callback: () => void) => {
        timers.push(callback);
        return timers.length;
      },
      clearTimer: () => {},
      spawn: (command: string, args: readonly string[]): ChildProcess => {
        let finish!: (exit: ChildExit) => void;
        const exited = new Promise<ChildExit>((resolve) => (finish = resolve));
        const record: Spawned = { command, args, finish, killed: [] };
        spawned.push(record);
        onSpawn?.(record);
        return {
          pid: 100 + spawned.length,
          exited,
          inherited: [],
          kill: (signal) => {
            record.killed.push(signal);
            finish({ code: null, signal });
            return true;
          },
        };
      },
    });
    return { runtime, spawned, timers };
  }

  test("nothing is sent without NOTIFY_SOCKET", async () => {
    const { runtime, spawned } = notifyRuntime(undefined);
    const notifier = new SystemdNotifier(runtime, recordingLogger().logger);
    notifier.ready();
    notifier.stopping();
    await notifier.flush();
    assert.equal(notifier.enabled, false);
    assert.deepEqual(spawned, []);
  });

  test("notifications go out one at a time, in order, as the master", async () => {
    const { runtime, spawned } = notifyRuntime(
      "/run/systemd/notify",
      (record) => queueMicrotask(() => record.finish({ code: 0, signal: null })),
    );
    const { logger, lines } = recordingLogger();
    const notifier = new SystemdNotifier(runtime, logger);
    notifier.ready();
    notifier.reloading();
    notifier.ready();
    notifier.stopping();
    await notifier.flush();
    assert.deepEqual(spawned.map((record) => [record.command, ...record.args]), [
      ["systemd-notify", "--pid=4242", "READY=1"],
      ["systemd-notify", "--pid=4242", "RELOADING=1", "MONOTONIC_USEC=1000001"],
      ["systemd-notify", "--pid=4242", "READY=1"],
      ["systemd-notify", "--pid=4242", "STOPPING=1"],
    ]);
    assert.deepEqual(lines, []);
  });

  test("a failed, missing or stuck systemd-notify is a warning", async () => {
    let calls = 0;
    const { runtime, spawned, timers } = notifyRuntime("/run/systemd/notify", (record) => {
      calls++;
      if (calls === 1) queueMicrotask(() => record.finish({ code: 1, signal: null }));
      if (calls === 2) throw new Error('Cannot start "systemd-notify": not found');
      // The third never finishes: its timer fires.
    });
    const { logger, lines } = recordingLogger();
    const notifier = new SystemdNotifier(runtime, logger);
    notifier.ready();
    notifier.stopping();
    notifier.ready();
    for (let i = 0; i < 50 && spawned.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    timers.at(-1)!();
    await notifier.flush();
    assert.deepEqual(spawned[2]!.killed, ["SIGKILL"]);
    assert.deepEqual(lines, [
      'warn: Cannot notify systemd of "READY=1": systemd-notify exited with code 1',
      'warn: Cannot notify systemd of "STOPPING=1": Cannot start "systemd-notify": not found',
      `warn: Cannot notify systemd of "READY=1": systemd-notify did not finish within ${NOTIFY_TIMEOUT_MS} ms`,
    ]);
  });
});

describe("worker restart backoff", () => {
  test("starts at the minimum, doubles up to the maximum, and starts over after a healthy run", () => {
    const delays: number[] = [];
    let planned: number | undefined;
    for (let i = 0; i < 12; i++) {
      const { delay, next } = restartBackoff(planned, 50);
      delays.push(delay);
      planned = next;
    }
    assert.deepEqual(delays.slice(0, 4), [
      RESTART_DELAY_MIN_MS,
      RESTART_DELAY_MIN_MS * 2,
      RESTART_DELAY_MIN_MS * 4,
      RESTART_DELAY_MIN_MS * 8,
    ]);
    assert.equal(delays.at(-1), RESTART_DELAY_MAX_MS);
    assert.ok(delays.every((delay, i) => i === 0 || delay >= delays[i - 1]!));
    assert.equal(restartBackoff(RESTART_DELAY_MAX_MS, RESTART_STABLE_MS).delay, RESTART_DELAY_MIN_MS);
    assert.equal(restartBackoff(RESTART_DELAY_MAX_MS, RESTART_STABLE_MS - 1).delay, RESTART_DELAY_MAX_MS);
  });
});
