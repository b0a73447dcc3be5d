/**
 * The runtime contract: everything the proxy needs from the machine.
 *
 * `src/core`, `src/tcp`, `src/http` and `src/log` see the machine only through these types. Each
 * runtime (Node, Bun, Deno) has one module implementing {@link Runtime}; see `detect.ts`.
 *
 * Connections are callback-driven with explicit backpressure: no promise per chunk. Events go to
 * one {@link ConnectionHandler} object per connection rather than one closure per event, so a
 * session object can handle both of its sockets with its own methods and be pooled.
 *
 * @module
 */

import type { ProxyHeader } from "../proxy_protocol/parse.ts";
import type { NetError } from "./net_error.ts";

/** An address as seen on a socket. `family` is 4 or 6. */
export interface NetAddr {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Receives the events of one connection. Set it synchronously, before the accept or connect callback returns. */
export interface ConnectionHandler {
  /** An outgoing connection is established. Never called for accepted connections. */
  onOpen(conn: Connection): void;
  /**
   * Bytes arrived. The chunk belongs to the handler: every runtime module hands out a buffer it
   * never reads into again, so the chunk may be kept, or passed to another connection's `write`,
   * without a copy (the splice path and held pipelined bytes rely on it; the conformance suite
   * checks it under backpressure).
   */
  onData(conn: Connection, chunk: Uint8Array): void;
  /** The write buffer went back under the high-water mark after `write` returned false. */
  onDrain(conn: Connection): void;
  /** The peer half-closed (FIN). Our side stays writable until `end` or `destroy`. */
  onEnd(conn: Connection): void;
  /**
   * The connection is gone. `error` is set when it ended abnormally: reset by the peer, refused,
   * timed out, or any socket error. Called exactly once per connection, also after `destroy`.
   */
  onClose(conn: Connection, error: NetError | undefined): void;
}

/** One TCP connection, accepted or outgoing. */
export interface Connection {
  /** Replaces the event handler. */
  setHandler(handler: ConnectionHandler): void;
  /**
   * Queues bytes for sending; never drops them. Returns false once the queued amount reaches the
   * high-water mark (`bufferSize` where the runtime honours it, see {@link BufferSizeOption}):
   * stop writing and wait for `onDrain`. Do not modify `chunk` afterwards.
   */
  write(chunk: Uint8Array): boolean;
  /** Bytes queued and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Stops reading from the socket (so the peer's TCP window fills up). Until `resume`, the handler
   * gets no `onData` and no `onEnd`: bytes and the FIN behind them wait (a close still comes, with
   * a held FIN told just before it).
   */
  pause(): void;
  /** Reads again after `pause`. */
  resume(): void;
  /** Half-closes our side (FIN) once everything queued is sent. */
  end(): void;
  /** Closes at once, dropping anything queued. Safe to call more than once. */
  destroy(): void;
  /** Turns Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay: boolean): void;
  /** Peer address. For an outgoing connection, the address dialled. */
  readonly remote: NetAddr;
  /** Our address. Empty (port 0) for an outgoing connection until it is open. */
  readonly local: NetAddr;
  /** True between open (or accept) and close. */
  readonly open: boolean;
  /** A slot for the owner of the connection (the session that handles it). */
  owner: unknown;
  /**
   * What the TLS handshake settled, on a connection accepted on a TLS listener or dialled with
   * `tls` (set before the accept callback or `onOpen`); undefined on a plain connection.
   */
  readonly tls: TlsFacts | undefined;
  /**
   * The PROXY protocol header the connection began with, on an `accept-proxy` bind (set by the
   * engine's wrapper, `src/proxy_protocol/proxied_connection.ts`, never by a runtime module);
   * `remote` and `local` are then its addresses. Undefined elsewhere.
   */
  readonly proxied?: ProxyHeader | undefined;
}

/** TLS protocol versions, as OpenSSL names them. */
export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";

/** What a TLS listener asks of its clients' certificates (HAProxy's `verify`). */
export type PeerVerify = "none" | "optional" | "required";

/**
 * The state of the peer's certificate: "none" (none asked, or none sent), "valid" (verified against
 * the CA file), "invalid" (sent but not verified; `peerError` says why).
 */
export type PeerCertificateState = "none" | "valid" | "invalid";

/** What a TLS handshake settled. */
export interface TlsFacts {
  /** "TLSv1.2", "TLSv1.3". */
  readonly version: string;
  /** The cipher's OpenSSL name ("TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"). */
  readonly cipher: string;
  /** The SNI name the client sent (lower case), "" without. */
  readonly serverName: string;
  /** The ALPN protocol agreed, "" without. */
  readonly alpn: string;
  readonly peerCertificate: PeerCertificateState;
  /** The peer certificate's subject, OpenSSL's one-line form ("/CN=client/O=Example"), "" without. */
  readonly peerSubject: string;
  /** Why the peer certificate was not verified (OpenSSL's code, "CERT_HAS_EXPIRED"), "" otherwise. */
  readonly peerError: string;
  /** The session was resumed (no full handshake). */
  readonly resumed: boolean;
}

/** A certificate chain (the leaf first) and its private key, PEM. */
export interface TlsKeyPair {
  readonly chain: string;
  readonly key: string;
}

/** A handshake that failed on a TLS listener, for the log. */
export interface TlsHandshakeFailure {
  readonly remote: NetAddr;
  readonly local: NetAddr;
  /** Why, in a few words ("wrong version number", "no certificate for the name sent"). */
  readonly reason: string;
}

/** TLS on a listener: each accepted connection is handed over once its handshake is done. */
export interface TlsServerOptions {
  /** At least one; `certificates[0]` is the default. */
  readonly certificates: readonly TlsKeyPair[];
  /**
   * Picks the certificate for the SNI name the client sent (lower case, no trailing dot): an index
   * in `certificates`, or -1 to refuse the handshake. Called with "" when no name was sent.
   */
  readonly selectCertificate: (serverName: string) => number;
  /** ALPN protocols offered, in order of preference; empty: no ALPN. */
  readonly alpn: readonly string[];
  readonly minVersion: TlsVersion;
  /** undefined: the highest the runtime has. */
  readonly maxVersion?: TlsVersion;
  /** OpenSSL cipher list for TLS 1.2 and below; undefined: the runtime's default. */
  readonly ciphers?: string;
  /** TLS 1.3 cipher suites, colon-separated; undefined: the runtime's default. */
  readonly ciphersuites?: string;
  readonly verify: PeerVerify;
  /** CA certificates (PEM) client certificates are verified against; needed unless `verify` is "none". */
  readonly ca?: string;
  /**
   * 48 bytes of session ticket keys shared by the processes that serve this listener, so that a
   * session resumes on any of them (a -W master's workers, across reloads); undefined: the
   * runtime's own per process. Honoured by Node; Bun keeps its own, Deno resumes no session.
   */
  readonly ticketKeys?: Uint8Array;
  /** A handshake not done within this many milliseconds is dropped (HAProxy: `timeout client`); 0: none. */
  readonly handshakeTimeout: number;
  /** Called once per failed handshake; the connection is already closed. */
  readonly onHandshakeFailure: (failure: TlsHandshakeFailure) => void;
  /**
   * Reads what each connection sends in clear before its handshake (HAProxy's `accept-proxy` on an
   * ssl bind: the PROXY header comes before the ClientHello); undefined: the handshake starts with
   * the first byte. Only where `RuntimeInfo.tls.readBeforeHandshake`. With it, every connection of
   * the listener goes to `prelude.readPrelude` first, and never to `onAccept`.
   */
  readonly prelude?: TlsPreludeReader;
}

/**
 * Reads the clear bytes a connection on a TLS listener starts with ({@link TlsServerOptions.prelude}).
 * The runtime knows nothing of their format: the reader decides where they end.
 */
export interface TlsPreludeReader {
  /**
   * A connection was accepted, plain (`tls` undefined): set its handler at once and read. Then
   * either destroy it (a bad prelude: nothing more is reported about it, neither `onAccept` nor
   * `onHandshakeFailure`), or, from within `onData` (so that no byte is read unseen past the
   * prelude), call `handshake.start` once.
   */
  readPrelude(conn: Connection, handshake: TlsHandshakeStarter): void;
}

/** Starts the TLS handshake of a connection whose prelude was read. One per listener. */
export interface TlsHandshakeStarter {
  /**
   * The prelude of `conn` (as given to `readPrelude`) is read: TLS takes its socket over, `rest`
   * (the bytes read past the prelude, possibly none) first, and `conn` reports nothing more (its
   * handler is dropped, and it must not be used). Exactly one of `target.tlsAccepted` and
   * `target.tlsFailed` follows, never synchronously, instead of `onAccept` or `onHandshakeFailure`.
   */
  start(conn: Connection, rest: Uint8Array, target: TlsHandshakeTarget): void;
}

/** Where the handshake of a connection that had a prelude ends. */
export interface TlsHandshakeTarget {
  /** Done: the TLS connection (`tls` set; `remote` and `local` are the socket's), to handle at once. */
  tlsAccepted(conn: Connection): void;
  /** Failed (addresses are the socket's); the connection is already closed. */
  tlsFailed(failure: TlsHandshakeFailure): void;
}

/** What a certificate holds, for configuration checks and SNI. */
export interface CertificateInfo {
  /** DNS names of the subject alternative names, else the subject's CN; lower case, "*." kept. */
  readonly names: readonly string[];
  /** The subject, OpenSSL's one-line form. */
  readonly subject: string;
  /** Expiry, milliseconds since the epoch. */
  readonly notAfter: number;
}

/**
 * HAProxy's `tune.bufsize` for a connection: what one direction of a proxied stream may hold in
 * this process. `write` returns false once this many bytes are queued (the write high-water mark),
 * so a session that pauses the reading side when the writing side pushes back holds a buffer plus
 * the read that filled it; where the runtime allows, `pause()` then stops reading at once and one
 * read takes at most max(bufferSize, 64 KiB) (docs/architecture.md, "Buffers per connection", says
 * what each runtime honours). Unset: the runtime's defaults (a 64 KiB high-water mark).
 */
export interface BufferSizeOption {
  readonly bufferSize?: number;
}

/** What `listen` binds. */
export interface ListenOptions extends BufferSizeOption {
  /** IP address or host name; "0.0.0.0" or "::" for all interfaces. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Kernel accept queue length. */
  readonly backlog: number;
  /** SO_REUSEPORT: several processes bind the same address and the kernel spreads connections. */
  readonly reusePort: boolean;
  /** For "::": accept IPv6 only (true) or IPv4-mapped too (false). */
  readonly ipv6Only?: boolean;
  /** Terminates TLS on every accepted connection; undefined: plain TCP. */
  readonly tls?: TlsServerOptions;
  /**
   * Adopts this inherited descriptor instead of binding: a socket bound by a parent process
   * ({@link Runtime.bindInheritable}, passed with {@link SpawnSelfOptions.sockets}). It is made to
   * listen here (with `backlog`) and accepted from; `host` and `port` say where it is bound (the
   * listener's address), and `reusePort`/`ipv6Only` are the parent's. Closing the listener closes
   * this process's descriptor only: the socket listens on while another process holds it, and the
   * connections in its accept queue go to those that accept from it. Adopt a descriptor once: after
   * the close its number may be reused by any other file.
   */
  readonly fd?: number;
}

/** A bound, listening socket. */
export interface Listener {
  /** The address actually bound (the real port when 0 was asked). */
  readonly address: NetAddr;
  /** Stops listening. Established connections are not touched. */
  close(): Promise<void>;
  /**
   * TLS listeners: resolves once no connection accepted here is still in its handshake (each has
   * been handed to `onAccept` or has failed), at once when none is. A graceful stop waits for it
   * after `close()`: such a connection was accepted, and cutting it is a lost request.
   */
  handshakesDone?(): Promise<void>;
}

/**
 * What {@link Runtime.listenUnix} binds: a UNIX stream socket at a path of the file system, HAProxy's
 * `stats socket /path mode 600`.
 */
export interface UnixListenOptions {
  /** Where the socket file goes (at most 107 bytes on Linux, with room for `.PID.tmp`). */
  readonly path: string;
  /** Permission bits of the socket file (0o600: its owner only); set before it appears at `path`. */
  readonly mode: number;
  /** Kernel accept queue length. */
  readonly backlog: number;
  /**
   * What to do about a socket a live process answers on at `path`: replace it (true: this process
   * takes over from the one it replaces, a -sf reload), or refuse with EADDRINUSE (false). A socket
   * file nobody answers on (left by a process that died) is replaced either way; anything at `path`
   * that is not a socket is never touched (EADDRINUSE).
   */
  readonly takeOver: boolean;
}

/** A listening UNIX socket. */
export interface UnixListener {
  /** The path it listens at. */
  readonly path: string;
  /**
   * Stops listening (established connections are not touched) and removes the socket file when it
   * is still this listener's: not when another process has replaced it since (a reload), nor when
   * the path leads elsewhere now (a chroot, or a directory this user may no longer write).
   */
  close(): Promise<void>;
}

/**
 * A TCP socket bound by this process for its children ({@link Runtime.bindInheritable}): bound, not
 * listening, never accepted from here. A child started with it ({@link SpawnSelfOptions.sockets})
 * adopts it with `listen({ fd })`; the first to do so makes it listen, and it keeps listening,
 * with its accept queue, as long as any process holds it, this one included.
 */
export interface InheritableSocket {
  /** The address bound (the real port when 0 was asked). */
  readonly address: NetAddr;
  /** Closes this process's descriptor; children keep theirs. Safe to call more than once. */
  close(): void;
}

/** What `connect` dials. `host` must be an IP address: resolve names first with `lookup`. */
export interface ConnectOptions extends BufferSizeOption {
  readonly host: string;
  readonly port: number;
  readonly noDelay: boolean;
  /** TLS towards the peer: `onOpen` comes once the handshake is done (and verified); undefined: plain TCP. */
  readonly tls?: TlsClientOptions;
  /**
   * With `tls`: bytes sent in clear as soon as the connection is made, before the ClientHello
   * (HAProxy's `send-proxy` towards an ssl server: the PROXY header). Only where
   * `RuntimeInfo.tls.writeBeforeHandshake`; ignored without `tls` (a plain connection's first
   * `write` in `onOpen` is the same thing).
   */
  readonly preface?: Uint8Array;
}

/** TLS on an outgoing connection (to a server). */
export interface TlsClientOptions {
  /** The SNI name sent; "" sends none. */
  readonly serverName: string;
  /**
   * Verify the server's certificate chain against `ca` (or the runtime's bundled roots) and its
   * name against `verifyName`: a failure closes the connection with a NetError "ECERTVERIFY".
   */
  readonly verify: boolean;
  /** The name (or IP address) the certificate must be for; "" checks the chain only. */
  readonly verifyName: string;
  /** PEM CA certificates; undefined: the runtime's bundled root store. */
  readonly ca?: string;
  /** A client certificate (chain) and its key, PEM, for servers that ask for one. */
  readonly certificate?: TlsKeyPair;
  /** ALPN protocols offered; empty: none. */
  readonly alpn: readonly string[];
  readonly minVersion: TlsVersion;
}

/** What {@link Runtime.connectDatagram} dials. `host` must be an IP address: resolve names first with `lookup`. */
export interface DatagramOptions {
  readonly host: string;
  readonly port: number;
}

/** Receives the outcomes of one datagram socket's sends. */
export interface DatagramHandler {
  /**
   * One `send` finished: called exactly once per `send`, in order, with `error` set when the
   * datagram was not handed to the kernel (or the kernel refused it).
   */
  onSent(error: NetError | undefined): void;
  /**
   * An error not tied to one send: the kernel telling that an earlier datagram found no receiver
   * (ICMP port unreachable as ECONNREFUSED), where the runtime reports it. Never ends the process.
   */
  onError(error: NetError): void;
}

/** A UDP socket connected to one peer: every datagram goes there. */
export interface DatagramSocket {
  /** Sends one datagram; `handler.onSent` follows. Do not modify `bytes` afterwards. */
  send(bytes: Uint8Array): void;
  /** Closes the socket; sends not yet finished get their `onSent` with an error or not at all. */
  close(): void;
  /** Our address. */
  readonly local: NetAddr;
  /** The peer every datagram goes to. */
  readonly remote: NetAddr;
}

/** The process's standard output streams. */
export type OutputStreamName = "stdout" | "stderr";

/** A timer handle from {@link Runtime.setTimer}. */
export type TimerHandle = unknown;

/** Signals the proxy reacts to (HAProxy's set). */
export type SignalName =
  | "SIGINT"
  | "SIGTERM"
  | "SIGHUP"
  | "SIGUSR1"
  | "SIGUSR2"
  | "SIGTTIN"
  | "SIGTTOU";

/** A signal that can be sent to another process: the proxy's set, and SIGKILL for a child that will not stop. */
export type KillSignalName = SignalName | "SIGKILL";

/** How a child process ended. */
export interface ChildExit {
  /** Its exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it ("SIGKILL"...), or null. */
  readonly signal: string | null;
}

/** A child process from {@link Runtime.spawn}. Its stdout and stderr are ours (inherited). */
export interface ChildProcess {
  readonly pid: number;
  /** Sends a signal; false when the process is already gone. */
  kill(signal: KillSignalName): boolean;
  /** Settles once the process exited; never rejects. */
  readonly exited: Promise<ChildExit>;
  /**
   * The descriptor numbers, in the child, of the sockets it inherited (`SpawnSelfOptions.sockets`,
   * in order); empty without. Always above 2.
   */
  readonly inherited: readonly number[];
}

/** What {@link Runtime.spawn} starts. */
export interface SpawnOptions {
  /** Variables set for the child on top of our environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What {@link Runtime.spawnSelf} starts. */
export interface SpawnSelfOptions extends SpawnOptions {
  /**
   * Start it in the runtime's permission jail (`info.jail`): a worker that needs the network and
   * nothing else once the master has handed it its configuration. It may still read the variables
   * of `env`.
   */
  readonly jailed: boolean;
  /** The child will change its user and group (`setIdentity`): a jailed child is allowed to. */
  readonly changesIdentity?: boolean;
  /**
   * The child will call `chroot`: a jailed child is allowed the FFI call (Deno: --allow-ffi, which
   * the child gives back once it is chrooted).
   */
  readonly chroots?: boolean;
  /**
   * Sockets from {@link Runtime.bindInheritable} the child inherits, the same open sockets as ours
   * (nothing about them is changed: a runtime that would, Deno's node:child_process clearing
   * O_NONBLOCK on descriptors given in `stdio`, passes them another way); `ChildProcess.inherited`
   * says which descriptor each is in the child. Only where `info.inheritableSockets` is true.
   */
  readonly sockets?: readonly InheritableSocket[];
}

/**
 * What a jailed worker is held to, where the runtime enforces it:
 * - "deno-permissions": network only, no file system, environment, subprocess or FFI access.
 * - "node-permission-model": `--permission`, file reads only of the program's own code, no writes,
 *   no subprocesses, no worker threads, no addons.
 * - "none": the runtime has no permission model; the worker can do what its user can.
 */
export type JailKind = "deno-permissions" | "node-permission-model" | "none";

/** What a read attempt found, for the jail self-check. */
export type FileAccess = "denied" | "readable" | "failed";

/** What {@link Runtime.resourceUsage} reports. */
export interface ResourceUsage {
  /** Resident set size, bytes. */
  readonly rss: number;
  /** JavaScript heap in use, bytes. */
  readonly heapUsed: number;
  /** CPU time (user + system) since the process started, microseconds. */
  readonly cpuMicros: number;
}

/** What is at a path (symbolic links followed): "missing" when nothing is. */
export type PathKind = "directory" | "file" | "other" | "missing";

/** Which runtime runs us. */
export type RuntimeName = "node" | "bun" | "deno";

/** The socket implementation under the contract: node:net (all runtimes) or the runtime's own. */
export type SocketApi = "node:net" | "native";

/** What a runtime's TLS lets the configuration set (checked by `proxy check`, never ignored). */
export interface TlsSupport {
  /** `ciphers` (TLS 1.2 and below) is honoured. */
  readonly ciphers: boolean;
  /** `ciphersuites` (TLS 1.3) is honoured. */
  readonly ciphersuites: boolean;
  /** The versions the runtime can speak, lowest first. */
  readonly versions: readonly TlsVersion[];
  /**
   * A TLS listener can read clear bytes before the handshake ({@link TlsServerOptions.prelude}):
   * `accept-proxy` on a TLS bind.
   */
  readonly readBeforeHandshake: boolean;
  /**
   * A TLS connection can send clear bytes before its ClientHello ({@link ConnectOptions.preface}):
   * `send-proxy` and `check-send-proxy` towards a server with `tls`.
   */
  readonly writeBeforeHandshake: boolean;
}

/** Facts about the runtime and machine, for `proxy version`. */
export interface RuntimeInfo {
  readonly name: RuntimeName;
  readonly version: string;
  /** Node-style platform: linux, darwin, freebsd, win32... */
  readonly os: string;
  /** Node-style architecture: x64, arm64... */
  readonly arch: string;
  /** The socket API in use. */
  readonly socketApi: SocketApi;
  /** True when this process is a compiled standalone executable. */
  readonly compiled: boolean;
  /** The jail `spawnSelf` starts a jailed worker in. */
  readonly jail: JailKind;
  /** True when `setAffinity` can pin cores here (FFI on Linux). */
  readonly affinity: boolean;
  /** True when `setIdentity` can change user and group here. */
  readonly identity: boolean;
  /** True when `chroot` can make the call here (FFI on Linux; on Deno with --allow-ffi). */
  readonly chroot: boolean;
  /**
   * True when `listen` can set SO_REUSEPORT here with the kernel spreading connections over the
   * sockets (what a reload beside the old process and `workers` rely on).
   */
  readonly reusePort: boolean;
  /**
   * True when `bindInheritable` can bind a socket here without accepting on it, and `spawnSelf`
   * can pass it to a child (what a -W master hands its workers): Node on POSIX, Bun and Deno on
   * Linux through FFI (Deno with --allow-ffi).
   */
  readonly inheritableSockets: boolean;
  /** What TLS settings take effect here. */
  readonly tls: TlsSupport;
  /**
   * True when short-lived byte arrays cost less cut from shared slabs than allocated one by one
   * (V8: Node and Deno), false where small typed arrays are cheap to allocate (JavaScriptCore:
   * Bun). See src/core/byte_slab.ts.
   */
  readonly byteSlabs: boolean;
}

/** Everything the proxy needs from the machine. */
export interface Runtime {
  readonly info: RuntimeInfo;
  /**
   * Binds and listens; `onAccept` gets each new connection, which must get a handler at once.
   * Rejects with a NetError (EADDRINUSE...) when it cannot bind; errors of the listening socket
   * afterwards (out of file descriptors on accept...) go to `onError` and never end the process.
   */
  listen(
    options: ListenOptions,
    onAccept: (conn: Connection) => void,
    onError: (error: NetError) => void,
  ): Promise<Listener>;
  /**
   * Binds a TCP socket for children to adopt ({@link InheritableSocket}): bound with SO_REUSEADDR,
   * SO_REUSEPORT when `reusePort`, IPV6_V6ONLY as `ipv6Only` says, and not listening, so this
   * process never accepts from it; `backlog` and `fd` are not used. A host name is resolved first
   * (its first address). Rejects with a NetError (EADDRINUSE...) when it cannot bind, or an Error
   * saying why where the runtime cannot (`info.inheritableSockets` false).
   */
  bindInheritable(options: ListenOptions): Promise<InheritableSocket>;
  /** Starts an outgoing connection; `handler.onOpen` or `handler.onClose(conn, error)` follows. */
  connect(options: ConnectOptions, handler: ConnectionHandler): Connection;
  /**
   * Listens on a UNIX stream socket ({@link UnixListenOptions}): bound under a temporary name beside
   * `path` (`path.PID.tmp`), given its mode, then renamed to `path`, so the socket never appears
   * with other permissions and a socket at `path` is replaced in one step. Accepted connections
   * are the contract's `Connection` (their `remote` and `local` are empty: port 0). Rejects with a
   * NetError: EADDRINUSE (a live socket and no `takeOver`, or a file that is not a socket),
   * ENAMETOOLONG, EACCES, ENOENT (no such directory)...
   */
  listenUnix(
    options: UnixListenOptions,
    onAccept: (conn: Connection) => void,
    onError: (error: NetError) => void,
  ): Promise<UnixListener>;
  /**
   * Connects to the UNIX stream socket at `path`; `handler.onOpen` or `handler.onClose(conn, error)`
   * follows (ENOENT: no socket there, ECONNREFUSED: nobody listens, EACCES: not allowed).
   */
  connectUnix(path: string, handler: ConnectionHandler): Connection;
  /**
   * Opens a UDP socket connected to `options` (the family follows the address). Rejects with a
   * NetError when the socket cannot be made.
   */
  connectDatagram(options: DatagramOptions, handler: DatagramHandler): Promise<DatagramSocket>;
  /** Resolves a host name to its addresses (IP literals come back as they are). */
  lookup(host: string): Promise<string[]>;
  /**
   * Reads a certificate (the first of `chain`) and checks that `key` is its private key. Throws a
   * TlsError ("TLS_CERTIFICATE_INVALID", "TLS_KEY_INVALID", "TLS_KEY_MISMATCH") saying why not.
   */
  inspectCertificate(chain: string, key: string): CertificateInfo;
  /** The names of the entries of a directory (not sorted); rejects with an Error saying why not. */
  listDirectory(path: string): Promise<string[]>;
  /** Monotonic milliseconds, fractional. */
  now(): number;
  /** Wall-clock milliseconds since the epoch. */
  wallClock(): number;
  /** One-shot timer. An unref'd timer does not keep the process alive. */
  setTimer(ms: number, callback: () => void, unref: boolean): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Subscribes to a signal; returns the function that unsubscribes. */
  onSignal(signal: SignalName, callback: () => void): () => void;
  /** Sends a signal to a process. Throws a NetError-free plain Error when the process is unknown. */
  kill(pid: number, signal: SignalName): void;
  /** Our process id. */
  readonly pid: number;
  /** Reads a whole file as UTF-8. */
  readTextFile(path: string): Promise<string>;
  /** Writes a whole file as UTF-8, replacing it. */
  writeTextFile(path: string, text: string): Promise<void>;
  /** Environment variable, or undefined. */
  env(name: string): string | undefined;
  /** Command-line arguments after the program (and script) name. */
  args(): string[];
  /** Writes to standard output / error without a newline added. */
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  /**
   * Writes all of `bytes` to standard output or error without blocking the event loop: a full pipe
   * holds this write, never the process. `done` is called once, when every byte is written or
   * the write failed. The caller keeps one write in flight per stream.
   */
  writeOutput(stream: OutputStreamName, bytes: Uint8Array, done: (error: Error | undefined) => void): void;
  /** The machine's host name, for log headers. */
  hostname(): string;
  /** Memory and CPU time used by this process so far, for the stats (zeros where the runtime cannot tell). */
  resourceUsage(): ResourceUsage;
  /** Runs `callback` for any error that escaped every handler, instead of dying. */
  onUncaughtError(callback: (error: unknown) => void): void;
  /** Ends the process now. */
  exit(code: number): never;
  /**
   * Starts this same program again (the same executable, runtime and entry module, or the same
   * compiled binary) with `args` as its command-line arguments. Throws an Error naming the
   * command when it cannot be started.
   */
  spawnSelf(args: readonly string[], options: SpawnSelfOptions): ChildProcess;
  /**
   * Starts `command` (looked up in PATH); throws an Error naming it when it cannot be started
   * (a command that does not exist may also end as `exited` with code 127 and no signal).
   */
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Cores this process may run on (at least 1). */
  cpuCount(): number;
  /**
   * Pins every thread of process `pid` to `cores` (threads it starts later inherit the set).
   * Throws an Error saying why where the runtime or OS cannot (`info.affinity` false).
   */
  setAffinity(pid: number, cores: readonly number[]): void;
  /**
   * Our effective user id, or -1 where the OS has none (Windows). Throws on Deno without
   * --allow-sys=uid.
   */
  userId(): number;
  /**
   * Becomes `uid`/`gid` for the whole process, every thread, with `gid` as the only supplementary
   * group; there is no way back. Throws an Error saying why where it cannot (`info.identity` false).
   */
  setIdentity(uid: number, gid: number): void;
  /**
   * Confines this process to `dir` for good: chroot(2), then chdir("/"), HAProxy's `chroot`. What the
   * runtime would read later on its own (the local time zone...) is read first. Needs root or
   * CAP_SYS_CHROOT. Throws a ChrootError: the kernel's errno as its code, or ENOSYS where the runtime
   * cannot make the call (`info.chroot` false: Node has no FFI, Deno without --allow-ffi, not Linux).
   * On Deno, a process without read permission (a jailed worker) gives its FFI permission back
   * once chrooted: FFI would be a way around the permission model.
   */
  chroot(dir: string): void;
  /** What is at `path`, for configuration checks; rejects with an Error saying why it cannot look. */
  pathKind(path: string): Promise<PathKind>;
  /**
   * CLOCK_MONOTONIC in microseconds, as systemd's `MONOTONIC_USEC` expects. Bun and Deno count
   * their own clocks from the process start, so they read it through FFI: on Linux only, and on
   * Deno only with --allow-ffi; elsewhere this throws an Error saying why.
   */
  monotonicMicros(): bigint;
  /**
   * Tries to read `path` (a jail self-check): "denied" when the permission model refused it,
   * "failed" for any other error (the OS's own EACCES included).
   */
  fileAccess(path: string): Promise<FileAccess>;
}
