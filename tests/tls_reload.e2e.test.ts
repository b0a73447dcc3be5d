/**
 * Certificates in operation, end to end on the runtime running the tests: a renewed certificate
 * file is served after a `-sf` reload and after `-W` reloads (SIGUSR2, SIGHUP) while clients keep
 * making HTTPS requests, a new connection per request and keep-alive, and none fails; a broken
 * certificate on reload leaves the old process serving the old one and says why; `-W` workers get
 * their certificates from the master, never from the file system (their jail refuses the file, and
 * a worker restarted after the file broke serves what the master read); a failed handshake in a
 * worker is logged once.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, deadPort, exchange, ROOT, sleep, waitUntil } from "./_cli_helpers.ts";
import { httpOrigin } from "./_http_helpers.ts";
import { alive, MasterProcess, MIGRATE_REQ } from "./_process_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";
import { tcpSockets } from "./_tcp_queues.ts";

const RUNTIME = detectRuntimeName();
const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const fixture = (name: string): string => join(FIXTURES, name);
/** The renewed certificate has a CA of its own (scripts/gen_test_certs.sh): clients trust both. */
const TRUSTED = [readFileSync(fixture("ca.pem"), "utf8"), readFileSync(fixture("renewal-ca.pem"), "utf8")];
/** The SHA-256 fingerprint of a fixture's certificate, as node:tls reports a peer's. */
const fingerprint = (name: string): string => new X509Certificate(readFileSync(fixture(name))).fingerprint256;
const ORIGINAL = fingerprint("default.pem");
const RENEWED = fingerprint("renewed.pem");

/** One request's bound: a loaded 2-core machine starting a Node process beside the load is slow. */
const REQUEST_MS = 20_000;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A directory holding the configuration and a copy of a certificate fixture as `site.pem`. */
function workDirectory(): { path: string; site: string; config: (text: string) => string; useCertificate: (name: string) => void; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "proxy-tls-reload-"));
  const site = join(path, "site.pem");
  copyFileSync(fixture("default.pem"), site);
  return {
    path,
    site,
    config(text) {
      const file = join(path, "proxy.toml");
      writeFileSync(file, text);
      return file;
    },
    // Replaced in place, as a renewal that writes the file anew (certbot links to a new file: the same to a reader).
    useCertificate: (name) => writeFileSync(site, readFileSync(fixture(name))),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** An http frontend "web" with one TLS bind serving `site`, logging to stdout. */
function tlsConfig(port: number, site: string, origin: string, global = ""): string {
  return `
[global]
${global}

[defaults]
mode = "http"
timeout = { client = "10s", server = "10s", connect = "5s" }

[frontends.web]
bind = { address = "127.0.0.1:${port}", crt = "${site}" }
default-backend = "app"
log = { target = "stdout", format = "raw" }
log-format = "served-by=%pid %ST %sslv"

[backends.app]
servers = [{ name = "a", address = "${origin}" }]
`;
}

/** Why a request failed, and whether its TLS handshake had completed. */
interface Failure {
  readonly reason: string;
  readonly afterHandshake: boolean;
}

/**
 * A client that keeps making HTTPS GETs one after the other until stopped: on a new connection each
 * (`Connection: close`), or on keep-alive connections (a new one only when the proxy closes the
 * last, after a complete response). Nothing is retried: a request without a complete 200 response
 * is a failure. Each response is recorded with the certificate it came under.
 */
class HttpsLoad {
  readonly kind: "close" | "keep-alive";
  readonly port: number;
  /** The certificate fingerprint of each completed request, in order. */
  readonly served: string[] = [];
  readonly failures: Failure[] = [];
  connections = 0;
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(port: number, kind: "close" | "keep-alive") {
    this.port = port;
    this.kind = kind;
    this.done = this.run();
  }

  /** Stops after the request in progress. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
  }

  /** Waits until a request completed after the `from`th was served under `certificate`. */
  async servedSince(from: number, certificate: string, what: string): Promise<void> {
    await waitUntil(
      () => this.served.slice(from).includes(certificate) || this.failures.length > 50,
      `${this.kind} requests served under ${what} (failures so far: ${JSON.stringify(this.failures.slice(0, 5))})`,
      60_000,
    );
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const failed = await this.connection();
      // A proxy that refuses everything must not spin the test's own loop.
      if (failed) await sleep(10);
    }
  }

  /** One connection, its requests until it closes; true when a request failed on it. */
  private connection(): Promise<boolean> {
    this.connections++;
    return new Promise((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port: this.port, servername: "default.test", ca: TRUSTED });
      let certificate = "";
      let handshaken = false;
      let outstanding = false;
      let received = "";
      let settled = false;
      const finish = (failure: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (failure !== null) this.failures.push({ reason: failure, afterHandshake: handshaken });
        socket.destroy();
        resolve(failure !== null);
      };
      const timer = setTimeout(() => finish(`no response within ${REQUEST_MS} ms`), REQUEST_MS);
      const send = () => {
        outstanding = true;
        received = "";
        timer.refresh();
        socket.write(`GET / HTTP/1.1\r\nHost: default.test\r\n${this.kind === "close" ? "Connection: close\r\n" : ""}\r\n`);
      };
      socket.on("secureConnect", () => {
        handshaken = true;
        certificate = socket.getPeerCertificate().fingerprint256;
        send();
      });
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString("latin1");
        const head = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(received);
        if (head === null) return;
        const length = Number(/content-length: *(\d+)/i.exec(head[2]!)?.[1] ?? "-1");
        if (length < 0) return finish(`a response without Content-Length: ${JSON.stringify(received.slice(0, 200))}`);
        if (received.length < head[0].length + length) return;
        if (head[1] !== "200") return finish(`status ${head[1]}`);
        outstanding = false;
        this.served.push(certificate);
        const closing = this.kind === "close" || /(?:^|\r\n)connection: *close/i.test(head[2]!);
        // The proxy closes after a response that said so: that is the end of this connection, not a failure.
        if (closing || this.stopping) return finish(null);
        send();
      });
      socket.on("error", (error: NodeJS.ErrnoException) => finish(outstanding || !handshaken ? `${error.code ?? error.message}` : null));
      socket.on("close", () => finish(outstanding || !handshaken ? "closed before a response" : null));
    });
  }
}

/** One request on a new connection: the fingerprint of the certificate it was served under. */
function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "default.test", ca: TRUSTED });
    const timer = setTimeout(() => socket.destroy(new Error(`No response within ${REQUEST_MS} ms`)), REQUEST_MS);
    let received = "";
    let certificate = "";
    socket.on("secureConnect", () => {
      // Read now: once the connection closes, node:tls has no peer certificate to tell.
      certificate = socket.getPeerCertificate().fingerprint256;
      socket.write("GET / HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (!/^HTTP\/1\.1 200 /.test(received)) reject(new Error(`Unexpected answer ${JSON.stringify(received)}`));
      else resolve(certificate);
    });
  });
}

/**
 * Resolves once the proxy listening on `port` has accepted the connection from `fromPort` and read
 * what it was sent: its side of the connection is listed with nothing left in its receive queue.
 * Until then the connection may still wait in the accept queue, where a listener's close resets it.
 */
async function readByProxy(port: number, fromPort: number): Promise<void> {
  await waitUntil(
    () => tcpSockets().some((socket) => socket.localPort === port && socket.remotePort === fromPort && socket.receiveQueue === 0),
    `the proxy to accept and read the connection from port ${fromPort}`,
  );
}

/**
 * A TCP relay to `port` that passes the client's first `head` bytes (a part of its ClientHello) and
 * holds the rest until `release()`: once `forwarded` resolves, the proxy has accepted the connection
 * and read those bytes, and is in its handshake for as long as the test needs.
 */
async function gatedRelay(port: number, head: number): Promise<{ port: number; forwarded: Promise<void>; release: () => void; close: () => void }> {
  const sockets = new Set<net.Socket>();
  let released = false;
  const held: Buffer[] = [];
  let upstream: net.Socket | undefined;
  let forwarded!: () => void;
  const forwardedPromise = new Promise<void>((resolve) => (forwarded = resolve));
  const server = net.createServer((client) => {
    const target = net.connect({ host: "127.0.0.1", port });
    upstream = target;
    sockets.add(client).add(target);
    let passed = 0;
    client.on("data", (chunk: Buffer) => {
      if (released) {
        target.write(chunk);
        return;
      }
      const room = Math.max(0, head - passed);
      if (room > 0) {
        passed += Math.min(room, chunk.length);
        target.write(chunk.subarray(0, room), () => {
          if (passed >= head) void readByProxy(port, target.localPort!).then(forwarded);
        });
      }
      if (chunk.length > room) held.push(chunk.subarray(room));
    });
    target.on("data", (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, target]) {
      socket.on("error", () => {});
      socket.on("close", () => {
        client.destroy();
        target.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    forwarded: forwardedPromise,
    release() {
      released = true;
      for (const chunk of held.splice(0)) upstream?.write(chunk);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** Stops each load (never throws), for the clean-up. */
async function stopLoads(loads: readonly (HttpsLoad | undefined)[]): Promise<void> {
  await Promise.all(loads.map((load) => load?.stop()));
}

/** What a load did, for the report: requests, connections, failures. */
function summary(what: string, load: HttpsLoad): string {
  return `${RUNTIME}, ${what}, ${load.kind}: ${load.served.length} requests on ${load.connections} connections, ${load.failures.length} failed`;
}

/** Reads a load's failures for an assertion message. */
function describeFailures(load: HttpsLoad): string {
  return `${load.kind}: ${load.failures.length} failed of ${load.served.length + load.failures.length} (${load.connections} connections): ${JSON.stringify(load.failures.slice(0, 10))}`;
}

/** Starts both loads and waits until each has been served under `certificate`. */
async function startLoads(port: number, certificate: string): Promise<[HttpsLoad, HttpsLoad]> {
  const loads: [HttpsLoad, HttpsLoad] = [new HttpsLoad(port, "close"), new HttpsLoad(port, "keep-alive")];
  try {
    for (const load of loads) await load.servedSince(0, certificate, "the first certificate");
    return loads;
  } catch (error) {
    await stopLoads(loads);
    throw error;
  }
}

/** What each test starts from: an origin, a directory with `site.pem` and the configuration, a port. */
interface Scene {
  readonly directory: ReturnType<typeof workDirectory>;
  readonly port: number;
  /** The configuration file: frontend "web" serving `site.pem` on `port` in front of the origin. */
  readonly file: string;
}

/** Runs `run` in a fresh scene, removed afterwards whatever happens. */
async function inScene(run: (scene: Scene) => Promise<void>): Promise<void> {
  const origin = await httpOrigin((_request, response) => response.end("app"));
  const directory = workDirectory();
  try {
    const port = await deadPort();
    await run({ directory, port, file: directory.config(tlsConfig(port, directory.site, origin.address)) });
  } finally {
    directory.remove();
    await origin.close();
  }
}

/** Runs `run` with a -W master of one worker started on the scene's configuration, stopped afterwards. */
function withMaster(run: (scene: Scene, master: MasterProcess) => Promise<void>): Promise<void> {
  return inScene(async (scene) => {
    const master = new MasterProcess(["-W", "-f", scene.file]);
    try {
      await master.waitFor(/Master \(pid \d+\): 1 worker ready/, 0, 60_000);
      await run(scene, master);
    } finally {
      await master.stop();
    }
  });
}

describe(`certificates across reloads on ${RUNTIME}`, () => {
  test(`-sf: a renewed certificate is served once the new process took over, and no request fails (tcp_migrate_req ${MIGRATE_REQ})`, () =>
    inScene(async ({ directory, port, file }) => {
      const pidfile = join(directory.path, "proxy.pid");
      let a: CliProcess | undefined;
      let b: CliProcess | undefined;
      let loads: HttpsLoad[] = [];
      try {
        a = new CliProcess(["-f", file, "-p", pidfile]);
        await a.waitFor(/Frontend "web" \(http\) listening on /);
        loads = await startLoads(port, ORIGINAL);
        directory.useCertificate("renewed.pem");
        const marks = loads.map((load) => load.served.length);
        b = new CliProcess(["-f", file, "-p", pidfile, "-sf", String(a.pid)]);
        await b.waitFor(new RegExp(`Told old process\\(es\\) ${a.pid} to finish their sessions \\(SIGUSR1\\)`), 60_000);
        assert.equal(await a.waitExit(60_000), 0, a.stderr);
        for (const [index, load] of loads.entries()) await load.servedSince(marks[index]!, RENEWED, "the renewed certificate");
        assert.equal(await servedCertificate(port), RENEWED);
        await stopLoads(loads);
        for (const load of loads) {
          // With tcp_migrate_req at 0, Linux resets a connection still in the closing listener's accept
          // queue (docs/operations.md, section 2): before any TLS byte, and only on a new connection.
          const queueResets = MIGRATE_REQ === "1" ? [] : load.failures.filter((failure) => !failure.afterHandshake && failure.reason === "ECONNRESET");
          console.log(`${summary("-sf", load)}${queueResets.length > 0 ? ` (${queueResets.length} accept-queue resets, tcp_migrate_req ${MIGRATE_REQ})` : ""}`);
          assert.equal(load.failures.length - queueResets.length, 0, describeFailures(load));
          assert.ok(load.served.includes(ORIGINAL) && load.served.includes(RENEWED));
        }
        assert.equal(b.running, true);
      } finally {
        await stopLoads(loads);
        await a?.stop();
        await b?.stop();
      }
    }));

  test("a handshake in progress when the process is told to finish completes, is answered, and only then does the process exit", () =>
    inScene(async ({ port, file }) => {
      let proxy: CliProcess | undefined;
      let relay: Awaited<ReturnType<typeof gatedRelay>> | undefined;
      try {
        proxy = new CliProcess(["-f", file]);
        await proxy.waitFor(/Frontend "web" \(http\) listening on /);
        // 40 bytes: the record header and the start of the ClientHello, never a whole one.
        relay = await gatedRelay(port, 40);
        const served = servedCertificate(relay.port);
        await relay.forwarded;
        proxy.sendSignal("SIGUSR1");
        await proxy.waitFor(/SIGUSR1 received: stopped listening/);
        assert.equal(proxy.running, true, "the process waits for the handshake it accepted");
        relay.release();
        assert.equal(await served, ORIGINAL);
        assert.equal(await proxy.waitExit(), 0);
      } finally {
        relay?.close();
        await proxy?.stop();
      }
    }));

  test("-sf with a broken certificate: the new process exits 1 naming the file, the old one serves the old certificate untouched", () =>
    inScene(async ({ directory, port, file }) => {
      let a: CliProcess | undefined;
      let b: CliProcess | undefined;
      try {
        a = new CliProcess(["-f", file]);
        await a.waitFor(/Frontend "web" \(http\) listening on /);
        directory.useCertificate("mismatch.pem");
        b = new CliProcess(["-f", file, "-sf", String(a.pid)]);
        assert.equal(await b.waitExit(60_000), 1);
        assert.match(
          b.stderr,
          new RegExp(`${escape(file)}:\\d+:\\d+: frontends\\.web\\.bind\\.crt: Certificate "${escape(directory.site)}": The private key does not belong to the certificate`),
        );
        assert.equal(await servedCertificate(port), ORIGINAL);
        assert.doesNotMatch(a.stderr, /SIG/, "the old process was sent nothing");
        assert.equal(a.running, true);
      } finally {
        await a?.stop();
        await b?.stop();
      }
    }));

  test("-W: SIGUSR2 then SIGHUP load the certificate file anew each time; the old workers finish, and no request fails", () =>
    withMaster(async ({ directory, port }, master) => {
      let loads: HttpsLoad[] = [];
      try {
        loads = await startLoads(port, ORIGINAL);
        for (const [signal, certificate] of [["SIGUSR2", "renewed.pem"], ["SIGHUP", "default.pem"]] as const) {
          const old = master.readyWorkers().map((worker) => worker.pid).filter(alive);
          directory.useCertificate(certificate);
          const marks = loads.map((load) => load.served.length);
          const mark = master.stderr.length;
          master.signalMaster(signal);
          await master.waitFor(/Reload done: 1 worker of generation \d+ ready in \d+ ms, 1 worker of generation \d+ finishing/, mark, 60_000);
          for (const pid of old) await master.waitFor(new RegExp(`Worker \\d \\(pid ${pid}\\) exited with code 0`), mark, 60_000);
          const expected = fingerprint(certificate);
          for (const [index, load] of loads.entries()) await load.servedSince(marks[index]!, expected, certificate);
          assert.equal(await servedCertificate(port), expected, `after ${signal}`);
        }
        await stopLoads(loads);
        for (const load of loads) {
          console.log(summary("-W, SIGUSR2 and SIGHUP", load));
          assert.equal(load.failures.length, 0, describeFailures(load));
          assert.ok(load.served.includes(RENEWED));
        }
        assert.equal(master.running, true);
      } finally {
        await stopLoads(loads);
      }
    }));

  test("-W with a broken certificate on SIGUSR2: the master names the file, the workers keep serving the old certificate; one restarted later gets it from the master", () =>
    withMaster(async ({ directory, port, file }, master) => {
      const [worker] = master.readyWorkers();
      directory.useCertificate("mismatch.pem");
      const mark = master.stderr.length;
      master.signalMaster("SIGUSR2");
      const failure = await master.waitFor(
        /Reload failed, the running workers keep serving: Configuration has 1 error:\n(\S+):\d+:\d+: frontends\.web\.bind\.crt: Certificate "([^"]+)": The private key does not belong to the certificate/,
        mark,
        60_000,
      );
      assert.equal(failure[1], file);
      assert.equal(failure[2], directory.site);
      assert.equal(await servedCertificate(port), ORIGINAL);
      assert.deepEqual(master.readyWorkers(mark), [], "no new generation");
      assert.ok(alive(worker!.pid));
      // The file is broken now: a worker started again serves what the master read at the last good load.
      process.kill(worker!.pid, "SIGKILL");
      await master.waitFor(/Worker 1 \(pid \d+\) ready in \d+ ms \(restarted\)/, mark, 60_000);
      assert.equal(await servedCertificate(port), ORIGINAL);
    }));

  test("-W workers serve TLS with certificates they cannot read (the jail refuses the file), and log a failed handshake once", () =>
    withMaster(async ({ directory, port }, master) => {
      const [worker] = master.readyWorkers();
      const prefix = `Worker 1 \\(pid ${worker!.pid}\\): `;
      if (RUNTIME === "bun") {
        await master.waitFor(new RegExp(`${prefix}File system open: bun has no permission model`));
      } else {
        const jail = RUNTIME === "deno" ? "deno-permissions" : "node-permission-model";
        // The probe is the certificate file itself: what the worker serves, it could not have read.
        await master.waitFor(new RegExp(`${prefix}File system closed: reading "${escape(directory.site)}" was denied \\(${jail}\\)`));
      }
      assert.equal(await servedCertificate(port), ORIGINAL);
      // Garbage on the TLS port: the worker closes it and logs the failed handshake once.
      const garbage = await exchange(port, new Uint8Array(64).fill(0xfe), false);
      assert.equal(garbage.length === 0 || garbage[0] === 21, true, garbage.toString("hex"));
      await waitUntil(() => /SSL handshake failure/.test(master.stdout), `the handshake failure in the worker's log:\n${master.stdout}`);
      assert.equal(master.stdout.match(/SSL handshake failure \([^)]+\)/g)!.length, 1, master.stdout);
      assert.match(master.stdout, /127\.0\.0\.1:\d+ \[[^\]]+\] web\/1: SSL handshake failure \([^)]+\)/);
      assert.match(master.stdout, new RegExp(`served-by=${worker!.pid} 200 TLSv1\\.[23]`));
    }));
});
