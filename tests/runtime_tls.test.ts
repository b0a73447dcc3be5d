/**
 * The runtime contract's TLS, on the runtime running the tests: a TLS listener hands over
 * connections once their handshake is done, with the facts on both ends (version, cipher, SNI,
 * ALPN, client certificate); the certificate picked by `selectCertificate`; failures as the
 * contract says (`ECERTVERIFY`, `ETLSHANDSHAKE`, `onHandshakeFailure`).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { currentRuntime } from "../src/runtime/detect.ts";
import type { Connection, ConnectionHandler, TlsClientOptions, TlsHandshakeFailure, TlsServerOptions } from "../src/runtime/types.ts";
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
