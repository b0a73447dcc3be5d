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
 * - Closing the server leaves the connections in their handshake going, but nobody counts them
 *   as sessions yet: the listener does (`handshakesDone`), so a graceful stop waits for them. Each
 *   connection ends its handshake with `secureConnection` or `tlsClientError` on all three (tried:
 *   success, reset, garbage, handshake timeout, FIN before the hello); its TCP socket's close is
 *   the fallback.
 *
 * @module
 */

import type * as net from "node:net";
import * as tls from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";
import type {
  CertificateInfo,
  Connection,
  Listener,
  ListenOptions,
  NetAddr,
  PeerCertificateState,
  TlsFacts,
  TlsServerOptions,
  TlsSupport,
} from "./types.ts";
import { addressOf, NOOP_HANDLER } from "./_addresses.ts";
import { adoptionError, formatHostPort, NetError, toNetError } from "./net_error.ts";
import { applyWriteHighWaterMark, NodeNetConnection } from "./_node_net.ts";
import { TlsError } from "./tls_error.ts";

/**
 * What node:tls honours on each runtime (tried: a server restricted to one cipher or version and a
 * client insisting on another). Node (OpenSSL 3): everything; TLS 1.0 and 1.1 are refused by
 * OpenSSL's default security level whatever `min-version` says. Bun (BoringSSL): TLS 1.2 ciphers,
 * not TLS 1.3 suites, which BoringSSL does not let be chosen; TLS 1.1 and 1.0 still speak. Deno
 * (rustls): neither cipher list (its node:tls takes them without a word), and no TLS below 1.2.
 */
export const NODE_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: true,
  ciphersuites: true,
  versions: Object.freeze(["TLSv1.2", "TLSv1.3"] as const),
});
export const BUN_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: true,
  ciphersuites: false,
  versions: Object.freeze(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const),
});
export const DENO_TLS_SUPPORT: TlsSupport = Object.freeze({
  ciphers: false,
  ciphersuites: false,
  versions: Object.freeze(["TLSv1.2", "TLSv1.3"] as const),
});

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
    peerSubject: hasPeer ? subjectLine(peer.subject) : "",
    peerError: state === "invalid" && error !== undefined && error !== null ? String((error as { code?: string }).code ?? error) : "",
    resumed: socket.isSessionReused(),
  };
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

class NodeTlsListener implements Listener {
  readonly server: tls.Server;
  readonly address: NetAddr;
  readonly handshakes: Handshakes;
  constructor(server: tls.Server, address: NetAddr, handshakes: Handshakes) {
    this.server = server;
    this.address = address;
    this.handshakes = handshakes;
  }
  close(): Promise<void> {
    this.server.close();
    return Promise.resolve();
  }
  handshakesDone(): Promise<void> {
    return this.handshakes.whenDone();
  }
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
  const target = formatHostPort(options.host, options.port);
  const shared = secureContextOptions(tlsOptions);
  const contexts = tlsOptions.certificates.map((pair) => tls.createSecureContext({ ...shared, cert: pair.chain, key: pair.key }));
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
  if (defaultIndex >= 0 && defaultIndex < tlsOptions.certificates.length) {
    serverOptions.cert = tlsOptions.certificates[defaultIndex]!.chain;
    serverOptions.key = tlsOptions.certificates[defaultIndex]!.key;
  }
  const server = tls.createServer(serverOptions);
  const bufferSize = options.bufferSize;
  const handshakes = new Handshakes();
  server.on("connection", (raw: net.Socket) => handshakes.started(raw));
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    handshakes.ended(socket.remoteAddress, socket.remotePort);
    if (bufferSize !== undefined) applyWriteHighWaterMark(socket, bufferSize);
    const conn = new NodeNetConnection(socket, NOOP_HANDLER, true, "");
    conn.tls = tlsFactsOf(socket, verifyPeer);
    onAccept(conn);
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    // Deno's TLS socket forgets its addresses once the handshake failed; its TCP socket has them.
    const parent = (socket as tls.TLSSocket & { _parent?: tls.TLSSocket | null })._parent;
    const addressed = socket.remoteAddress === undefined && parent !== undefined && parent !== null ? parent : socket;
    const remote = addressOf(addressed.remoteAddress, addressed.remotePort);
    const local = addressOf(addressed.localAddress, addressed.localPort);
    socket.destroy();
    handshakes.ended(addressed.remoteAddress, addressed.remotePort);
    tlsOptions.onHandshakeFailure({ remote, local, reason: handshakeReason(error) });
  });
  return new Promise<Listener>((resolve, reject) => {
    const onBindError = (error: Error) => {
      server.close();
      reject(options.fd === undefined ? toNetError(error, "Cannot bind", target) : adoptionError(error, options.fd, target));
    };
    server.once("error", onBindError);
    server.listen(
      options.fd !== undefined ? { fd: options.fd, backlog: options.backlog } : {
        host: options.host,
        port: options.port,
        backlog: options.backlog,
        reusePort: options.reusePort,
        ipv6Only: options.ipv6Only ?? false,
        exclusive: true,
      },
      () => {
        server.off("error", onBindError);
        server.on("error", (error: Error) => onError(toNetError(error, "Listener", target)));
        const bound = server.address();
        const address = typeof bound === "object" && bound !== null
          ? addressOf(bound.address, bound.port)
          : addressOf(options.host, options.port);
        resolve(new NodeTlsListener(server, address, handshakes));
      },
    );
  });
}

/** Reads the first certificate of `chain` and checks `key` against it (see the module notes). */
export function inspectCertificateNode(chain: string, key: string): CertificateInfo {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(chain);
  } catch (error) {
    throw new TlsError("TLS_CERTIFICATE_INVALID", `Cannot read the certificate: ${firstLine(error)}`, { cause: error });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
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
