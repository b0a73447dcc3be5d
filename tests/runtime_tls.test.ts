/**
 * The runtime contract's TLS, on the runtime running the tests: a TLS listener hands over
 * connections once their handshake is done, with the facts on both ends (version, cipher, SNI,
 * ALPN, client certificate); the certificate picked by `selectCertificate`; failures as the
 * contract says (`ECERTVERIFY`, `ETLSHANDSHAKE`, `onHandshakeFailure`); clear bytes before the
 * handshake on both ends (`TlsServerOptions.prelude`, `ConnectOptions.preface`), where the runtime
 * says it can.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { currentRuntime } from "../src/runtime/detect.ts";
import type {
  Connection,
  ConnectionHandler,
  TlsClientOptions,
  TlsHandshakeFailure,
  TlsHandshakeStarter,
  TlsHandshakeTarget,
  TlsPreludeReader,
  TlsServerOptions,
} from "../src/runtime/types.ts";
import type { NetError } from "../src/runtime/net_error.ts";
import { ROOT } from "./_cli_helpers.ts";
import { readPem } from "../src/config/pem.ts";

const runtime = currentRuntime();
const read = (name: string): string => readFileSync(join(ROOT, "tests", "fixtures", "tls", name), "utf8");
const pair = (name: string) => {
  const pem = readPem(read(name));
  return { chain: pem.certificates, key: pem.key };
};
const CA = read("ca.pem");

/** Records a dialled connection's outcome: open (with what it received) or closed with an error. */
class Dialled implements ConnectionHandler {
  readonly opened: Promise<Connection>;
  readonly closed: Promise<NetError | undefined>;
  received = "";
  #open!: (conn: Connection) => void;
  #close!: (error: NetError | undefined) => void;
  constructor() {
    this.opened = new Promise((resolve) => (this.#open = resolve));
    this.closed = new Promise((resolve) => (this.#close = resolve));
  }
  onOpen(conn: Connection): void {
    this.#open(conn);
  }
  onData(_conn: Connection, chunk: Uint8Array): void {
    this.received += new TextDecoder().decode(chunk);
  }
  onDrain(): void {}
  onEnd(conn: Connection): void {
    conn.end();
  }
  onClose(_conn: Connection, error: NetError | undefined): void {
    this.#close(error);
  }
}

/** Echoes "hello" to each accepted connection and closes it. */
const GREETER: ConnectionHandler = {
  onOpen() {},
  onData(conn) {
    conn.write(new TextEncoder().encode("hello"));
    conn.end();
  },
  onDrain() {},
  onEnd(conn) {
    conn.end();
  },
  onClose() {},
};

async function tlsListener(overrides: Partial<TlsServerOptions> = {}) {
  const accepted: Connection[] = [];
  const failures: TlsHandshakeFailure[] = [];
  const names: string[] = [];
  const options: TlsServerOptions = {
    certificates: [pair("default.pem"), pair("exact.pem")],
    selectCertificate: (name) => {
      names.push(name);
      return name === "www.example.test" ? 1 : 0;
    },
    alpn: ["http/1.1"],
    minVersion: "TLSv1.2",
    verify: "optional",
    ca: CA,
    handshakeTimeout: 10_000,
    onHandshakeFailure: (failure) => failures.push(failure),
    ...overrides,
  };
  const listener = await runtime.listen(
    { host: "127.0.0.1", port: 0, backlog: 16, reusePort: false, tls: options },
    (conn) => {
      accepted.push(conn);
      conn.setHandler(GREETER);
    },
    () => {},
  );
  return { listener, accepted, failures, names };
}

function client(overrides: Partial<TlsClientOptions> = {}): TlsClientOptions {
  return { serverName: "www.example.test", verify: true, verifyName: "www.example.test", ca: CA, alpn: ["h2", "http/1.1"], minVersion: "TLSv1.2", ...overrides };
}

test("listen and connect with TLS: the certificate for the name, and the facts on both ends", async () => {
  const { listener, accepted } = await tlsListener();
  try {
    const dialled = new Dialled();
    const conn = runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true, tls: client({ certificate: { chain: read("client.crt"), key: read("client.key") } }) }, dialled);
    await dialled.opened;
    assert.equal(conn.tls?.serverName, "www.example.test");
    assert.equal(conn.tls?.alpn, "http/1.1");
    assert.match(conn.tls!.version, /^TLSv1\.[23]$/);
    assert.notEqual(conn.tls!.cipher, "");
    conn.write(new TextEncoder().encode("hi"));
    assert.equal(await dialled.closed, undefined);
    assert.equal(dialled.received, "hello");
    const server = accepted[0]!;
    assert.equal(server.tls?.serverName, "www.example.test");
    assert.equal(server.tls?.alpn, "http/1.1");
    assert.equal(server.tls?.peerCertificate, "valid");
    assert.equal(server.tls?.peerSubject, "/CN=client one/O=Test Clients");
  } finally {
    await listener.close();
  }
});

test("a certificate that does not verify closes with ECERTVERIFY; the name is checked too", async () => {
  const { listener } = await tlsListener();
  try {
    const unknownCa = new Dialled();
    runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true, tls: client({ ca: read("other-ca.pem") }) }, unknownCa);
    const error = await unknownCa.closed;
    assert.equal(error?.code, "ECERTVERIFY");
    assert.match(error!.message, /^Cannot connect to "127\.0\.0\.1:\d+": certificate verification failed: /);
    const wrongName = new Dialled();
    runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true, tls: client({ verifyName: "api.other.test" }) }, wrongName);
    assert.equal((await wrongName.closed)?.code, "ECERTVERIFY");
    const unchecked = new Dialled();
    runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true, tls: client({ ca: read("other-ca.pem"), verify: false }) }, unchecked);
    (await unchecked.opened).destroy();
    await unchecked.closed;
  } finally {
    await listener.close();
  }
});

test("a failed handshake: ETLSHANDSHAKE on the dialling side, onHandshakeFailure once on the listening side", async () => {
  const { listener, accepted, failures } = await tlsListener({ selectCertificate: (name) => (name === "default.test" ? 0 : -1) });
  try {
    const refused = new Dialled();
    runtime.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true, tls: client() }, refused);
    const error = await refused.closed;
    assert.equal(error?.code, "ETLSHANDSHAKE", error?.message);
    for (let i = 0; i < 200 && failures.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.remote.address, "127.0.0.1");
    assert.notEqual(failures[0]!.reason, "");
    assert.equal(accepted.length, 0, "no connection is handed over before its handshake is done");
  } finally {
    await listener.close();
  }
});

/**
 * A prelude of one line ("...\n"): read plain, then the connection goes to TLS with what followed
 * the line; a line "BAD\n" is refused (the connection destroyed). Records every outcome.
 */
class LinePrelude implements TlsPreludeReader, TlsHandshakeTarget {
  readonly lines: string[] = [];
  readonly secured: Connection[] = [];
  readonly failed: TlsHandshakeFailure[] = [];
  readonly refused: Connection[] = [];
  /** Each outcome, as it comes. */
  onOutcome: () => void = () => {};

  readPrelude(conn: Connection, handshake: TlsHandshakeStarter): void {
    assert.equal(conn.tls, undefined, "the prelude is read before TLS");
    let line = "";
    conn.setHandler({
      onOpen() {},
      onData: (socket, chunk) => {
        const end = chunk.indexOf(0x0a);
        line += new TextDecoder().decode(end < 0 ? chunk : chunk.subarray(0, end));
        if (end < 0) return;
        this.lines.push(line);
        if (line === "BAD") {
          socket.destroy();
          this.refused.push(socket);
          this.onOutcome();
          return;
        }
        handshake.start(socket, chunk.subarray(end + 1), this);
      },
      onDrain() {},
      onEnd() {},
      onClose() {},
    });
  }

  tlsAccepted(conn: Connection): void {
    this.secured.push(conn);
    conn.setHandler(GREETER);
    this.onOutcome();
  }

  tlsFailed(failure: TlsHandshakeFailure): void {
    this.failed.push(failure);
    this.onOutcome();
  }

  /** Resolves once `count` outcomes (handshakes done or failed, preludes refused) were recorded. */
  outcomes(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.secured.length + this.failed.length + this.refused.length >= count) resolve();
      };
      this.onOutcome = check;
      check();
    });
  }
}

test("clear bytes before the handshake: the preface a client sends is the prelude the listener reads, then TLS takes over, its outcome to the target only", { skip: !(runtime.info.tls.readBeforeHandshake && runtime.info.tls.writeBeforeHandshake) && "the runtime cannot (RuntimeInfo.tls)" }, async () => {
  const prelude = new LinePrelude();
  // Deno's TLS over a stream notices no FIN before the hello: the handshake timeout ends that one.
  const { listener, accepted, failures } = await tlsListener({ prelude, handshakeTimeout: 1_000 });
  try {
    // A preface and a verified handshake with a client certificate.
    const dialled = new Dialled();
    const conn = runtime.connect(
      { host: "127.0.0.1", port: listener.address.port, noDelay: true, preface: new TextEncoder().encode("PRELUDE 192.0.2.1\n"), tls: client({ certificate: { chain: read("client.crt"), key: read("client.key") } }) },
      dialled,
    );
    await dialled.opened;
    assert.equal(conn.tls?.serverName, "www.example.test");
    conn.write(new TextEncoder().encode("hi"));
    assert.equal(await dialled.closed, undefined);
    assert.equal(dialled.received, "hello");
    assert.deepEqual(prelude.lines, ["PRELUDE 192.0.2.1"]);
    const secured = prelude.secured[0]!;
    assert.equal(secured.tls?.serverName, "www.example.test");
    assert.equal(secured.tls?.alpn, "http/1.1");
    assert.equal(secured.tls?.peerCertificate, "valid");
    assert.equal(secured.tls?.peerSubject, "/CN=client one/O=Test Clients");
    assert.equal(secured.remote.address, "127.0.0.1");
    assert.equal(secured.remote.port, conn.local.port, "the TLS connection knows its peer's address");
    assert.equal(secured.local.port, listener.address.port);

    // A refused prelude (destroyed by the reader), then a prelude followed by no TLS, then silence:
    // nothing for the first, one failure each for the others, none of them to the listener.
    const raw = async (bytes: string): Promise<{ socket: net.Socket; port: number }> => {
      const socket = net.connect({ host: "127.0.0.1", port: listener.address.port });
      socket.on("error", () => {});
      await new Promise((resolve) => socket.on("connect", resolve));
      socket.write(bytes);
      return { socket, port: socket.localPort! };
    };
    const bad = await raw("BAD\n");
    await prelude.outcomes(2);
    const garbage = await raw("PRELUDE 192.0.2.2\n" + "\u00fe".repeat(64));
    await prelude.outcomes(3);
    assert.equal(prelude.failed.length, 1);
    assert.equal(prelude.failed[0]!.remote.port, garbage.port);
    assert.notEqual(prelude.failed[0]!.reason, "");
    // A client that closes between its prelude and its hello, once its prelude was read.
    const closing = await raw("PRELUDE 192.0.2.3\n");
    for (let i = 0; i < 2_000 && prelude.lines.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    closing.socket.destroy();
    await prelude.outcomes(4);
    assert.equal(prelude.failed.length, 2);
    assert.equal(prelude.failed[1]!.remote.port, closing.port);
    bad.socket.destroy();
    garbage.socket.destroy();
    assert.deepEqual(prelude.lines, ["PRELUDE 192.0.2.1", "BAD", "PRELUDE 192.0.2.2", "PRELUDE 192.0.2.3"]);
    assert.equal(prelude.secured.length, 1);
    assert.equal(prelude.refused.length, 1);
    assert.deepEqual([accepted.length, failures.length], [0, 0], "the listener's own callbacks hear of none of them");
  } finally {
    await listener.close();
  }
});
