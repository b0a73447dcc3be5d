/**
 * The http health check (HAProxy's `option httpchk` with `http-check expect`): one request on a
 * fresh connection, and the server passes when the status is in the expected ranges and, when a
 * body text is expected, the body contains it.
 *
 * The request is built once per server and sent with `Connection: close`, as HAProxy's checks are:
 * a check never reuses a connection. The response head goes through the proxy's own strict parser,
 * so a server whose answers the proxy would refuse as a 502 fails its checks too. The result comes
 * as soon as it is known: at the end of the head when no body is expected (the body is never
 * read), otherwise as soon as the text is found or the body ends or reaches
 * {@link CHECK_BODY_MAX_BYTES}; the connection is then closed at once. The probe has no timer: the
 * scheduler cancels a run that takes too long (see core/health/probe.ts).
 *
 * @module
 */

import type { TlsClientOptions } from "../runtime/types.ts";
import type { Connection, ConnectionHandler, Runtime } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { HttpCheckConfig, StatusRangeConfig } from "../config/types.ts";
import { CHECK_STATUS, connectProblem, describeConnectError } from "../core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../core/health/probe.ts";
import {
  BODY_CHUNKED,
  BODY_CONTENT_LENGTH,
  BODY_NONE,
  HEAD_FAILED,
  HEAD_INCOMPLETE,
  HeadParser,
} from "./head_parser.ts";
import { CHUNKED_FAILED, ChunkedDecoder } from "./chunked_decoder.ts";
import { destroyQuietly } from "../tcp/connect_probe.ts";
import { encodeCheckProxyHeader } from "../proxy_protocol/encode.ts";

/**
 * Most body bytes an http check reads when it looks for a text: HAProxy's check buffer is one
 * tune.bufsize, and a text past it is not found.
 */
export const CHECK_BODY_MAX_BYTES = 16_384;

/** The User-Agent of check requests. */
export const CHECK_USER_AGENT = "proxy-health-check";

/** What every response starts with (RFC 9112 4: the status line begins with HTTP-version). */
const HTTP_PREFIX = new TextEncoder().encode("HTTP/");

const STATE_CONNECTING = 0;
const STATE_HEAD = 1;
const STATE_BODY = 2;
const STATE_FINISHED = 3;

/**
 * The parsers and the body buffer of a run, kept by the probe between runs: a server is checked
 * every few seconds for the life of the proxy, and its checks follow each other.
 */
export class ResponseReader {
  readonly head = new HeadParser("response");
  readonly chunked = new ChunkedDecoder({ kind: "response" });
  body: Uint8Array | undefined = undefined;
}

/** Checks a server with an http request; one per server, `start` once per check. */
export class HttpCheckProbe implements HealthProbe {
  readonly runtime: Runtime;
  readonly host: string;
  readonly port: number;
  readonly check: HttpCheckConfig;
  /** The request, built once and written as it is by every run (connections never modify a chunk). */
  readonly request: Uint8Array;
  /** The expected body text as UTF-8 bytes, or null when the body is not looked at. */
  readonly expectBodyBytes: Uint8Array | null;
  #spare: ResponseReader | undefined = undefined;

  /** The server's TLS, when the check goes to its own address (HAProxy's check-ssl, implied by ssl). */
  readonly tls: TlsClientOptions | undefined;

  /** The PROXY header version each check opens with (`check-send-proxy`); 0: none. */
  readonly proxyHeader: 0 | 1 | 2;

  constructor(runtime: Runtime, host: string, port: number, check: HttpCheckConfig, tls?: TlsClientOptions, proxyHeader: 0 | 1 | 2 = 0) {
    this.tls = tls;
    this.proxyHeader = proxyHeader;
    this.runtime = runtime;
    this.host = host;
    this.port = port;
    this.check = check;
    this.request = new TextEncoder().encode(buildCheckRequest(host, port, check));
    // The text is compared as the bytes of the configuration (UTF-8), as HAProxy compares the
    // bytes of its configuration string with the body's bytes, whatever the body's charset.
    this.expectBodyBytes = check.expectBody === null ? null : new TextEncoder().encode(check.expectBody);
  }

  /** Connects and sends the request; see {@link HealthProbe.start}. */
  start(done: (result: ProbeResult) => void): ProbeRun {
    const run = new HttpCheckRun(this, done);
    run.begin();
    return run;
  }

  /** For the probe's runs: the reader of a new run, the last run's when it is free. */
  takeReader(): ResponseReader {
    const reader = this.#spare;
    if (reader === undefined) return new ResponseReader();
    this.#spare = undefined;
    return reader;
  }

  /** For the probe's runs: takes back the reader of a finished or cancelled run. */
  releaseReader(reader: ResponseReader): void {
    this.#spare = reader;
  }
}

/**
 * The request bytes of a check as text: HTTP/1.1 needs a Host header (RFC 9112 3.2), which is the
 * address checked unless the configuration names one, with the port unless it is http's default
 * (RFC 9110 7.2) and IPv6 addresses in brackets (RFC 3986 3.2.2).
 */
export function buildCheckRequest(host: string, port: number, check: HttpCheckConfig): string {
  const address = host.includes(":") ? `[${host}]` : host;
  const hostHeader = check.host ?? (port === 80 ? address : `${address}:${port}`);
  return `${check.method} ${check.path} HTTP/1.1\r\n` +
    `Host: ${hostHeader}\r\n` +
    `User-Agent: ${CHECK_USER_AGENT}\r\n` +
    "Accept: */*\r\n" +
    "Connection: close\r\n" +
    "\r\n";
}

/** Whether `status` is in one of the ranges. */
function statusExpected(status: number, ranges: readonly StatusRangeConfig[]): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!;
    if (status >= range.min && status <= range.max) return true;
  }
  return false;
}

/** One check: the handler of its connection until a result is given or the run is cancelled. */
class HttpCheckRun implements ProbeRun, ConnectionHandler {
  readonly #probe: HttpCheckProbe;
  #done: ((result: ProbeResult) => void) | undefined;
  #conn: Connection | undefined = undefined;
  #reader: ResponseReader | undefined;
  #state = STATE_CONNECTING;
  #connected = false;
  #cancelled = false;
  /** Inside `start`: a result found now must wait, as `done` is never called synchronously. */
  #starting = false;
  /** Content-Length bytes still to come. */
  #bodyRemaining = 0;
  /** Body bytes held in the reader's buffer. */
  #bodyLength = 0;
  /** Bytes of the response checked against "HTTP/" so far. */
  #prefixChecked = 0;

  constructor(probe: HttpCheckProbe, done: (result: ProbeResult) => void) {
    this.#probe = probe;
    this.#done = done;
    this.#reader = probe.takeReader();
  }

  get connected(): boolean {
    return this.#connected;
  }

  begin(): void {
    const probe = this.#probe;
    this.#starting = true;
    try {
      const tls = probe.tls;
      // Towards a TLS server the header goes before the handshake (the connection's preface).
      const preface = tls === undefined || probe.proxyHeader === 0 ? undefined : encodeCheckProxyHeader(probe.proxyHeader, null);
      const conn = probe.runtime.connect(
        tls === undefined ? { host: probe.host, port: probe.port, noDelay: true } : { host: probe.host, port: probe.port, noDelay: true, tls, preface },
        this,
      );
      // A runtime that opened or failed synchronously may have finished the run already.
      if (this.#state === STATE_FINISHED) destroyQuietly(conn);
      else if (this.#conn === undefined) this.#conn = conn;
    } catch (error) {
      this.#finish(connectProblem(error));
    } finally {
      this.#starting = false;
    }
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#done = undefined;
    if (this.#state !== STATE_FINISHED) this.#close();
  }

  onOpen(conn: Connection): void {
    if (this.#state !== STATE_CONNECTING) {
      destroyQuietly(conn);
      return;
    }
    try {
      this.#connected = true;
      this.#conn = conn;
      this.#state = STATE_HEAD;
      this.#reader!.head.reset(this.#probe.check.method);
      const proxyHeader = this.#probe.proxyHeader;
      if (proxyHeader !== 0 && conn.tls === undefined) conn.write(encodeCheckProxyHeader(proxyHeader, conn));
      conn.write(this.#probe.request);
    } catch (error) {
      this.#failed(error);
    }
  }

  onData(_conn: Connection, chunk: Uint8Array): void {
    try {
      if (this.#state === STATE_HEAD) this.#readHead(chunk);
      else if (this.#state === STATE_BODY) this.#readBody(chunk, 0);
    } catch (error) {
      this.#failed(error);
    }
  }

  onDrain(_conn: Connection): void {}

  onEnd(_conn: Connection): void {
    try {
      this.#closedByServer(undefined);
    } catch (error) {
      this.#failed(error);
    }
  }

  onClose(_conn: Connection, error: NetError | undefined): void {
    try {
      if (this.#state === STATE_CONNECTING) this.#finish(connectProblem(error));
      else this.#closedByServer(error);
    } catch (caught) {
      this.#failed(caught);
    }
  }

  /** The server ended or closed the connection while the run was reading. */
  #closedByServer(error: NetError | undefined): void {
    if (this.#state === STATE_HEAD) {
      const why = error === undefined ? "Connection closed" : describeConnectError(error.code, error.message);
      const status = this.#reader!.head.status;
      this.#finish(invalid(`${why} before the response`, status === 0 ? null : status));
    } else if (this.#state === STATE_BODY) {
      // A body cut short is searched as far as it came (HAProxy evaluates what its buffer holds).
      this.#bodyNotFound();
    }
  }

  #readHead(chunk: Uint8Array): void {
    if (this.#prefixChecked < HTTP_PREFIX.length && !this.#startsLikeHttp(chunk)) {
      this.#finish(invalid('Invalid response: it does not start with "HTTP/"', null));
      return;
    }
    const head = this.#reader!.head;
    let offset = 0;
    let end: number;
    for (;;) {
      end = head.feed(chunk, offset);
      if (end === HEAD_INCOMPLETE) return;
      if (end === HEAD_FAILED) {
        this.#finish(
          invalid(`Invalid response: ${head.error!.message}`, head.status === 0 ? null : head.status),
        );
        return;
      }
      if (!head.interim) break;
      // RFC 9110 15.2: a 1xx other than 101 comes before the final response; HAProxy's checks
      // skip it too.
      head.reset(this.#probe.check.method);
      if (end >= chunk.length) return;
      offset = end;
    }
    const status = head.status;
    const info = head.reason === "" ? null : head.reason;
    if (!statusExpected(status, this.#probe.check.expectStatus)) {
      this.#finish({ passed: false, status: CHECK_STATUS.layer7WrongStatus, code: status, info });
      return;
    }
    const needle = this.#probe.expectBodyBytes;
    if (needle === null) {
      // Nothing to look for in the body: the head is the answer, the body is never read.
      this.#finish({ passed: true, status: CHECK_STATUS.layer7Passed, code: status, info });
      return;
    }
    if (needle.length === 0) {
      this.#finish({ passed: true, status: CHECK_STATUS.layer7Passed, code: status, info });
      return;
    }
    const reader = this.#reader!;
    if (reader.body === undefined) reader.body = new Uint8Array(CHECK_BODY_MAX_BYTES);
    this.#bodyLength = 0;
    const kind = head.bodyKind;
    if (kind === BODY_NONE) {
      this.#bodyNotFound();
      return;
    }
    if (kind === BODY_CONTENT_LENGTH) this.#bodyRemaining = head.contentLength!;
    else if (kind === BODY_CHUNKED) reader.chunked.reset();
    this.#state = STATE_BODY;
    if (end < chunk.length) this.#readBody(chunk, end);
  }

  /**
   * Whether the first bytes of the response (up to 5, across chunks) are "HTTP/". The head parser
   * judges the status line once the whole head is in, so a server speaking another protocol (an
   * SSH or SMTP banner, then silence) would otherwise hold the check until its timeout; HAProxy's
   * incremental parser rejects it at once.
   */
  #startsLikeHttp(chunk: Uint8Array): boolean {
    let checked = this.#prefixChecked;
    for (let i = 0; i < chunk.length && checked < HTTP_PREFIX.length; i++, checked++) {
      if (chunk[i] !== HTTP_PREFIX[checked]) return false;
    }
    this.#prefixChecked = checked;
    return true;
  }

  #readBody(chunk: Uint8Array, offset: number): void {
    const reader = this.#reader!;
    const kind = reader.head.bodyKind;
    if (kind === BODY_CHUNKED) {
      const decoder = reader.chunked;
      const end = decoder.decode(chunk, offset);
      if (end === CHUNKED_FAILED) {
        this.#finish(invalid(`Invalid response: ${decoder.error!.message}`, reader.head.status));
        return;
      }
      const ranges = decoder.ranges;
      for (let i = 0; i < decoder.rangeCount; i++) {
        if (this.#append(chunk, ranges[i * 2]!, ranges[i * 2 + 1]!)) return;
      }
      if (decoder.done) this.#bodyNotFound();
    } else if (kind === BODY_CONTENT_LENGTH) {
      const available = chunk.length - offset;
      const take = this.#bodyRemaining < available ? this.#bodyRemaining : available;
      this.#bodyRemaining -= take;
      if (this.#append(chunk, offset, offset + take)) return;
      if (this.#bodyRemaining === 0) this.#bodyNotFound();
    } else {
      // The body runs until the server closes (RFC 9112 6.3 point 8): onEnd or onClose ends it.
      this.#append(chunk, offset, chunk.length);
    }
  }

  /**
   * Adds body bytes [start, end) of `chunk` to the buffer and looks for the text in what is new
   * (from just before it, so a text split across chunks is found). Returns true when the run
   * finished: the text was found or the buffer is full.
   */
  #append(chunk: Uint8Array, start: number, end: number): boolean {
    if (end <= start) return false;
    const body = this.#reader!.body!;
    const needle = this.#probe.expectBodyBytes!;
    const from = this.#bodyLength;
    const room = CHECK_BODY_MAX_BYTES - from;
    const count = end - start < room ? end - start : room;
    body.set(chunk.subarray(start, start + count), from);
    const length = from + count;
    this.#bodyLength = length;
    const searchFrom = from - needle.length + 1;
    if (indexOfBytes(body, length, needle, searchFrom < 0 ? 0 : searchFrom) >= 0) {
      const head = this.#reader!.head;
      this.#finish({
        passed: true,
        status: CHECK_STATUS.layer7Passed,
        code: head.status,
        info: head.reason === "" ? null : head.reason,
      });
      return true;
    }
    if (length >= CHECK_BODY_MAX_BYTES) {
      // HAProxy stops at a full check buffer: a text further in the body is not found.
      this.#bodyNotFound();
      return true;
    }
    return false;
  }

  #bodyNotFound(): void {
    this.#finish(
      invalid(`Body does not contain "${this.#probe.check.expectBody}"`, this.#reader!.head.status),
    );
  }

  /** An error thrown by the run's own code: a failed check, never an exception out of a handler. */
  #failed(error: unknown): void {
    if (this.#state === STATE_FINISHED) {
      // The error came from `done`, the caller's code: it is the caller's to see.
      throw error;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (this.#connected) this.#finish(invalid(`Check failed: ${message}`, null));
    else this.#finish(connectProblem(error));
  }

  /** Ends the run without a result: the reader goes back to the probe and the connection is closed. */
  #close(): void {
    this.#state = STATE_FINISHED;
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader !== undefined) this.#probe.releaseReader(reader);
    // HAProxy closes a check's connection as soon as it has its answer; onClose follows, ignored.
    if (this.#conn !== undefined) destroyQuietly(this.#conn);
  }

  /** Closes the connection and gives the result, once. */
  #finish(result: ProbeResult): void {
    if (this.#state === STATE_FINISHED) return;
    this.#close();
    const done = this.#done;
    this.#done = undefined;
    if (done === undefined) return;
    if (this.#starting) {
      queueMicrotask(() => {
        if (!this.#cancelled) done(result);
      });
    } else {
      done(result);
    }
  }
}

/** A response the check cannot accept: HAProxy's L7RSP. */
function invalid(info: string, code: number | null): ProbeResult {
  return { passed: false, status: CHECK_STATUS.layer7InvalidResponse, code, info };
}

/** Index of `needle` in `haystack[from, length)`, or -1. */
function indexOfBytes(haystack: Uint8Array, length: number, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = length - needle.length;
  for (let i = haystack.indexOf(first, from); i >= 0 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
