/**
 * The tcp health check: a server passes when it accepts a connection (HAProxy's plain `check`
 * without `option httpchk`).
 *
 * As HAProxy does, the connection is closed as soon as it is established: nothing is sent and
 * nothing read, so a check costs the server one accept. A failure before that is a "Layer4
 * connection problem" with the system's wording of the error ("Connection refused"). The probe has
 * no timer: the scheduler cancels a run that takes too long (see core/health/probe.ts).
 *
 * @module
 */

import type { TlsClientOptions } from "../runtime/types.ts";
import type { Connection, ConnectionHandler, Runtime } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import { encodeCheckProxyHeader } from "../proxy_protocol/encode.ts";
import { CHECK_STATUS, connectProblem } from "../core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../core/health/probe.ts";

/** Every passing tcp check has the same result: one frozen object, no allocation per check. */
const PASSED: ProbeResult = Object.freeze({
  passed: true,
  status: CHECK_STATUS.layer4Passed,
  code: null,
  info: null,
});

/** Checks that a server accepts tcp connections; one per server, `start` once per check. */
export class TcpConnectProbe implements HealthProbe {
  readonly runtime: Runtime;
  readonly host: string;
  readonly port: number;
  /** The server's TLS, when the check goes to its own address (HAProxy's check-ssl, implied by ssl). */
  readonly tls: TlsClientOptions | undefined;
  /** The PROXY header version each check opens with (`check-send-proxy`); 0: none. */
  readonly proxyHeader: 0 | 1 | 2;

  constructor(runtime: Runtime, host: string, port: number, tls?: TlsClientOptions, proxyHeader: 0 | 1 | 2 = 0) {
    this.runtime = runtime;
    this.host = host;
    this.port = port;
    this.tls = tls;
    this.proxyHeader = proxyHeader;
  }

  /** Dials the server; see {@link HealthProbe.start}. */
  start(done: (result: ProbeResult) => void): ProbeRun {
    const run = new TcpConnectRun(done, this.proxyHeader);
    run.begin(this.runtime, this.host, this.port, this.tls);
    return run;
  }
}

/** One check: the handler of its connection until a result is given or the run is cancelled. */
class TcpConnectRun implements ProbeRun, ConnectionHandler {
  #done: ((result: ProbeResult) => void) | undefined;
  #conn: Connection | undefined = undefined;
  #connected = false;
  /** A result was given or the run was cancelled: every later event is ignored. */
  #finished = false;
  #cancelled = false;
  /** Inside `start`: a result found now must wait, as `done` is never called synchronously. */
  #starting = false;
  readonly #proxyHeader: 0 | 1 | 2;

  constructor(done: (result: ProbeResult) => void, proxyHeader: 0 | 1 | 2) {
    this.#done = done;
    this.#proxyHeader = proxyHeader;
  }

  get connected(): boolean {
    return this.#connected;
  }

  begin(runtime: Runtime, host: string, port: number, tls: TlsClientOptions | undefined): void {
    this.#starting = true;
    try {
      // Towards a TLS server the header goes before the handshake (the connection's preface).
      const preface = tls === undefined || this.#proxyHeader === 0 ? undefined : encodeCheckProxyHeader(this.#proxyHeader, null);
      const conn = runtime.connect(tls === undefined ? { host, port, noDelay: true } : { host, port, noDelay: true, tls, preface }, this);
      // A runtime that opened or failed synchronously already finished the run.
      if (this.#finished) destroyQuietly(conn);
      else this.#conn = conn;
    } catch (error) {
      this.#finish(connectProblem(error));
    } finally {
      this.#starting = false;
    }
  }

  cancel(): void {
    this.#cancelled = true;
    this.#finished = true;
    this.#done = undefined;
    if (this.#conn !== undefined) destroyQuietly(this.#conn);
  }

  onOpen(conn: Connection): void {
    if (this.#finished) {
      destroyQuietly(conn);
      return;
    }
    this.#connected = true;
    this.#conn = conn;
    // A server that requires the header would log a bad connection without it. The write reaches
    // the kernel at once (the socket's queue is empty), so the close that follows does not lose it.
    if (this.#proxyHeader !== 0 && conn.tls === undefined) conn.write(encodeCheckProxyHeader(this.#proxyHeader, conn));
    this.#finish(PASSED);
  }

  onData(_conn: Connection, _chunk: Uint8Array): void {
    // Nothing is read: the connection is closed as soon as it opens.
  }

  onDrain(_conn: Connection): void {}

  onEnd(_conn: Connection): void {}

  onClose(_conn: Connection, error: NetError | undefined): void {
    if (this.#finished) return;
    this.#finish(connectProblem(error));
  }

  /** Closes the connection and gives the result, once. */
  #finish(result: ProbeResult): void {
    if (this.#finished) return;
    this.#finished = true;
    const done = this.#done!;
    this.#done = undefined;
    // HAProxy closes a tcp check's connection at once; onClose follows and is ignored.
    if (this.#conn !== undefined) destroyQuietly(this.#conn);
    if (this.#starting) {
      queueMicrotask(() => {
        if (!this.#cancelled) done(result);
      });
    } else {
      done(result);
    }
  }
}

/** Destroys a check's connection; a socket that cannot even be destroyed is gone already, so nothing is lost. */
export function destroyQuietly(conn: Connection): void {
  try {
    conn.destroy();
  } catch {
    // Nothing to do: the check's result does not depend on it.
  }
}
