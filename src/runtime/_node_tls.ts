/**
 * TLS over node:tls, which all three runtimes provide: listeners that hand over connections once
 * their handshake is done, and certificate inspection with node:crypto.
 *
 * Quirks handled here:
 * - A context given by `SNICallback` replaces the whole SSL context for the connection, the CA store
 *   that client certificates are verified against included (seen on Node, Bun and Deno): every
 *   certificate's context is built with the same CA, versions and ciphers as the listener.
 * - `SNICallback` is not called when the client sends no name. With no default certificate (a
 *   strict SNI listener), the listener is made without one, so such a handshake fails for want of
 *   a certificate, as HAProxy's `strict-sni` does.
 * - Deno's `createSecureContext` takes a key that is not the certificate's without a word (Node and
 *   Bun throw "key values mismatch"): `X509Certificate.checkPrivateKey` checks it on all three.
 * - Bun's SNICallback may be called twice for one handshake; selection has no side effect.
 * - `tls.createServer` takes no write high-water mark: it is set in each socket's stream state, as
 *   for Deno's accepted node:net sockets.
 * - Plain HTTP on a TLS port is answered in plain text: the listener is node:net's, reads the first
 *   bytes, and gives a TLS record back to node:tls (`onFirstBytes`). Not on Deno, whose node:tls
 *   would read those bytes out of order (`firstBytesCanBeReturned`): there the TLS server listens
 *   itself and plain HTTP is a failed handshake, closed.
 * - Closing the server leaves the connections in their handshake going, but nobody counts them
 *   as sessions yet: the listener does (`handshakesDone`), so a graceful stop waits for them. Each
 *   connection ends its handshake with `secureConnection` or `tlsClientError` on all three (tried:
 *   success, reset, garbage, handshake timeout, FIN before the hello); its TCP socket's close is
 *   the fallback.
 * - Clear bytes before the handshake (`TlsServerOptions.prelude`, accept-proxy): the listener is
 *   node:net's on every runtime then, and the owner's reader reads each connection as a plain one.
 *   What it read past its prelude goes back to node:tls as above on Node and Bun. Deno's node:tls
 *   takes a socket that was read from out of order (seen: a ClientHello that follows the PROXY
 *   header byte by byte failed every time, even with nothing put back), so there the socket is
 *   wrapped in a Duplex stream (`PreludeStream`) that node:tls reads through its JS stream
 *   adapter: in order, at the cost of a stream event per chunk. Bun's node:tls over such a stream
 *   drops bytes (a 1 MB echo came back short), hence the two ways. A TLS socket over a stream
 *   knows no addresses and cannot set Nagle: both come from the TCP socket.
 * - Clear bytes before the ClientHello (`ConnectOptions.preface`, send-proxy): the TCP socket is
 *   dialled with node:net, the bytes written to it at once (queued until it connects), and node:tls
 *   started over it (`tls.connect({ socket })`), which writes its hello after what was queued
 *   (tried on all three, with the server checking the order byte for byte). Errors of the TCP
 *   socket (refused, reset) reach the TLS socket with their codes.
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";
import type * as tls from "node:tls";
import type * as crypto from "node:crypto";
import type { KeyObject, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import type {
  CertificateInfo,
  Connection,
  ConnectionHandler,
  ConnectOptions,
  TlsClientOptions,
  Listener,
  ListenOptions,
  NetAddr,
  PeerCertificateState,
  TlsFacts,
  TlsHandshakeStarter,
  TlsHandshakeTarget,
  TlsServerOptions,
  TlsSupport,
} from "./types.ts";
import { addressOf, NOOP_HANDLER } from "./_addresses.ts";
import { formatHostPort, NetError } from "./net_error.ts";
import { applyWriteHighWaterMark, NodeNetConnection, startListening } from "./_node_net.ts";
import { TlsError } from "./tls_error.ts";

/**
 * node:tls and node:crypto are loaded on first use: with OpenSSL's state they are 7 MB of a Node
 * process (42.8 MB bare, 49.7 MB with them), which a proxy without TLS never needs (issue 21: Node
 * starts under 60 MB). node:stream stays static: node:net has loaded it already.
 */
let tlsModule: typeof tls | undefined;
let cryptoModule: typeof crypto | undefined;

function nodeTls(): typeof tls {
  return tlsModule ??= process.getBuiltinModule("node:tls") as typeof tls;
}

function nodeCrypto(): typeof crypto {
  return cryptoModule ??= process.getBuiltinModule("node:crypto") as typeof crypto;
}

/**
 * What node:tls honours on each runtime (tried: a server restricted to one cipher or version and a
 * client insisting on another). Node (OpenSSL 3): everything; TLS 1.0 and 1.1 are refused by
 * OpenSSL's default security level whatever `min-version` says. Bun (BoringSSL): TLS 1.2 ciphers,
 * not TLS 1.3 suites, which BoringSSL does not let be chosen; TLS 1.1 and 1.0 still speak. Deno
 * (rustls): neither cipher list (its node:tls takes them without a word), and no TLS below 1.2.
 * Clear bytes before the handshake, read and written, on all three (see the module notes).
 */
export const NODE_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: true,
  ciphersuites: true,
  versions: Object.freeze(["TLSv1.2", "TLSv1.3"] as const),
  readBeforeHandshake: true,
  writeBeforeHandshake: true,
});
export const BUN_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: true,
  ciphersuites: false,
  versions: Object.freeze(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const),
  readBeforeHandshake: true,
  writeBeforeHandshake: true,
});
export const DENO_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: false,
  ciphersuites: false,
  versions: Object.freeze(["TLSv1.2", "TLSv1.3"] as const),
  readBeforeHandshake: true,
  writeBeforeHandshake: true,
});

type ConnectFunction = (options: ConnectOptions, handler: ConnectionHandler) => Connection;

/** `connect` that takes TLS connections to node:tls and the others to the runtime's own `connect`. */
export function withNodeTlsConnect(connect: ConnectFunction): ConnectFunction {
  return (options, handler) => options.tls === undefined ? connect(options, handler) : connectNodeTls(options, options.tls, handler);
}

/**
 * OpenSSL's verification codes (node:tls puts them in `code`) and node:tls's own name check: a
 * certificate that was read and refused, as opposed to a handshake that failed.
 */
const VERIFY_CODES = new Set([
  "ERR_TLS_CERT_ALTNAME_INVALID", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REVOKED", "CERT_UNTRUSTED", "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE", "CERT_CHAIN_TOO_LONG", "INVALID_CA", "HOSTNAME_MISMATCH", "INVALID_PURPOSE",
  "ERR_TLS_CERT_ALTNAME_FORMAT",
]);

/** A dialled TLS socket's error before its handshake finished, as the contract's NetError. */
function tlsConnectError(error: Error, target: string): NetError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && VERIFY_CODES.has(code)) {
    // Node appends advice about its own flags ("; if the root CA is installed locally, try running
    // Node.js with --use-system-ca"), which means nothing to the proxy's users.
    const reason = firstLine(error).replace(/; if the root CA is installed locally.*$/, "");
    return new NetError("ECERTVERIFY", `Cannot connect to "${target}": certificate verification failed: ${reason} (${code})`, { cause: error });
  }
  const message = error.message;
  if (typeof code === "string" && (code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS")) || /SSL|TLS|alert|handshake/i.test(message)) {
    return new NetError("ETLSHANDSHAKE", `Cannot connect to "${target}": TLS handshake failed: ${handshakeReason(error)}`, { cause: error });
  }
  return undefined;
}

/** The first error of a dialled TLS socket, read as a TLS failure when it is one (after NodeNetConnection's own reading). */
function onTlsConnectError(this: tls.TLSSocket, error: Error): void {
  const conn = (this as tls.TLSSocket & { [TLS_CONNECTION]?: NodeNetConnection })[TLS_CONNECTION]!;
  if (conn.open || conn.tlsErrorSeen) return;
  conn.tlsErrorSeen = true;
  const tlsError = tlsConnectError(error, conn.target);
  if (tlsError !== undefined) conn.error = tlsError;
}

function onTlsSecureConnect(this: tls.TLSSocket): void {
  const socket = this as tls.TLSSocket & { [TLS_CONNECTION]?: NodeNetConnection; [TLS_SERVER_NAME]?: string };
  // A client socket does not keep the name it sent: the one asked for is the fact.
  socket[TLS_CONNECTION]!.tls = { ...tlsFactsOf(this, true), serverName: socket[TLS_SERVER_NAME] ?? "" };
}

const TLS_SERVER_NAME = Symbol("proxy.tlsServerName");

const TLS_CONNECTION = Symbol("proxy.tlsConnection");

/**
 * Dials with node:tls: `onOpen` once the handshake is done and the certificate verified. A
 * verification failure closes with a NetError "ECERTVERIFY", another handshake failure with
 * "ETLSHANDSHAKE", both naming the target and the reason. With a `preface`, the TCP socket is
 * node:net's and the preface its first write (see the module notes).
 */
export function connectNodeTls(options: ConnectOptions, tlsOptions: TlsClientOptions, handler: ConnectionHandler): Connection {
  // `allowHalfOpen` reaches the TLS socket (Node's tls.connect passes it on; @types/node omits it).
  const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    host: options.host,
    port: options.port,
    allowHalfOpen: true,
    rejectUnauthorized: tlsOptions.verify,
    minVersion: tlsOptions.minVersion,
    ALPNProtocols: tlsOptions.alpn.length > 0 ? [...tlsOptions.alpn] : undefined,
  };
  if (tlsOptions.serverName !== "") connectOptions.servername = tlsOptions.serverName;
  if (tlsOptions.ca !== undefined) connectOptions.ca = tlsOptions.ca;
  if (tlsOptions.certificate !== undefined) {
    connectOptions.cert = tlsOptions.certificate.chain;
    connectOptions.key = tlsOptions.certificate.key;
  }
  // node:tls checks the name it dialled (an IP address here) or the SNI name: check ours instead.
  const verifyName = tlsOptions.verifyName;
  connectOptions.checkServerIdentity = (_host, certificate) => verifyName === "" ? undefined : nodeTls().checkServerIdentity(verifyName, certificate);
  const preface = options.preface;
  if (preface !== undefined) {
    const raw = net.connect({ host: options.host, port: options.port, allowHalfOpen: true, noDelay: options.noDelay });
    // Queued until the socket connects, ahead of the ClientHello node:tls writes then.
    raw.write(preface);
    connectOptions.socket = raw;
  }
  const socket = nodeTls().connect(connectOptions);
  socket.setNoDelay(options.noDelay);
  if (options.bufferSize !== undefined) applyWriteHighWaterMark(socket, options.bufferSize);
  const conn = new NodeNetConnection(socket, handler, false, formatHostPort(options.host, options.port), "secureConnect");
  conn.remote = addressOf(options.host, options.port);
  (socket as tls.TLSSocket & { [TLS_CONNECTION]?: NodeNetConnection })[TLS_CONNECTION] = conn;
  (socket as tls.TLSSocket & { [TLS_SERVER_NAME]?: string })[TLS_SERVER_NAME] = tlsOptions.serverName;
  // Before NodeNetConnection's "secureConnect" listener: the facts are there when `onOpen` runs.
  socket.prependListener("secureConnect", onTlsSecureConnect);
  socket.on("error", onTlsConnectError);
  return conn;
}

type ListenFunction = (
  options: ListenOptions,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
) => Promise<Listener>;

/** `listen` that takes TLS listeners to node:tls and the others to the runtime's own `listen`. */
export function withNodeTls(listen: ListenFunction): ListenFunction {
  return (options, onAccept, onError) =>
    options.tls === undefined ? listen(options, onAccept, onError) : listenNodeTls(options, options.tls, onAccept, onError);
}

function secureContextOptions(tlsOptions: TlsServerOptions): tls.SecureContextOptions {
  const options: tls.SecureContextOptions = { minVersion: tlsOptions.minVersion };
  if (tlsOptions.maxVersion !== undefined) options.maxVersion = tlsOptions.maxVersion;
  if (tlsOptions.ciphers !== undefined) options.ciphers = tlsOptions.ciphers;
  if (tlsOptions.ciphersuites !== undefined) {
    // node:tls takes TLS 1.3 suites in `ciphers` too; they are told apart by their TLS_ prefix.
    options.ciphers = tlsOptions.ciphers === undefined ? tlsOptions.ciphersuites : `${tlsOptions.ciphersuites}:${tlsOptions.ciphers}`;
  }
  if (tlsOptions.ca !== undefined) options.ca = tlsOptions.ca;
  return options;
}

/** The facts of a finished handshake on `socket`. */
export function tlsFactsOf(socket: tls.TLSSocket, verified: boolean): TlsFacts {
  const peer = verified ? socket.getPeerCertificate() : undefined;
  const hasPeer = peer !== undefined && peer !== null && Object.keys(peer).length > 0;
  let state: PeerCertificateState = "none";
  if (hasPeer) state = socket.authorized ? "valid" : "invalid";
  const error = socket.authorizationError;
  const alpn = socket.alpnProtocol;
  const name = (socket as tls.TLSSocket & { servername?: string | false }).servername;
  return {
    version: socket.getProtocol() ?? "",
    cipher: socket.getCipher()?.name ?? "",
    serverName: typeof name === "string" ? name.toLowerCase() : "",
    alpn: typeof alpn === "string" ? alpn : "",
    peerCertificate: state,
    peerSubject: hasPeer ? peerSubjectLine(peer) : "",
    peerError: state === "invalid" && error !== undefined && error !== null ? String((error as { code?: string }).code ?? error) : "",
    resumed: socket.isSessionReused(),
  };
}

/**
 * The peer's subject in OpenSSL's one-line form, in the certificate's order: read from its DER
 * (Deno's node:tls lists the subject's fields in another order than the certificate's).
 */
function peerSubjectLine(peer: tls.PeerCertificate): string {
  if (peer.raw !== undefined && peer.raw.length > 0) {
    try {
      return "/" + new (nodeCrypto().X509Certificate)(peer.raw).subject.split("\n").join("/");
    } catch {
      // A certificate node:crypto cannot read: the fields as node:tls lists them.
    }
  }
  return subjectLine(peer.subject);
}

/** OpenSSL's one-line form of a subject ("/CN=client one/O=Test Clients"), from node:tls's object. */
function subjectLine(subject: object | undefined): string {
  if (subject === undefined || subject === null) return "";
  let line = "";
  for (const [field, value] of Object.entries(subject as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) line += `/${field}=${item}`;
  }
  return line;
}

/**
 * The connections of a TLS listener still in their handshake, by remote address: Bun's TLS socket
 * does not lead back to the TCP socket it came from (`_parent`), but both know the peer.
 */
class Handshakes {
  private readonly pending = new Map<string, object>();
  private waiters: Array<() => void> = [];

  /** A TCP connection accepted; its handshake ends with `ended`, or at the latest when it closes. */
  started(raw: net.Socket): void {
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    this.pending.set(key, raw);
    // The fallback: a runtime that reports neither outcome for some failure still closes the socket.
    raw.once("close", () => {
      if (this.pending.get(key) === raw) this.remove(key);
    });
  }

  /** The handshake of the connection from `address`:`port` succeeded or failed. */
  ended(address: string | undefined, port: number | undefined): void {
    this.remove(`${address}:${port}`);
  }

  /** The TCP socket from `address`:`port` still in its handshake, if any. */
  socketAt(address: string | undefined, port: number | undefined): object | undefined {
    return this.pending.get(`${address}:${port}`);
  }

  whenDone(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private remove(key: string): void {
    if (!this.pending.delete(key) || this.pending.size > 0 || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A listening socket (node:net's, or the TLS server's on Deno) and the handshakes it started. */
class NodeTlsListener implements Listener {
  readonly listening: Listener;
  readonly address: NetAddr;
  readonly handshakes: Handshakes;
  constructor(listening: Listener, handshakes: Handshakes) {
    this.listening = listening;
    this.address = listening.address;
    this.handshakes = handshakes;
  }
  close(): Promise<void> {
    return this.listening.close();
  }
  handshakesDone(): Promise<void> {
    return this.handshakes.whenDone();
  }
}

/** What a TLS listener's sockets need before their handshake: shared by all, one object per listener. */
interface TlsEntry {
  readonly tlsServer: tls.Server;
  readonly options: TlsServerOptions;
}

/** A TCP socket of a TLS listener, read on accept. */
interface EntryState {
  readonly entry: TlsEntry;
  readonly remote: NetAddr;
  readonly local: NetAddr;
  /** As the socket gave them: the key of its handshake in `Handshakes`. */
  readonly rawAddress: string | undefined;
  readonly rawPort: number | undefined;
  /** After a prelude: where the handshake ends, instead of the listener's callbacks. */
  target: TlsHandshakeTarget | undefined;
  /** `target` was told the outcome (once). */
  settled: boolean;
}

const ENTRY = Symbol("proxy.tlsEntry");
type EntrySocket = net.Socket & { [ENTRY]?: EntryState };

/** A failed handshake, told to the prelude's target or else the listener (once per target). */
function handshakeFailed(state: EntryState, reason: string): void {
  const failure = { remote: state.remote, local: state.local, reason };
  if (state.target === undefined) {
    state.entry.options.onHandshakeFailure(failure);
    return;
  }
  if (state.settled) return;
  state.settled = true;
  state.target.tlsFailed(failure);
}

/** nginx's answer to plain HTTP on a TLS port (its 497, sent as a 400), in plain text. */
const PLAIN_HTTP_ANSWER = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 51\r\nConnection: close\r\n\r\n" +
    "The plain HTTP request was sent to an HTTPS port.\r\n",
);

/** A plain-text client is drained this long at most after its answer, so that a close does not reset it. */
const PLAIN_ANSWER_LINGER_MS = 1_000;

function ignoreError(): void {}

function discard(): void {}

/**
 * The first bytes of a connection on a TLS listener. A TLS record (0x16, a handshake) goes to the
 * TLS server, the bytes put back for it to read (node:tls on Node and Bun reads what is buffered
 * on the socket first; Deno's does not, see `firstBytesCanBeReturned`). An upper-case letter is a plain-text HTTP request: answered with a
 * 400 in plain text, as nginx does, since the client could read no TLS alert; anything else is
 * closed. Both are logged as failed handshakes.
 */
function onFirstBytes(this: net.Socket, chunk: Uint8Array): void {
  const socket = this as EntrySocket;
  const state = socket[ENTRY]!;
  socket.setTimeout(0);
  socket.off("end", onEndBeforeHello);
  const first = chunk[0]!;
  if (first === 0x16) {
    socket.pause();
    socket.off("error", ignoreError);
    socket.unshift(chunk);
    state.entry.tlsServer.emit("connection", socket);
    return;
  }
  const plainHttp = first >= 0x41 && first <= 0x5a;
  handshakeFailed(state, plainHttp ? "plain HTTP request on a TLS port" : "not a TLS record");
  if (!plainHttp) {
    socket.destroy();
    return;
  }
  // Read on and drop the rest of the request: closing with unread bytes would reset the answer.
  socket.on("data", discard);
  socket.resume();
  socket.end(PLAIN_HTTP_ANSWER);
  socket.setTimeout(PLAIN_ANSWER_LINGER_MS, onLingerOver);
}

/** No byte within the handshake timeout (`timeout client`): dropped, and logged as HAProxy does. */
function onSilentClient(this: net.Socket): void {
  handshakeFailed((this as EntrySocket)[ENTRY]!, "handshake timeout");
  this.destroy();
}

/**
 * The client closed after its prelude, before any byte of a hello: the listening socket allows
 * half-open connections, so nothing else would end it before the handshake timeout. (Deno's TLS
 * over a PreludeStream does not notice such a FIN either; the handshake timeout ends it there.)
 */
function onEndBeforeHello(this: net.Socket): void {
  handshakeFailed((this as EntrySocket)[ENTRY]!, "connection closed");
  this.destroy();
}

/** The bytes read past a prelude, looked at as the first bytes (a turn later: see TlsHandshakeStarter). */
function onFirstBytesAfterPrelude(socket: net.Socket, rest: Uint8Array): void {
  if (!socket.destroyed) onFirstBytes.call(socket, rest);
}

/**
 * The TCP socket of a connection that had a prelude closed: its handshake failed, unless told
 * otherwise. A turn later: Deno's node:tls closes the socket before it reports why the handshake
 * failed (`tlsClientError`), and that reason is the one to log.
 */
function onPreludeSocketClose(this: net.Socket): void {
  setImmediate(handshakeFailed, (this as EntrySocket)[ENTRY]!, "connection closed");
}

/** Deno: TLS over a stream of the socket, a turn after the prelude (see the module notes). */
function startOverStream(socket: net.Socket, rest: Uint8Array): void {
  if (socket.destroyed) return;
  const state = (socket as EntrySocket)[ENTRY]!;
  state.entry.tlsServer.emit("connection", new PreludeStream(socket, state, rest));
}

/** Hands the connections whose prelude was read to TLS (one per listener with a prelude). */
class PreludeHandshakes implements TlsHandshakeStarter {
  readonly #handshakeTimeout: number;
  constructor(handshakeTimeout: number) {
    this.#handshakeTimeout = handshakeTimeout;
  }

  start(conn: Connection, rest: Uint8Array, target: TlsHandshakeTarget): void {
    const socket = (conn as NodeNetConnection).release();
    const state = (socket as EntrySocket)[ENTRY]!;
    state.target = target;
    socket.pause();
    socket.on("error", ignoreError);
    socket.once("close", onPreludeSocketClose);
    if (!firstBytesCanBeReturned()) {
      process.nextTick(startOverStream, socket, rest);
    } else if (rest.length > 0) {
      process.nextTick(onFirstBytesAfterPrelude, socket, rest);
    } else {
      if (this.#handshakeTimeout > 0) socket.setTimeout(this.#handshakeTimeout, onSilentClient);
      socket.once("data", onFirstBytes);
      socket.once("end", onEndBeforeHello);
      socket.resume();
    }
  }
}

const PRELUDE_STREAM = Symbol("proxy.preludeStream");
type StreamSocket = net.Socket & { [PRELUDE_STREAM]?: PreludeStream };

/**
 * A TCP socket as a plain Duplex, the bytes read past its prelude first: what Deno's node:tls
 * reads a connection through once something was read from it (see the module notes). Reading
 * follows the stream's demand (the socket paused while node:tls has not taken what it has); a write
 * is done once the socket takes it without pushing back, else at its next `drain`.
 */
class PreludeStream extends Duplex {
  readonly socket: net.Socket;
  readonly state: EntryState;
  #writeDone: ((error?: Error | null) => void) | null = null;

  constructor(socket: net.Socket, state: EntryState, rest: Uint8Array) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    this.state = state;
    (socket as StreamSocket)[PRELUDE_STREAM] = this;
    socket.on("data", onStreamSocketData);
    socket.on("end", onStreamSocketEnd);
    socket.on("drain", onStreamSocketDrain);
    socket.on("error", onStreamSocketError);
    socket.on("close", onStreamSocketClose);
    if (rest.length > 0) this.push(rest);
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.socket.write(chunk)) done();
    else this.#writeDone = done;
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }

  /** @internal The socket took the write it had pushed back on. */
  drained(): void {
    const done = this.#writeDone;
    this.#writeDone = null;
    done?.();
  }
}

function onStreamSocketData(this: net.Socket, chunk: Uint8Array): void {
  if (!(this as StreamSocket)[PRELUDE_STREAM]!.push(chunk)) this.pause();
}

function onStreamSocketEnd(this: net.Socket): void {
  (this as StreamSocket)[PRELUDE_STREAM]!.push(null);
}

function onStreamSocketDrain(this: net.Socket): void {
  (this as StreamSocket)[PRELUDE_STREAM]!.drained();
}

function onStreamSocketError(this: net.Socket, error: Error): void {
  (this as StreamSocket)[PRELUDE_STREAM]!.destroy(error);
}

function onStreamSocketClose(this: net.Socket): void {
  (this as StreamSocket)[PRELUDE_STREAM]!.destroy();
}

/** A TLS connection over a PreludeStream: Nagle is the TCP socket's. */
class StreamTlsConnection extends NodeNetConnection {
  readonly tcp: net.Socket;
  constructor(socket: tls.TLSSocket, tcp: net.Socket) {
    super(socket, NOOP_HANDLER, true, "");
    this.tcp = tcp;
  }

  override setNoDelay(noDelay: boolean): void {
    this.tcp.setNoDelay(noDelay);
  }
}

/**
 * The TCP socket's state of a TLS socket (or of what node:tls reported a failure on) on a listener
 * with a prelude: Node's TLS socket leads back to its TCP socket (`_parent`); Deno's is over a
 * PreludeStream (see `streamOf`); Bun's is found by the peer's address.
 */
function preludeStateOf(socket: object, handshakes: Handshakes): EntryState | undefined {
  if (socket instanceof PreludeStream) return socket.state;
  const parent = (socket as { _parent?: unknown })._parent;
  if (parent instanceof net.Socket && (parent as EntrySocket)[ENTRY] !== undefined) return (parent as EntrySocket)[ENTRY];
  const stream = streamOf(socket);
  if (stream !== undefined) return stream.state;
  const own = (socket as EntrySocket)[ENTRY];
  if (own !== undefined) return own;
  const tcp = handshakes.socketAt((socket as net.Socket).remoteAddress, (socket as net.Socket).remotePort);
  return tcp === undefined ? undefined : (tcp as EntrySocket)[ENTRY];
}

type WrapOwner = { _parentWrap?: { stream?: unknown } | null } | null | undefined;

/**
 * Deno: the PreludeStream a TLS socket reads through. Its TLS handle keeps the JS stream adapter
 * as `_parentWrap`, which keeps the stream as `stream`; the socket drops the handle (`ssl`) once
 * closed, before it reports a failed handshake, but still holds it under a symbol of its own.
 */
function streamOf(socket: object): PreludeStream | undefined {
  const viaSsl = (socket as { ssl?: WrapOwner }).ssl?._parentWrap?.stream;
  if (viaSsl instanceof PreludeStream) return viaSsl;
  for (const key of Object.getOwnPropertySymbols(socket)) {
    const stream = ((socket as Record<symbol, unknown>)[key] as WrapOwner)?._parentWrap?.stream;
    if (stream instanceof PreludeStream) return stream;
  }
  return undefined;
}

function onLingerOver(this: net.Socket): void {
  this.destroy();
}


/** OpenSSL's reason without its codes ("error:0A00010B:SSL routines:...:wrong version number" -> "wrong version number"). */
export function handshakeReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ECONNRESET") return "connection reset by peer";
  if (code === "ERR_SSL_HANDSHAKE_TIMEOUT" || /handshake timeout/i.test(message)) return "handshake timeout";
  const reason = message.split("\n")[0]!.replace(/^tls accept error: /i, "").replace(/^.*?:(?:SSL|TLS|OPENSSL)[^:]*:[^:]*:/i, "").replace(/^.*routines:[^:]*:/i, "");
  return reason.replace(/:\.\.\/.*$/, "").replace(/_/g, " ").toLowerCase().trim() || "handshake failed";
}

/** Binds a TLS listener with node:tls (or adopts `options.fd`); connections are accepted once their handshake is done. */
export function listenNodeTls(
  options: ListenOptions,
  tlsOptions: TlsServerOptions,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
): Promise<Listener> {
  const shared = secureContextOptions(tlsOptions);
  const contexts = tlsOptions.certificates.map((pair) => nodeTls().createSecureContext({ ...shared, cert: pair.chain, key: pair.key }));
  const defaultIndex = tlsOptions.selectCertificate("");
  const verifyPeer = tlsOptions.verify !== "none";
  const serverOptions: tls.TlsOptions & { highWaterMark?: number } = {
    ...shared,
    allowHalfOpen: true,
    ALPNProtocols: tlsOptions.alpn.length > 0 ? [...tlsOptions.alpn] : undefined,
    requestCert: verifyPeer,
    rejectUnauthorized: tlsOptions.verify === "required",
    SNICallback(name: string, callback: (error: Error | null, context?: tls.SecureContext) => void): void {
      const index = tlsOptions.selectCertificate(name.toLowerCase().replace(/\.$/, ""));
      if (index < 0 || index >= contexts.length) callback(new Error(`no certificate for "${name}"`));
      else callback(null, contexts[index]);
    },
  };
  if (tlsOptions.handshakeTimeout > 0) serverOptions.handshakeTimeout = tlsOptions.handshakeTimeout;
  if (tlsOptions.ticketKeys !== undefined) serverOptions.ticketKeys = Buffer.from(tlsOptions.ticketKeys);
  if (defaultIndex >= 0 && defaultIndex < tlsOptions.certificates.length) {
    serverOptions.cert = tlsOptions.certificates[defaultIndex]!.chain;
    serverOptions.key = tlsOptions.certificates[defaultIndex]!.key;
  }
  // The TLS server is only where the handshakes happen: the listening socket is node:net's, so
  // that the first bytes of each connection are seen before TLS takes it (see onFirstBytes).
  const tlsServer = nodeTls().createServer(serverOptions);
  const bufferSize = options.bufferSize;
  const handshakes = new Handshakes();
  const prelude = tlsOptions.prelude;
  tlsServer.on("secureConnection", (socket: tls.TLSSocket) => {
    if (prelude !== undefined) {
      preludeHandshakeDone(socket, preludeStateOf(socket, handshakes));
      return;
    }
    handshakes.ended(socket.remoteAddress, socket.remotePort);
    if (bufferSize !== undefined) applyWriteHighWaterMark(socket, bufferSize);
    const conn = new NodeNetConnection(socket, NOOP_HANDLER, true, "");
    conn.tls = tlsFactsOf(socket, verifyPeer);
    onAccept(conn);
  });
  const preludeHandshakeDone = (socket: tls.TLSSocket, state: EntryState | undefined): void => {
    // Not found (a runtime that changed how its TLS socket leads back): closed, and the TCP
    // socket's close tells the target.
    if (state === undefined || state.target === undefined || state.settled) {
      socket.destroy();
      return;
    }
    handshakes.ended(state.rawAddress, state.rawPort);
    if (bufferSize !== undefined) applyWriteHighWaterMark(socket, bufferSize);
    const stream = (socket as tls.TLSSocket & { _parent?: unknown })._parent instanceof net.Socket ? undefined : streamOf(socket);
    const conn = stream === undefined ? new NodeNetConnection(socket, NOOP_HANDLER, true, "") : new StreamTlsConnection(socket, stream.socket);
    conn.tls = tlsFactsOf(socket, verifyPeer);
    conn.remote = state.remote;
    conn.local = state.local;
    state.settled = true;
    state.target.tlsAccepted(conn);
  };
  tlsServer.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    // The TLS socket may have lost its addresses (Deno, or Node once destroyed); its TCP socket,
    // or the socket itself, had them read on accept.
    const parent = (socket as tls.TLSSocket & { _parent?: net.Socket | null })._parent;
    const remembered = prelude !== undefined
      ? preludeStateOf(socket, handshakes)
      : (socket as EntrySocket)[ENTRY] ?? (parent as EntrySocket | null | undefined)?.[ENTRY];
    const remote = remembered?.remote ?? addressOf(socket.remoteAddress, socket.remotePort);
    const local = remembered?.local ?? addressOf(socket.localAddress, socket.localPort);
    socket.destroy();
    if (remembered !== undefined) handshakes.ended(remembered.rawAddress, remembered.rawPort);
    else handshakes.ended(socket.remoteAddress, socket.remotePort);
    if (remembered !== undefined) handshakeFailed(remembered, handshakeReason(error));
    // With a prelude only its target hears of a failure: the TCP socket's close tells it.
    else if (prelude === undefined) tlsOptions.onHandshakeFailure({ remote, local, reason: handshakeReason(error) });
  });
  const entry: TlsEntry = { tlsServer, options: tlsOptions };
  if (prelude !== undefined) {
    // The owner reads each connection's prelude (and bounds it): node:net's listener on every runtime.
    const starter = new PreludeHandshakes(tlsOptions.handshakeTimeout);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket: net.Socket) => {
      rememberEntry(socket, entry);
      handshakes.started(socket);
      prelude.readPrelude(new NodeNetConnection(socket, NOOP_HANDLER, true, ""), starter);
    });
    return startListening(server, options, onError).then((listening) => new NodeTlsListener(listening, handshakes));
  }
  if (!firstBytesCanBeReturned()) {
    // Deno: the TLS server takes each connection as it comes (no plain-HTTP answer there).
    tlsServer.on("connection", (socket: net.Socket) => {
      rememberEntry(socket, entry);
      handshakes.started(socket);
    });
    return startListening(tlsServer, options, onError).then((listening) => new NodeTlsListener(listening, handshakes));
  }
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket: net.Socket) => {
    rememberEntry(socket, entry);
    // Counted from the accept: a plain-text client or one that never sends ends at its close.
    handshakes.started(socket);
    if (tlsOptions.handshakeTimeout > 0) socket.setTimeout(tlsOptions.handshakeTimeout, onSilentClient);
    socket.on("error", ignoreError);
    socket.once("data", onFirstBytes);
  });
  return startListening(server, options, onError).then((listening) => new NodeTlsListener(listening, handshakes));
}

/**
 * A handshake refused early (no certificate for the name) destroys the sockets before their
 * addresses were ever asked for: they are read on accept, for the failure's log line.
 */
function rememberEntry(socket: net.Socket, entry: TlsEntry): void {
  (socket as EntrySocket)[ENTRY] = {
    entry,
    remote: addressOf(socket.remoteAddress, socket.remotePort),
    local: addressOf(socket.localAddress, socket.localPort),
    rawAddress: socket.remoteAddress,
    rawPort: socket.remotePort,
    target: undefined,
    settled: false,
  };
}

/**
 * Whether bytes read from a socket can be put back for node:tls to read first. Node and Bun take
 * what is buffered on the socket before reading on; Deno's node:tls reads the connection directly
 * and feeds what was buffered later, out of order once the client sends more at once (seen: every
 * ClientHello written in pieces failed with "wrong version number" on a loaded machine).
 */
function firstBytesCanBeReturned(): boolean {
  return (globalThis as { Deno?: unknown }).Deno === undefined;
}

/** Reads the first certificate of `chain` and checks `key` against it (see the module notes). */
export function inspectCertificateNode(chain: string, key: string): CertificateInfo {
  let certificate: X509Certificate;
  try {
    certificate = new (nodeCrypto().X509Certificate)(chain);
  } catch (error) {
    throw new TlsError("TLS_CERTIFICATE_INVALID", `Cannot read the certificate: ${firstLine(error)}`, { cause: error });
  }
  let privateKey: KeyObject;
  try {
    privateKey = nodeCrypto().createPrivateKey(key);
  } catch (error) {
    throw new TlsError("TLS_KEY_INVALID", `Cannot read the private key: ${firstLine(error)}`, { cause: error });
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TlsError("TLS_KEY_MISMATCH", `The private key does not belong to the certificate "${certificate.subject.replace(/\n/g, ", ")}"`);
  }
  return {
    names: certificateNames(certificate),
    subject: "/" + certificate.subject.split("\n").join("/"),
    notAfter: Date.parse(certificate.validTo),
  };
}

/** DNS names of the subject alternative names, else the CN (HAProxy's rule for SNI). */
function certificateNames(certificate: X509Certificate): string[] {
  const san = certificate.subjectAltName;
  if (san !== undefined && san !== "") {
    const names = san.split(", ").filter((entry) => entry.startsWith("DNS:")).map((entry) => entry.slice(4).toLowerCase());
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject);
  return cn === null ? [] : [cn[1]!.toLowerCase()];
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}
