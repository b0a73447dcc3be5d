/**
 * Incremental parser of HTTP/1.1 message heads (request line or status line, and header fields),
 * fed with the raw chunks of a connection, split anywhere.
 *
 * Usage: `feed(chunk, offset)` returns `HEAD_INCOMPLETE` (every byte from `offset` was taken,
 * feed the next chunk), `HEAD_FAILED` (see `error`), or the index in `chunk` where the head ends and
 * the body (or the next pipelined message) starts. Only head bytes are ever copied: when a head
 * sits in one chunk it is parsed in place, otherwise its parts are gathered in a buffer bounded by
 * `maxHeadBytes`. The parser is the parsed head: read its fields after completion, and `reset()`
 * it for the next message (parsers are meant to be pooled with the session).
 *
 * Strictness follows RFC 9112 and HAProxy's h1 parser (src/h1.c): bare LF and bare CR are
 * rejected, obsolete line folding too, and every framing ambiguity that enables request smuggling
 * is an error or forces the connection closed after the response.
 *
 * @module
 */

import { latin1, quote, quoteBytes, TOKEN_CHARS, WINDOWS_1252 } from "./_bytes.ts";
import { HttpError } from "./errors.ts";
import type { HttpErrorCode } from "./errors.ts";

/** `feed` result: the head is not complete yet, every byte given was taken. */
export const HEAD_INCOMPLETE = -1;
/** `feed` result: the head is invalid, `error` says why and which status to answer. */
export const HEAD_FAILED = -2;

/** Body framing: no body follows the head. */
export const BODY_NONE = 0;
/** Body framing: `contentLength` bytes follow the head. */
export const BODY_CONTENT_LENGTH = 1;
/** Body framing: a chunked body follows (see chunked_decoder.ts). */
export const BODY_CHUNKED = 2;
/** Body framing: the body runs until the server closes the connection (responses only). */
export const BODY_UNTIL_CLOSE = 3;
/** How the body of a message is delimited (RFC 9112 6.3). */
export type BodyKind = 0 | 1 | 2 | 3;

/** HAProxy's default head limit: tune.bufsize (16384) minus tune.maxrewrite (1024). */
export const DEFAULT_MAX_HEAD_BYTES = 15360;
/** HAProxy's default tune.http.maxhdr: header lines allowed after the start line. */
export const DEFAULT_MAX_HEADER_LINES = 101;

/** Limits of a head parser. */
export interface HeadParserOptions {
  /** Largest head, start line and final empty line included (default 15,360 bytes). */
  maxHeadBytes?: number;
  /** Most header lines after the start line (default 101). */
  maxHeaderLines?: number;
}

/** Which side of the exchange a parser reads. */
export type MessageKind = "request" | "response";

/** A parsed head as the serializer needs it; `HeadParser` is one. */
export interface HttpHead {
  /** "request" or "response". */
  readonly kind: MessageKind;
  /** Request method as received ("" for responses). */
  readonly method: string;
  /** Request target as received ("" for responses). */
  readonly target: string;
  /** Protocol version: "1.0" or "1.1". */
  readonly version: "1.0" | "1.1";
  /** Response status code (0 for requests). */
  readonly status: number;
  /** Response reason phrase, possibly empty. */
  readonly reason: string;
  /** Number of header fields in the three parallel arrays below. */
  readonly headerCount: number;
  /** Header names as received, in order, duplicates kept (entries past `headerCount` are stale). */
  readonly headerNames: readonly string[];
  /** The same names in lower case, for matching. */
  readonly headerLowerNames: readonly string[];
  /** Header values, leading and trailing whitespace removed. */
  readonly headerValues: readonly string[];
  /** Lower-case tokens of every Connection header, in order (RFC 9110 7.6.1). */
  readonly connectionTokens: readonly string[];
}

const STATE_SCANNING = 0;
const STATE_COMPLETE = 1;
const STATE_FAILED = 2;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const HASH = 35;
const DEL = 127;

/** Parses request heads or response heads from chunks; reusable through `reset()`. */
export class HeadParser implements HttpHead {
  readonly kind: MessageKind;
  readonly maxHeadBytes: number;
  readonly maxHeaderLines: number;

  // The parsed head. Written by the parser only; callers read them after completion.
  method = "";
  target = "";
  version: "1.0" | "1.1" = "1.1";
  status = 0;
  reason = "";
  headerCount = 0;
  readonly headerNames: string[] = [];
  readonly headerLowerNames: string[] = [];
  readonly headerValues: string[] = [];
  readonly connectionTokens: string[] = [];

  /** Size of the head in bytes, start line and final empty line included. */
  headBytes = 0;
  /** How the body is delimited. */
  bodyKind: BodyKind = BODY_NONE;
  /** The Content-Length value, when the body is framed by it. */
  contentLength: number | undefined = undefined;
  /** The body is chunked (Transfer-Encoding ends with chunked). */
  chunked = false;
  /**
   * The connection must be closed once this exchange is over: Transfer-Encoding came with
   * Content-Length (RFC 9112 6.1, HAProxy closes too), or a response body runs until close.
   */
  closeAfterResponse = false;
  /** The peer wants the connection kept open: HTTP/1.1 without close, or HTTP/1.0 with keep-alive. */
  keepAlive = true;
  /** A Connection header carries "close". */
  connectionClose = false;
  /** A Connection header carries "keep-alive". */
  connectionKeepAlive = false;
  /** A Connection header carries "upgrade". */
  connectionUpgrade = false;
  /** The Upgrade header value (several joined with ", "), or undefined. */
  upgrade: string | undefined = undefined;
  /** Upgrade names h2c: the proxy must not forward it (nor HTTP2-Settings), see serialize.ts. */
  h2cUpgrade = false;
  /** An HTTP2-Settings header is present (only meaningful with an h2c upgrade). */
  hasHttp2Settings = false;
  /** An HTTP/1.1 request carries "Expect: 100-continue" (RFC 9110 10.1.1; ignored for HTTP/1.0). */
  expectContinue = false;
  /** The Host header value, or undefined. */
  host: string | undefined = undefined;
  /** A 1xx response other than 101: a final response follows it (RFC 9110 15.2). */
  interim = false;
  /** The reason `feed` returned `HEAD_FAILED`. */
  error: HttpError | undefined = undefined;

  #state = STATE_SCANNING;
  #buffer: Uint8Array | undefined = undefined;
  #buffered = 0;
  #lineStart = 0;
  #lineCount = 0;
  #skipped = 0;
  #requestMethod = "";
  #framingConflict = false;

  constructor(kind: MessageKind, options: HeadParserOptions = {}) {
    this.kind = kind;
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.maxHeaderLines = options.maxHeaderLines ?? DEFAULT_MAX_HEADER_LINES;
  }

  /**
   * Readies the parser for the next message. For a response parser, `requestMethod` is the method
   * of the request being answered: HEAD and CONNECT change the response's framing (RFC 9112 6.3).
   */
  reset(requestMethod = ""): void {
    this.#state = STATE_SCANNING;
    this.#buffered = 0;
    this.#lineStart = 0;
    this.#lineCount = 0;
    this.#skipped = 0;
    this.#requestMethod = requestMethod;
    this.#framingConflict = false;
    this.method = "";
    this.target = "";
    this.version = "1.1";
    this.status = 0;
    this.reason = "";
    this.headerCount = 0;
    this.connectionTokens.length = 0;
    this.headBytes = 0;
    this.bodyKind = BODY_NONE;
    this.contentLength = undefined;
    this.chunked = false;
    this.closeAfterResponse = false;
    this.keepAlive = true;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.connectionUpgrade = false;
    this.upgrade = undefined;
    this.h2cUpgrade = false;
    this.hasHttp2Settings = false;
    this.expectContinue = false;
    this.host = undefined;
    this.interim = false;
    this.error = undefined;
  }

  /** The head is complete (`feed` returned an index). */
  get complete(): boolean {
    return this.#state === STATE_COMPLETE;
  }

  /**
   * Takes the bytes of `chunk` from `offset`. Returns `HEAD_INCOMPLETE`, `HEAD_FAILED`, or the index
   * in `chunk` just past the head's final CRLF (where the body starts; may equal `chunk.length`).
   */
  feed(chunk: Uint8Array, offset = 0): number {
    if (this.#state !== STATE_SCANNING) {
      throw new Error("The head parser was fed after it finished: call reset() first");
    }
    const length = chunk.length;
    const limit = this.maxHeadBytes;
    let headStart = offset;
    let position = offset;
    for (;;) {
      const lf = chunk.indexOf(LF, position);
      if (lf < 0) {
        const total = this.#buffered + (length - headStart);
        if (total > limit) return this.#tooLarge();
        if (length > headStart) {
          const buffer = this.#buffer ?? (this.#buffer = new Uint8Array(limit));
          buffer.set(chunk.subarray(headStart, length), this.#buffered);
          this.#buffered = total;
        }
        return HEAD_INCOMPLETE;
      }
      const headLf = this.#buffered + (lf - headStart);
      if (headLf + 1 > limit) return this.#tooLarge();
      // RFC 9112 2.2 allows a bare LF as line end; HAProxy and this parser demand CRLF, as a
      // lenient parser in front of a strict server is how requests are smuggled.
      const crBefore = lf > headStart
        ? chunk[lf - 1] === CR
        : this.#buffered > 0 && this.#buffer![this.#buffered - 1] === CR;
      if (!crBefore) {
        return this.#failed("HTTP_BARE_LF", "Line ends with a bare LF instead of CRLF");
      }
      if (headLf - 1 === this.#lineStart) {
        if (this.#lineCount === 0) {
          if (this.kind === "response") {
            return this.#failed("HTTP_INVALID_STATUS_LINE", "Empty line instead of a status line");
          }
          // RFC 9112 2.2: a server should ignore empty lines before the request line (some
          // clients send a CRLF after a POST body). Bounded like the head itself.
          this.#skipped += headLf + 1;
          if (this.#skipped > limit) return this.#tooLarge();
          this.#buffered = 0;
          headStart = lf + 1;
          position = lf + 1;
          continue;
        }
        const end = lf + 1;
        let parsed: boolean;
        if (this.#buffered === 0) {
          parsed = this.#parse(chunk, headStart, end);
        } else {
          const buffer = this.#buffer!;
          buffer.set(chunk.subarray(headStart, end), this.#buffered);
          parsed = this.#parse(buffer, 0, this.#buffered + (end - headStart));
        }
        if (!parsed) return HEAD_FAILED;
        this.#state = STATE_COMPLETE;
        return end;
      }
      if (++this.#lineCount > this.maxHeaderLines + 1) {
        return this.#failed(
          "HTTP_TOO_MANY_HEADERS",
          `Head has more than ${this.maxHeaderLines} header lines`,
        );
      }
      this.#lineStart = headLf + 1;
      position = lf + 1;
    }
  }

  /** The value of the first header named `lowerName` (lower case), or undefined. */
  headerValue(lowerName: string): string | undefined {
    for (let i = 0; i < this.headerCount; i++) {
      if (this.headerLowerNames[i] === lowerName) return this.headerValues[i];
    }
    return undefined;
  }

  /** The headers as [name, value] pairs, in order (allocates: for tests and diagnostics). */
  headers(): [string, string][] {
    const pairs: [string, string][] = [];
    for (let i = 0; i < this.headerCount; i++) pairs.push([this.headerNames[i]!, this.headerValues[i]!]);
    return pairs;
  }

  // Mutations for http-request/http-response rules. The framing and connection fields keep the
  // values parsed from the received head: rules may not touch the headers behind them (the
  // configuration refuses it), so the message is forwarded with the framing it arrived with.
  // `host` is the exception: routing and X-Forwarded-Host read it after the rules ran.

  /**
   * Removes every header named `name` and appends `name: value`. `lowerName` saves the lowering
   * when the caller has it precomputed; `value` must be latin1 without CR, LF or NUL.
   */
  setHeader(name: string, value: string, lowerName: string = name.toLowerCase()): void {
    this.#removeHeaders(lowerName);
    this.#append(name, lowerName, value);
    if (lowerName === "host" && this.kind === "request") this.host = value;
  }

  /** Appends `name: value`, keeping the headers of that name already present. */
  addHeader(name: string, value: string, lowerName: string = name.toLowerCase()): void {
    this.#append(name, lowerName, value);
    // `host` is the first Host value, as the parser sets it.
    if (lowerName === "host" && this.kind === "request" && this.host === undefined) this.host = value;
  }

  /** Removes every header named `lowerName` (lower case), keeping the others in order. */
  deleteHeader(lowerName: string): void {
    this.#removeHeaders(lowerName);
    if (lowerName === "host" && this.kind === "request") this.host = undefined;
  }

  /** Replaces the request target (the caller keeps it free of spaces, CR, LF and '#'). */
  setTarget(target: string): void {
    this.target = target;
  }

  #append(name: string, lowerName: string, value: string): void {
    // Entries past headerCount are stale: overwriting them reuses the arrays' slots.
    const index = this.headerCount;
    this.headerNames[index] = name;
    this.headerLowerNames[index] = lowerName;
    this.headerValues[index] = value;
    this.headerCount = index + 1;
  }

  #tooLarge(): number {
    return this.#failed("HTTP_HEAD_TOO_LARGE", `Head is larger than ${this.maxHeadBytes} bytes`);
  }

  /** Records the error (status 400 for requests unless told, always 502 for responses). */
  #fail(code: HttpErrorCode, message: string, requestStatus = 400): false {
    this.#state = STATE_FAILED;
    this.error = new HttpError(code, this.kind === "request" ? requestStatus : 502, message);
    return false;
  }

  #failed(code: HttpErrorCode, message: string): number {
    this.#fail(code, message);
    return HEAD_FAILED;
  }

  /** Parses a complete head `src[start, end)` whose lines all end with CRLF. */
  #parse(src: Uint8Array, start: number, end: number): boolean {
    this.headBytes = end - start;
    // One native decode for the whole head; names and values are slices of it (cheap in every
    // engine). Bytes 0x80-0x9F, which windows-1252 maps elsewhere, can only sit in values and the
    // reason phrase (tokens and targets refuse them): their loops switch to the exact decode.
    let text = WINDOWS_1252.decode(src.subarray(start, end));
    let exact = false;
    let lf = src.indexOf(LF, start);
    const startLineOk = this.kind === "request"
      ? this.#parseRequestLine(src, text, start, start, lf - 1)
      : this.#parseStatusLine(src, start, lf - 1);
    if (!startLineOk) return false;

    const names = this.headerNames;
    const lowerNames = this.headerLowerNames;
    const values = this.headerValues;
    const headEnd = end - 2;
    let count = 0;
    let lineStart = lf + 1;
    while (lineStart < headEnd) {
      lf = src.indexOf(LF, lineStart);
      const lineEnd = lf - 1;
      const first = src[lineStart]!;
      if (first === SP || first === HTAB) {
        // RFC 9112 5.2: obs-fold may be rejected with 400; HAProxy rejects it too.
        return this.#fail(
          "HTTP_OBSOLETE_LINE_FOLDING",
          `Header line ${quoteBytes(src, lineStart, lineEnd)} continues the previous one (obsolete line folding)`,
        );
      }
      let i = lineStart;
      let hasUpper = false;
      for (; i < lineEnd; i++) {
        const c = src[i]!;
        if (c === COLON) break;
        if (TOKEN_CHARS[c] === 0) {
          if (c === SP || c === HTAB) {
            // RFC 9112 5.1: whitespace between name and colon must be rejected with 400.
            return this.#fail(
              "HTTP_WHITESPACE_BEFORE_COLON",
              `Header name ${quoteBytes(src, lineStart, i)} is followed by whitespace before the colon`,
            );
          }
          if (c === CR) return this.#fail("HTTP_BARE_CR", "Header line holds a bare CR");
          return this.#fail(
            "HTTP_INVALID_HEADER_NAME",
            `Header name ${quoteBytes(src, lineStart, i + 1)} holds a character that is not allowed`,
          );
        }
        if (c <= 0x5a && c >= 0x41) hasUpper = true;
      }
      if (i === lineEnd) {
        return this.#fail("HTTP_INVALID_HEADER_LINE", `Header line ${quoteBytes(src, lineStart, lineEnd)} has no colon`);
      }
      if (i === lineStart) {
        return this.#fail("HTTP_INVALID_HEADER_NAME", `Header line ${quoteBytes(src, lineStart, lineEnd)} has an empty name`);
      }
      let valueStart = i + 1;
      let valueEnd = lineEnd;
      while (valueStart < valueEnd && (src[valueStart] === SP || src[valueStart] === HTAB)) valueStart++;
      while (valueEnd > valueStart && (src[valueEnd - 1] === SP || src[valueEnd - 1] === HTAB)) valueEnd--;
      for (let v = valueStart; v < valueEnd; v++) {
        const c = src[v]!;
        if (c >= 0x80 && c <= 0x9f && !exact) {
          text = latin1(src, start, end);
          exact = true;
        }
        // RFC 9110 5.5: NUL, CR and LF must be rejected; HAProxy rejects exactly these.
        if (c === 0 || c === CR) {
          if (c === CR) return this.#fail("HTTP_BARE_CR", `Header ${quoteBytes(src, lineStart, i)} holds a bare CR`);
          return this.#fail("HTTP_INVALID_HEADER_VALUE", `Header ${quoteBytes(src, lineStart, i)} holds a NUL byte`);
        }
      }
      const name = text.slice(lineStart - start, i - start);
      names[count] = name;
      lowerNames[count] = hasUpper ? name.toLowerCase() : name;
      values[count] = text.slice(valueStart - start, valueEnd - start);
      count++;
      lineStart = lf + 1;
    }
    this.headerCount = count;
    return this.#deriveFacts();
  }

  /** `method SP request-target SP HTTP-version` (RFC 9112 3). */
  #parseRequestLine(src: Uint8Array, text: string, base: number, lineStart: number, lineEnd: number): boolean {
    let i = lineStart;
    for (; i < lineEnd; i++) {
      const c = src[i]!;
      if (c === SP) break;
      if (TOKEN_CHARS[c] === 0) {
        if (c === CR) return this.#fail("HTTP_BARE_CR", "Request line holds a bare CR");
        return this.#fail("HTTP_INVALID_METHOD", `Method ${quoteBytes(src, lineStart, i + 1)} is not a token`);
      }
    }
    if (i === lineStart) {
      return this.#fail("HTTP_INVALID_METHOD", `Request line ${quoteBytes(src, lineStart, lineEnd)} has no method`);
    }
    const methodEnd = i;
    let versionSpace = lineEnd - 1;
    while (versionSpace > methodEnd && src[versionSpace] !== SP) versionSpace--;
    if (i === lineEnd || versionSpace === methodEnd) {
      // "GET /" is HTTP/0.9, which HAProxy refuses as well.
      return this.#fail(
        "HTTP_INVALID_REQUEST_LINE",
        `Request line ${quoteBytes(src, lineStart, lineEnd)} lacks a target or a version`,
      );
    }
    const targetStart = methodEnd + 1;
    if (targetStart === versionSpace) return this.#fail("HTTP_INVALID_TARGET", "Request target is empty");
    for (let t = targetStart; t < versionSpace; t++) {
      const c = src[t]!;
      // RFC 3986 allows none of these in a URI; '#' starts a fragment, never sent (RFC 9112 3.2).
      // Bytes above 0x7F are refused as well (HAProxy without accept-invalid-http-request).
      if (c <= SP || c === DEL || c === HASH || c > DEL) {
        if (c === CR) return this.#fail("HTTP_BARE_CR", "Request target holds a bare CR");
        return this.#fail(
          "HTTP_INVALID_TARGET",
          `Request target ${quoteBytes(src, targetStart, versionSpace)} holds a character that is not allowed`,
        );
      }
    }
    const version = parseVersion(src, versionSpace + 1, lineEnd);
    if (version < 0) {
      return this.#fail("HTTP_INVALID_VERSION", `Version ${quoteBytes(src, versionSpace + 1, lineEnd)} is malformed`);
    }
    if (version !== 10 && version !== 11) {
      // RFC 9110 15.6.6: 505 for a major version the server does not support on this connection.
      return this.#fail(
        "HTTP_UNSUPPORTED_VERSION",
        `Version ${quoteBytes(src, versionSpace + 1, lineEnd)} is not supported`,
        505,
      );
    }
    this.version = version === 11 ? "1.1" : "1.0";
    this.method = knownMethod(src, lineStart, methodEnd) ?? text.slice(lineStart - base, methodEnd - base);
    this.target = text.slice(targetStart - base, versionSpace - base);
    return true;
  }

  /** `HTTP-version SP 3DIGIT SP [reason-phrase]` (RFC 9112 4); a missing reason and SP is tolerated. */
  #parseStatusLine(src: Uint8Array, lineStart: number, lineEnd: number): boolean {
    const version = lineEnd - lineStart >= 12 ? parseVersion(src, lineStart, lineStart + 8) : -1;
    if (version < 0 || src[lineStart + 8] !== SP) {
      return this.#fail("HTTP_INVALID_STATUS_LINE", `Status line ${quoteBytes(src, lineStart, lineEnd)} is malformed`);
    }
    if (version !== 10 && version !== 11) {
      return this.#fail(
        "HTTP_UNSUPPORTED_VERSION",
        `Version ${quoteBytes(src, lineStart, lineStart + 8)} is not supported`,
      );
    }
    const d0 = src[lineStart + 9]! - 0x30;
    const d1 = src[lineStart + 10]! - 0x30;
    const d2 = src[lineStart + 11]! - 0x30;
    const afterCode = lineStart + 12;
    if (
      d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 ||
      (afterCode < lineEnd && src[afterCode] !== SP)
    ) {
      return this.#fail("HTTP_INVALID_STATUS", `Status ${quoteBytes(src, lineStart + 9, lineEnd)} is not a code from 100 to 599`);
    }
    for (let r = afterCode + 1; r < lineEnd; r++) {
      const c = src[r]!;
      // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
      if ((c < SP && c !== HTAB) || c === DEL) {
        if (c === CR) return this.#fail("HTTP_BARE_CR", "Status line holds a bare CR");
        return this.#fail("HTTP_INVALID_STATUS_LINE", `Reason phrase ${quoteBytes(src, afterCode + 1, lineEnd)} holds a control character`);
      }
    }
    this.version = version === 11 ? "1.1" : "1.0";
    this.status = d0 * 100 + d1 * 10 + d2;
    // latin1, not the windows-1252 head text: the reason may hold bytes 0x80-0x9F.
    this.reason = afterCode < lineEnd ? latin1(src, afterCode + 1, lineEnd) : "";
    return true;
  }

  /** Reads the headers that decide framing and connection handling, and applies RFC 9112 6. */
  #deriveFacts(): boolean {
    const isRequest = this.kind === "request";
    const count = this.headerCount;
    const lowerNames = this.headerLowerNames;
    const values = this.headerValues;
    let contentLength = -1;
    let contentLengthHeaders = 0;
    let transferEncodings = 0;
    let chunkedCount = 0;
    let lastCodingChunked = false;
    let otherCodings = false;
    for (let i = 0; i < count; i++) {
      const name = lowerNames[i]!;
      // The length prefilter keeps most headers to one integer comparison.
      switch (name.length) {
        case 4:
          if (name === "host" && isRequest) {
            const value = values[i]!;
            if (this.host === undefined) this.host = value;
            else if (this.host !== value) {
              // HAProxy answers 400 to several Host headers that disagree (RFC 9112 3.2).
              return this.#fail("HTTP_CONFLICTING_HOST", `Host headers disagree: ${quote(this.host)} and ${quote(value)}`);
            }
          }
          break;
        case 6:
          if (name === "expect" && isRequest) {
            // RFC 9110 10.1.1: a server must ignore 100-continue in an HTTP/1.0 request.
            if (this.version === "1.1" && values[i]!.toLowerCase() === "100-continue") this.expectContinue = true;
          }
          break;
        case 7:
          if (name === "upgrade") {
            const value = values[i]!;
            this.upgrade = this.upgrade === undefined ? value : this.upgrade + ", " + value;
            if (isRequest && listHasToken(value, "h2c")) this.h2cUpgrade = true;
          }
          break;
        case 10:
          if (name === "connection") {
            collectTokens(values[i]!, this.connectionTokens);
          }
          break;
        case 14:
          if (name === "content-length") {
            const value = values[i]!;
            const length = parseContentLength(value);
            if (length === CONTENT_LENGTH_INVALID) {
              return this.#fail("HTTP_INVALID_CONTENT_LENGTH", `Content-Length ${quote(value)} is not a number`);
            }
            if (length === CONTENT_LENGTH_CONFLICT || (contentLength >= 0 && length !== contentLength)) {
              // RFC 9112 6.3 point 5: differing values are unrecoverable framing errors.
              return this.#fail("HTTP_CONFLICTING_CONTENT_LENGTH", `Content-Length ${quote(value)} conflicts with another value`);
            }
            contentLength = length;
            contentLengthHeaders++;
          } else if (name === "http2-settings") {
            this.hasHttp2Settings = true;
          }
          break;
        case 17:
          if (name === "transfer-encoding") {
            const value = values[i]!;
            transferEncodings++;
            const found = scanCodings(value);
            if (found === CODINGS_INVALID) {
              return this.#fail("HTTP_INVALID_TRANSFER_ENCODING", `Transfer-Encoding ${quote(value)} is malformed`);
            }
            // Only the last coding of the last non-empty header counts as "last" (RFC 9110 5.3).
            if (found !== CODINGS_EMPTY) lastCodingChunked = (found & CODINGS_LAST_CHUNKED) !== 0;
            if ((found & CODINGS_OTHER) !== 0) otherCodings = true;
            chunkedCount += found >> CODINGS_CHUNKED_SHIFT;
          }
          break;
      }
    }

    const tokens = this.connectionTokens;
    for (let t = 0; t < tokens.length; t++) {
      const token = tokens[t];
      if (token === "close") this.connectionClose = true;
      else if (token === "keep-alive") this.connectionKeepAlive = true;
      else if (token === "upgrade") this.connectionUpgrade = true;
    }
    // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    this.keepAlive = !this.connectionClose && (this.version === "1.1" || this.connectionKeepAlive);

    if (isRequest) {
      if (this.host === undefined && this.version === "1.1") {
        return this.#fail("HTTP_MISSING_HOST", "HTTP/1.1 request has no Host header");
      }
    } else {
      this.interim = this.status < 200 && this.status !== 101;
    }

    if (transferEncodings > 0) {
      if (this.version === "1.0") {
        // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing, and the connection
        // must be closed after the message. HAProxy still reads the body as chunked, then closes
        // (reg-test http-messaging/http_transfer_encoding.vtc, clients c2 and c3).
        this.#framingConflict = true;
        this.closeAfterResponse = true;
      }
      if (chunkedCount > 1) {
        return this.#fail("HTTP_CHUNKED_TWICE", "Transfer-Encoding applies chunked more than once");
      }
      if (contentLengthHeaders > 0) {
        // RFC 9112 6.1 and 6.3 point 3: Transfer-Encoding overrides Content-Length, which must be
        // removed before forwarding, and the connection closed after the response (HAProxy too).
        this.#removeHeaders("content-length");
        this.#framingConflict = true;
        this.closeAfterResponse = true;
      }
      if (lastCodingChunked) {
        if (isRequest && otherCodings) {
          // HAProxy answers 422 to "gzip, chunked": framed correctly, but a coding no server
          // behind a proxy is expected to decode (RFC 9112 6.1 suggests 501).
          return this.#fail(
            "HTTP_UNSUPPORTED_TRANSFER_CODING",
            "Transfer-Encoding of a request applies a coding other than chunked",
            422,
          );
        }
        this.chunked = true;
        this.bodyKind = BODY_CHUNKED;
      } else if (isRequest) {
        // RFC 9112 6.3 point 4: a request whose last coding is not chunked cannot be framed.
        return this.#fail("HTTP_CHUNKED_NOT_LAST", "Transfer-Encoding of a request does not end with chunked");
      } else {
        this.bodyKind = BODY_UNTIL_CLOSE;
        this.closeAfterResponse = true;
      }
    } else if (contentLength >= 0) {
      this.contentLength = contentLength;
      this.bodyKind = contentLength > 0 ? BODY_CONTENT_LENGTH : BODY_NONE;
    } else if (isRequest) {
      // RFC 9112 6.3 point 6: a request without either has no body.
      this.bodyKind = BODY_NONE;
    } else {
      // RFC 9112 6.3 point 8: a response without either runs until the server closes.
      this.bodyKind = BODY_UNTIL_CLOSE;
      this.closeAfterResponse = true;
    }
    return this.#applyNoBodyRules();
  }

  /** RFC 9112 6.3 points 1 and 2: responses that never carry a body, whatever their headers say. */
  #applyNoBodyRules(): boolean {
    if (this.kind === "request") return true;
    const status = this.status;
    const method = this.#requestMethod;
    if (
      method === "HEAD" || status < 200 || status === 204 || status === 304 ||
      (method === "CONNECT" && status < 300)
    ) {
      this.bodyKind = BODY_NONE;
      this.chunked = false;
      // Nothing is read until close any more; a framing conflict still closes the connection.
      this.closeAfterResponse = this.#framingConflict;
    }
    return true;
  }

  /** Removes every header named `lowerName`, keeping the others in order. */
  #removeHeaders(lowerName: string): void {
    const names = this.headerNames;
    const lowerNames = this.headerLowerNames;
    const values = this.headerValues;
    let kept = 0;
    for (let i = 0; i < this.headerCount; i++) {
      if (lowerNames[i] === lowerName) continue;
      names[kept] = names[i]!;
      lowerNames[kept] = lowerNames[i]!;
      values[kept] = values[i]!;
      kept++;
    }
    this.headerCount = kept;
  }
}

/** `HTTP/d.d` as major * 10 + minor, or -1 when malformed (the name is case-sensitive, RFC 9112 2.3). */
function parseVersion(src: Uint8Array, start: number, end: number): number {
  if (
    end - start !== 8 || src[start] !== 0x48 || src[start + 1] !== 0x54 || src[start + 2] !== 0x54 ||
    src[start + 3] !== 0x50 || src[start + 4] !== 0x2f || src[start + 6] !== 0x2e
  ) return -1;
  const major = src[start + 5]! - 0x30;
  const minor = src[start + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return -1;
  return major * 10 + minor;
}

/** The interned string of the commonest methods, so they cost no allocation. */
function knownMethod(src: Uint8Array, start: number, end: number): string | undefined {
  const length = end - start;
  const first = src[start];
  if (length === 3) {
    if (first === 0x47 && src[start + 1] === 0x45 && src[start + 2] === 0x54) return "GET";
    if (first === 0x50 && src[start + 1] === 0x55 && src[start + 2] === 0x54) return "PUT";
  } else if (length === 4) {
    if (first === 0x50 && src[start + 1] === 0x4f && src[start + 2] === 0x53 && src[start + 3] === 0x54) return "POST";
    if (first === 0x48 && src[start + 1] === 0x45 && src[start + 2] === 0x41 && src[start + 3] === 0x44) return "HEAD";
  }
  return undefined;
}

const CONTENT_LENGTH_INVALID = -1;
const CONTENT_LENGTH_CONFLICT = -2;

/**
 * Content-Length = 1*DIGIT (RFC 9110 8.6). A list of identical values ("5, 5") is accepted as
 * one value, as RFC 9110 8.6 permits; differing members are a conflict. Values beyond 2^53 - 1 are
 * refused as invalid (no body that large can be counted exactly).
 */
function parseContentLength(value: string): number {
  const length = value.length;
  let result = -1;
  let current = -1;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? value.charCodeAt(i) : 0x2c;
    if (c >= 0x30 && c <= 0x39) {
      current = current < 0 ? c - 0x30 : current * 10 + (c - 0x30);
      if (current > Number.MAX_SAFE_INTEGER) return CONTENT_LENGTH_INVALID;
    } else if (c === 0x2c) {
      if (current < 0) return CONTENT_LENGTH_INVALID;
      if (result >= 0 && result !== current) return CONTENT_LENGTH_CONFLICT;
      result = current;
      current = -1;
      // Skip the optional whitespace after a list comma.
      while (i + 1 < length && (value.charCodeAt(i + 1) === SP || value.charCodeAt(i + 1) === HTAB)) i++;
    } else if (c === SP || c === HTAB) {
      // Whitespace is allowed only before a comma.
      while (i + 1 < length && (value.charCodeAt(i + 1) === SP || value.charCodeAt(i + 1) === HTAB)) i++;
      if (current < 0 || (i + 1 < length && value.charCodeAt(i + 1) !== 0x2c)) return CONTENT_LENGTH_INVALID;
    } else {
      return CONTENT_LENGTH_INVALID;
    }
  }
  return result;
}

const CODINGS_INVALID = -1;
const CODINGS_EMPTY = 0;
const CODINGS_PRESENT = 1;
const CODINGS_LAST_CHUNKED = 2;
const CODINGS_OTHER = 4;
const CODINGS_CHUNKED_SHIFT = 3;

/**
 * Scans a Transfer-Encoding value: returns CODINGS_INVALID for a coding that is not a token,
 * CODINGS_EMPTY for an empty list, else CODINGS_PRESENT, plus CODINGS_LAST_CHUNKED when the last
 * coding is chunked, plus CODINGS_OTHER when a coding is not chunked, plus the count of chunked codings shifted by CODINGS_CHUNKED_SHIFT.
 */
function scanCodings(value: string): number {
  const length = value.length;
  let chunkedCount = 0;
  let any = false;
  let lastChunked = false;
  let other = false;
  let i = 0;
  while (i < length) {
    while (i < length && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB || value.charCodeAt(i) === 0x2c)) i++;
    if (i >= length) break;
    const start = i;
    while (i < length) {
      const c = value.charCodeAt(i);
      if (c > 0xff || TOKEN_CHARS[c] === 0) break;
      i++;
    }
    if (i === start) return CODINGS_INVALID;
    const isChunked = i - start === 7 && value.slice(start, i).toLowerCase() === "chunked";
    // Skip transfer parameters (";" name "=" value) up to the next comma; chunked takes none.
    let hasParameters = false;
    while (i < length && value.charCodeAt(i) !== 0x2c) {
      const c = value.charCodeAt(i);
      if (c !== SP && c !== HTAB) {
        if (c !== 0x3b && !hasParameters) return CODINGS_INVALID;
        hasParameters = true;
      }
      i++;
    }
    any = true;
    lastChunked = isChunked;
    if (isChunked) chunkedCount++;
    else other = true;
  }
  if (!any) return CODINGS_EMPTY;
  return CODINGS_PRESENT | (lastChunked ? CODINGS_LAST_CHUNKED : 0) | (other ? CODINGS_OTHER : 0) |
    (chunkedCount << CODINGS_CHUNKED_SHIFT);
}

/** Appends the lower-case, trimmed, non-empty members of a comma-separated list to `into`. */
function collectTokens(value: string, into: string[]): void {
  const length = value.length;
  let i = 0;
  while (i < length) {
    while (i < length && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB || value.charCodeAt(i) === 0x2c)) i++;
    const start = i;
    while (i < length && value.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && (value.charCodeAt(end - 1) === SP || value.charCodeAt(end - 1) === HTAB)) end--;
    if (end > start) into.push(value.slice(start, end).toLowerCase());
  }
}

/** Whether a comma-separated list holds `token` (lower case), compared case-insensitively. */
export function listHasToken(value: string, token: string): boolean {
  const tokens: string[] = [];
  collectTokens(value, tokens);
  for (let i = 0; i < tokens.length; i++) {
    const member = tokens[i]!;
    // Upgrade members may carry a version ("h2c/1"): compare the protocol name only.
    const slash = member.indexOf("/");
    if ((slash < 0 ? member : member.slice(0, slash)) === token) return true;
  }
  return false;
}
