/**
 * Incremental parser of HTTP/1.1 message heads (request line or status line, and header fields),
 * fed with the raw chunks of a connection, split anywhere.
 *
 * Usage: `feed(chunk, offset)` returns `HEAD_INCOMPLETE` (every byte from `offset` was taken,
 * feed the next chunk), `HEAD_FAILED` (see `error`), or the index in `chunk` where the head ends and
 * the body (or the next pipelined message) starts. The parser is the parsed head (a
 * {@link MessageHead}, message_head.ts, which also holds the rules' edits): read its fields after
 * completion, and `reset()` it for the next message (sessions take parsers from pools:
 * head_parser_pool.ts).
 *
 * How: one scanner reads each byte of the head once, in order, and keeps its place across chunks.
 * It checks every byte against the grammar of the field it is in as the byte arrives, so an
 * invalid byte fails the head at once (not when the head ends, nor when `timeout http-request`
 * fires: HAProxy answers such heads at once too), and a head fails with the same error however it
 * was split. The scanner records where each field starts and ends; at the final empty line the
 * head is decoded once and its fields are sliced from that one string. Only head bytes are ever
 * copied: a head that sits in one chunk is parsed in place, the parts of one split across chunks
 * are gathered in a buffer bounded by `maxHeadBytes`; body bytes are never touched.
 *
 * Strictness follows RFC 9112 and HAProxy's h1 parser (src/h1.c): bare LF and bare CR are
 * rejected, obsolete line folding too, and every framing ambiguity that enables request smuggling
 * is an error or forces the connection closed after the response. What is valid but ambiguous is
 * normalised before the head is forwarded (docs/config.md, http mode): an HTTP/1.x version above
 * 1.1 is read as 1.1 (RFC 9110 2.5); duplicate Host lines with one value and duplicate
 * Content-Length lines become one line; Transfer-Encoding becomes one line listing the codings
 * applied; an absolute-form target's authority replaces Host (request_target.ts).
 *
 * @module
 */

import { latin1, quoteBytes, TOKEN_CHARS, WINDOWS_1252 } from "./_bytes.ts";
import { growMarks } from "./head_storage.ts";
import { KNOWN_HEADER_LOWER_NAMES, KNOWN_HEADER_NAMES, knownHeaderName, knownMethod } from "./interned_names.ts";
import { HttpError } from "./errors.ts";
import type { HttpErrorCode } from "./errors.ts";
import { BODY_NONE } from "./framing.ts";
import { deriveHeadFacts } from "./head_facts.ts";
import { MessageHead } from "./message_head.ts";
import type { MessageKind } from "./message_head.ts";

// The head model lives in message_head.ts; its types are re-exported for the parser's users.
export { MessageHead } from "./message_head.ts";
export type { HttpHead, MessageKind } from "./message_head.ts";

/** `feed` result: the head is not complete yet, every byte given was taken. */
export const HEAD_INCOMPLETE = -1;
/** `feed` result: the head is invalid, `error` says why and which status to answer. */
export const HEAD_FAILED = -2;

// The body framing kinds live with the framing rules (framing.ts), which head_facts.ts applies.
export { BODY_CHUNKED, BODY_CONTENT_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE } from "./framing.ts";
export type { BodyKind } from "./framing.ts";

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

// Scanner states: the field the next byte belongs to.
/** Before a request line: empty lines are skipped (RFC 9112 2.2). */
const S_LEADING = 0;
const S_METHOD = 1;
const S_TARGET = 2;
/** "HTTP/d.d" then CR, after the target. */
const S_VERSION = 3;
/** "HTTP/d.d SP ddd" then SP or CR: a status line's fixed part. */
const S_STATUS = 4;
const S_REASON = 5;
/** The first byte of a header line or of the final empty line. */
const S_LINE_START = 6;
const S_NAME = 7;
const S_VALUE = 8;
/** A CR was read: an LF must follow, and `#cr` says what that LF ends. */
const S_CR = 9;
const S_COMPLETE = 10;
const S_FAILED = 11;

// What the LF after a CR ends.
/** An empty line before the request line: skipped. */
const CR_LEADING = 0;
/** The request line, in its method or target: it has no version. */
const CR_SHORT_REQUEST_LINE = 1;
/** The request or status line. */
const CR_START_LINE = 2;
/** A header line, in its name: it has no colon. */
const CR_NO_COLON = 3;
/** A header line. */
const CR_HEADER_LINE = 4;
/** The final empty line: the head. */
const CR_HEAD = 5;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const HASH = 35;
const DOT = 46;
const DEL = 127;
const SLASH = 47;

/** "HTTP/", the case-sensitive start of a version (RFC 9112 2.3). */
const HTTP_NAME = new Uint8Array([0x48, 0x54, 0x54, 0x50, 0x2f]);

/** Whether `c` is byte `k` (0 to 7) of a well-formed "HTTP/d.d". */
function isVersionByte(k: number, c: number): boolean {
  if (k < 5) return c === HTTP_NAME[k];
  if (k === 6) return c === DOT;
  return c >= 0x30 && c <= 0x39;
}

/**
 * A head at the start of a chunk is decoded with the rest of the chunk when that rest (a small
 * body) is at most this long: the fields are sliced by offset either way, and it saves the view
 * of the head alone. On Bun a view of a fresh socket chunk costs more than decoding the whole
 * chunk (JavaScriptCore gives the chunk an ArrayBuffer of its own first): 16-byte response
 * behind an nginx head, fresh chunk each time, 697 -> 277 ns on Bun, 200 -> 177 on Node, 704 ->
 * 637 on Deno (docs/performance.md, "Head parser").
 */
const WHOLE_CHUNK_DECODE_SLACK = 512;

/** Parses request heads or response heads from chunks; reusable through `reset()`. */
export class HeadParser extends MessageHead {
  readonly maxHeadBytes: number;
  readonly maxHeaderLines: number;

  /** Size of the head in bytes, start line and final empty line included. */
  headBytes = 0;
  /** The reason `feed` returned `HEAD_FAILED`. */
  error: HttpError | undefined = undefined;

  #state = S_LEADING;
  /** What the LF after the CR just read ends (state S_CR). */
  #cr = CR_LEADING;
  /** Head bytes gathered in the storage's buffer from earlier chunks. */
  #buffered = 0;
  /** Bytes of empty lines skipped before the request line. */
  #skipped = 0;
  /** Position in the fixed-size part being read (version, status). */
  #fixed = 0;
  #major = 0;
  #minor = 0;
  #statusCode = 0;
  // Field boundaries, as offsets from the first byte of the head.
  #methodEnd = 0;
  #targetEnd = 0;
  #reasonStart = 0;
  #reasonEnd = 0;
  #lineStart = 0;
  #nameEnd = 0;
  /** Start of the current value once past its leading whitespace, else -1. */
  #valueStart = -1;
  /** The current header name has upper-case letters. */
  #upper = false;
  /** Header lines read. */
  #lines = 0;
  /** A value or the reason holds bytes 0x80-0x9F, which the fast decoder maps elsewhere. */
  #exact = false;
  #requestMethod = "";
  #framingConflict = false;

  constructor(kind: MessageKind, options: HeadParserOptions = {}) {
    super(kind);
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.maxHeaderLines = options.maxHeaderLines ?? DEFAULT_MAX_HEADER_LINES;
    this.#state = kind === "request" ? S_LEADING : S_STATUS;
  }

  /**
   * Readies the parser for the next message. For a response parser, `requestMethod` is the method
   * of the request being answered: HEAD and CONNECT change the response's framing (RFC 9112 6.3).
   */
  reset(requestMethod = ""): void {
    this.clearHead();
    this.#state = this.kind === "request" ? S_LEADING : S_STATUS;
    this.#cr = CR_LEADING;
    this.#buffered = 0;
    this.#skipped = 0;
    this.#fixed = 0;
    this.#major = 0;
    this.#minor = 0;
    this.#statusCode = 0;
    this.#lines = 0;
    this.#valueStart = -1;
    this.#exact = false;
    this.#requestMethod = requestMethod;
    this.#framingConflict = false;
    this.headBytes = 0;
    this.error = undefined;
  }

  /**
   * For a response parser just reset: the method of the request it answers, as `reset(requestMethod)`
   * would set it, without resetting again.
   */
  expectAnswerTo(requestMethod: string): void {
    this.#requestMethod = requestMethod;
  }

  /** The head is complete (`feed` returned an index). */
  get complete(): boolean {
    return this.#state === S_COMPLETE;
  }

  /**
   * Takes the bytes of `chunk` from `offset`. Returns `HEAD_INCOMPLETE`, `HEAD_FAILED`, or the index
   * in `chunk` just past the head's final CRLF (where the body starts; may equal `chunk.length`).
   */
  feed(chunk: Uint8Array, offset = 0): number {
    let state = this.#state;
    if (state >= S_COMPLETE) {
      throw new Error("The head parser was fed after it finished: call reset() first");
    }
    const length = chunk.length;
    const limit = this.maxHeadBytes;
    const leading = state === S_LEADING || (state === S_CR && this.#cr === CR_LEADING);
    // Where this chunk's head bytes start (-1: none yet), and the offset that turns an index in
    // the chunk into a position in the head.
    let headStart = leading ? -1 : offset;
    let delta = this.#buffered - offset;
    // The head may not grow past the limit: bytes beyond it are not even looked at.
    let scanEnd = leading ? length : Math.min(length, offset + limit - this.#buffered);
    let i = offset;
    // The header-line state lives in locals while the loop runs (written back when the chunk is
    // used up): lines are the bulk of a head, and locals are what every engine keeps in registers.
    const storage = this.storage ?? this.takeStorage();
    const buffered = this.#buffered;
    const buffer = storage.buffer;
    let marks = storage.marks;
    let lines = this.#lines;
    let lineStart = this.#lineStart;
    let nameEnd = this.#nameEnd;
    let valueStart = this.#valueStart;
    let upper = this.#upper;
    let exact = this.#exact;
    while (i < scanEnd) {
      switch (state) {
        case S_LEADING: {
          const c = chunk[i]!;
          if (c === CR) {
            this.#cr = CR_LEADING;
            state = S_CR;
            i++;
            break;
          }
          if (c === LF) return this.#bareLf();
          // The request line starts here.
          headStart = i;
          delta = -i;
          scanEnd = Math.min(length, i + limit);
          state = S_METHOD;
          break;
        }
        case S_METHOD: {
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            if (TOKEN_CHARS[c] === 1) continue;
            if (c === SP) {
              const at = i + delta;
              if (at === 0) return this.#failed("HTTP_INVALID_METHOD", "Request line starts with a space instead of a method");
              this.#methodEnd = at;
              state = S_TARGET;
              i++;
              break;
            }
            if (c === CR) {
              this.#cr = CR_SHORT_REQUEST_LINE;
              state = S_CR;
              i++;
              break;
            }
            if (c === LF) return this.#bareLf();
            return this.#failed("HTTP_INVALID_METHOD", `Method ${this.#excerpt(chunk, delta, 0, i + delta + 1)} is not a token`);
          }
          break;
        }
        case S_TARGET: {
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            // RFC 3986 allows none of the others in a URI; '#' starts a fragment, never sent (RFC
            // 9112 3.2). Bytes above 0x7E are refused too (HAProxy without accept-invalid-http-request).
            if (c > SP && c < DEL && c !== HASH) continue;
            const at = i + delta;
            const targetStart = this.#methodEnd + 1;
            if (c === SP) {
              if (at === targetStart) return this.#failed("HTTP_INVALID_TARGET", "Request target is empty");
              this.#targetEnd = at;
              this.#fixed = 0;
              state = S_VERSION;
              i++;
              break;
            }
            if (c === CR) {
              this.#cr = CR_SHORT_REQUEST_LINE;
              state = S_CR;
              i++;
              break;
            }
            if (c === LF) return this.#bareLf();
            return this.#failed(
              "HTTP_INVALID_TARGET",
              `Request target ${this.#excerpt(chunk, delta, targetStart, at + 1)} holds a character that is not allowed`,
            );
          }
          break;
        }
        case S_VERSION: {
          // The usual "HTTP/1.x" CRLF, whole in this chunk, is checked in one go.
          if (
            this.#fixed === 0 && i + 10 <= scanEnd && chunk[i] === 0x48 && chunk[i + 1] === 0x54 &&
            chunk[i + 2] === 0x54 && chunk[i + 3] === 0x50 && chunk[i + 4] === SLASH && chunk[i + 5] === 0x31 &&
            chunk[i + 6] === DOT && chunk[i + 8] === CR && chunk[i + 9] === LF
          ) {
            const minor = chunk[i + 7]! - 0x30;
            if (minor >= 0 && minor <= 9) {
              this.#major = 1;
              this.#minor = minor;
              i += 10;
              state = S_LINE_START;
              break;
            }
          }
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            const k = this.#fixed;
            if (k === 8) {
              if (c === CR) {
                this.#cr = CR_START_LINE;
                state = S_CR;
                i++;
                break;
              }
              if (c === LF) return this.#bareLf();
              return this.#badVersion(chunk, delta, i);
            }
            if (!isVersionByte(k, c)) {
              if (c === LF) return this.#bareLf();
              return this.#badVersion(chunk, delta, i);
            }
            if (k === 5) this.#major = c - 0x30;
            else if (k === 7) {
              this.#minor = c - 0x30;
              if (this.#major !== 1) {
                // RFC 9110 15.6.6: 505 for a major version not supported on this connection.
                return this.#failed(
                  "HTTP_UNSUPPORTED_VERSION",
                  `Version ${this.#excerpt(chunk, delta, this.#targetEnd + 1, i + delta + 1)} is not supported`,
                  505,
                );
              }
            }
            this.#fixed = k + 1;
          }
          break;
        }
        case S_STATUS: {
          // The usual "HTTP/1.x ddd", whole in this chunk, is checked in one go.
          if (
            this.#fixed === 0 && i + 12 <= scanEnd && chunk[i] === 0x48 && chunk[i + 1] === 0x54 &&
            chunk[i + 2] === 0x54 && chunk[i + 3] === 0x50 && chunk[i + 4] === SLASH && chunk[i + 5] === 0x31 &&
            chunk[i + 6] === DOT && chunk[i + 8] === SP
          ) {
            const minor = chunk[i + 7]! - 0x30;
            const d0 = chunk[i + 9]! - 0x30;
            const d1 = chunk[i + 10]! - 0x30;
            const d2 = chunk[i + 11]! - 0x30;
            if (minor >= 0 && minor <= 9 && d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) {
              this.#major = 1;
              this.#minor = minor;
              this.#statusCode = d0 * 100 + d1 * 10 + d2;
              this.#fixed = 12;
              i += 12;
            }
          }
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            const k = this.#fixed;
            if (k < 8) {
              if (!isVersionByte(k, c)) {
                if (c === LF) return this.#bareLf();
                return this.#badStatusLine(chunk, delta, i);
              }
              if (k === 5) this.#major = c - 0x30;
              else if (k === 7) {
                this.#minor = c - 0x30;
                if (this.#major !== 1) {
                  return this.#failed("HTTP_UNSUPPORTED_VERSION", `Version ${this.#excerpt(chunk, delta, 0, i + delta + 1)} is not supported`);
                }
              }
            } else if (k === 8) {
              if (c !== SP) {
                if (c === LF) return this.#bareLf();
                return this.#badStatusLine(chunk, delta, i);
              }
            } else if (k < 12) {
              const digit = c - 0x30;
              if (digit < 0 || digit > 9 || (k === 9 && (digit < 1 || digit > 5))) {
                if (c === LF) return this.#bareLf();
                // A line that ends before three digits is too short to be a status line.
                if (c === CR) return this.#badStatusLine(chunk, delta, i);
                return this.#badStatus(chunk, delta, i);
              }
              this.#statusCode = this.#statusCode * 10 + digit;
            } else {
              const at = i + delta;
              if (c === SP) {
                this.#reasonStart = at + 1;
                state = S_REASON;
                i++;
                break;
              }
              // A missing reason and its SP is tolerated ("HTTP/1.1 204\r\n").
              if (c === CR) {
                this.#reasonStart = at;
                this.#reasonEnd = at;
                this.#cr = CR_START_LINE;
                state = S_CR;
                i++;
                break;
              }
              if (c === LF) return this.#bareLf();
              return this.#badStatus(chunk, delta, i);
            }
            this.#fixed = k + 1;
          }
          break;
        }
        case S_REASON: {
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
            if (c >= SP && c !== DEL) {
              if (c >= 0x80 && c <= 0x9f) exact = true;
              continue;
            }
            if (c === HTAB) continue;
            if (c === CR) {
              this.#reasonEnd = i + delta;
              this.#cr = CR_START_LINE;
              state = S_CR;
              i++;
              break;
            }
            if (c === LF) return this.#bareLf();
            return this.#failed(
              "HTTP_INVALID_STATUS_LINE",
              `Reason phrase ${this.#excerpt(chunk, delta, this.#reasonStart, i + delta + 1)} holds a control character`,
            );
          }
          break;
        }
        case S_LINE_START: {
          const c = chunk[i]!;
          if (c === CR) {
            if (i + 1 < scanEnd && chunk[i + 1] === LF) {
              this.#lines = lines;
              this.#exact = exact;
              return this.#complete(chunk, headStart, i + 2, delta);
            }
            this.#cr = CR_HEAD;
            state = S_CR;
            i++;
            break;
          }
          if (TOKEN_CHARS[c] === 1) {
            if (lines >= this.maxHeaderLines) {
              return this.#failed("HTTP_TOO_MANY_HEADERS", `Head has more than ${this.maxHeaderLines} header lines`);
            }
            if (lines << 2 === marks.length) marks = growMarks(storage, this.maxHeaderLines);
            lineStart = i + delta;
            upper = false;
            state = S_NAME;
            break;
          }
          if (c === LF) return this.#bareLf();
          if (c === SP || c === HTAB) {
            // RFC 9112 5.2: obs-fold may be rejected with 400; HAProxy rejects it too.
            return this.#failed(
              "HTTP_OBSOLETE_LINE_FOLDING",
              "Header line starts with whitespace: it continues the previous one (obsolete line folding)",
            );
          }
          if (c === COLON) return this.#failed("HTTP_INVALID_HEADER_NAME", "Header line starts with a colon: its name is empty");
          return this.#failed(
            "HTTP_INVALID_HEADER_NAME",
            `Header name ${this.#excerpt(chunk, delta, i + delta, i + delta + 1)} holds a character that is not allowed`,
          );
        }
        case S_NAME: {
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            if (TOKEN_CHARS[c] === 1) {
              if (c <= 0x5a && c >= 0x41) upper = true;
              continue;
            }
            const at = i + delta;
            if (c === COLON) {
              nameEnd = at;
              valueStart = -1;
              state = S_VALUE;
              i++;
              break;
            }
            if (c === SP || c === HTAB) {
              // RFC 9112 5.1: whitespace between name and colon must be rejected with 400.
              return this.#failed(
                "HTTP_WHITESPACE_BEFORE_COLON",
                `Header name ${this.#excerpt(chunk, delta, lineStart, at)} is followed by whitespace before the colon`,
              );
            }
            if (c === CR) {
              this.#cr = CR_NO_COLON;
              state = S_CR;
              i++;
              break;
            }
            if (c === LF) return this.#bareLf();
            return this.#failed(
              "HTTP_INVALID_HEADER_NAME",
              `Header name ${this.#excerpt(chunk, delta, lineStart, at + 1)} holds a character that is not allowed`,
            );
          }
          break;
        }
        case S_VALUE: {
          if (valueStart < 0) {
            while (i < scanEnd && (chunk[i] === SP || chunk[i] === HTAB)) i++;
            if (i === scanEnd) break;
            valueStart = i + delta;
          }
          for (; i < scanEnd; i++) {
            const c = chunk[i]!;
            if (c >= SP && c < 0x80) continue;
            if (c >= 0xa0 || c === HTAB) continue;
            if (c >= 0x80) {
              exact = true;
              continue;
            }
            if (c === CR) {
              // The line is whole: record it. Trailing whitespace is not part of the value (RFC
              // 9110 5.5); there is usually none, so walking back over it costs less than tracking
              // the last visible byte of every value.
              const end = i + delta;
              let valueEnd = end;
              while (valueEnd > valueStart) {
                const at = valueEnd - 1;
                const b = at < buffered ? buffer![at]! : chunk[at - delta]!;
                if (b !== SP && b !== HTAB) break;
                valueEnd = at;
              }
              const mark = lines << 2;
              marks[mark] = lineStart;
              marks[mark + 1] = nameEnd;
              marks[mark + 2] = valueStart;
              marks[mark + 3] = valueEnd;
              storage.upperNames[lines] = upper ? 1 : 0;
              lines++;
              if (i + 1 < scanEnd && chunk[i + 1] === LF) {
                i += 2;
                state = S_LINE_START;
                break;
              }
              this.#cr = CR_HEADER_LINE;
              state = S_CR;
              i++;
              break;
            }
            // RFC 9110 5.5: NUL, CR and LF must be rejected; HAProxy rejects exactly these, and
            // keeps the other control bytes (RFC 9110 5.5 lets a recipient retain them).
            if (c === LF) return this.#bareLf();
            if (c === 0) {
              return this.#failed(
                "HTTP_INVALID_HEADER_VALUE",
                `Header ${this.#excerpt(chunk, delta, lineStart, nameEnd)} holds a NUL byte`,
              );
            }
          }
          break;
        }
        default: {
          // S_CR
          if (chunk[i] !== LF) return this.#bareCr();
          i++;
          switch (this.#cr) {
            case CR_LEADING:
              this.#skipped += 2;
              if (this.#skipped > limit) return this.#tooLarge();
              state = S_LEADING;
              break;
            case CR_SHORT_REQUEST_LINE:
              // "GET /" is HTTP/0.9, which HAProxy refuses as well.
              return this.#failed(
                "HTTP_INVALID_REQUEST_LINE",
                `Request line ${this.#excerpt(chunk, delta, 0, i + delta - 2)} lacks a target or a version`,
              );
            case CR_NO_COLON:
              return this.#failed(
                "HTTP_INVALID_HEADER_LINE",
                `Header line ${this.#excerpt(chunk, delta, lineStart, i + delta - 2)} has no colon`,
              );
            case CR_HEAD:
              this.#lines = lines;
              this.#exact = exact;
              return this.#complete(chunk, headStart, i, delta);
            default:
              // CR_START_LINE, CR_HEADER_LINE
              state = S_LINE_START;
          }
        }
      }
    }
    this.#state = state;
    this.#lines = lines;
    this.#lineStart = lineStart;
    this.#nameEnd = nameEnd;
    this.#valueStart = valueStart;
    this.#upper = upper;
    this.#exact = exact;
    // Stopped short of the chunk's end: the head would pass the limit.
    if (i < length) return this.#tooLarge();
    if (headStart >= 0 && length > headStart) {
      let buffer = storage.buffer;
      if (buffer === undefined || buffer.length < limit) buffer = storage.buffer = new Uint8Array(limit);
      buffer.set(chunk.subarray(headStart, length), this.#buffered);
      this.#buffered += length - headStart;
    }
    return HEAD_INCOMPLETE;
  }

  /** @internal head_facts.ts: fails the head (status 400 for requests unless told, always 502 for responses). */
  failWith(code: HttpErrorCode, message: string, requestStatus = 400): false {
    return this.#fail(code, message, requestStatus);
  }

  /** @internal head_facts.ts: the framing is ambiguous (RFC 9112 6.1): close after the exchange, whatever the body. */
  markFramingConflict(): void {
    this.#framingConflict = true;
  }

  /** The final empty line ended at `end` (an index in `chunk`): extracts the fields and checks the framing. */
  #complete(chunk: Uint8Array, headStart: number, end: number, delta: number): number {
    const headBytes = end + delta;
    this.headBytes = headBytes;
    let src = chunk;
    let base = headStart;
    if (this.#buffered > 0) {
      src = this.storage!.buffer!;
      src.set(chunk.subarray(headStart, end), this.#buffered);
      base = 0;
    }
    if (!this.#extract(src, base, base + headBytes)) return HEAD_FAILED;
    this.#state = S_COMPLETE;
    return end;
  }

  /** Decodes the head `src[start, end)` once and slices its fields from it. */
  #extract(src: Uint8Array, start: number, end: number): boolean {
    // One native decode for the whole head; names and values are slices of it (cheap in every
    // engine). Bytes 0x80-0x9F, which windows-1252 maps elsewhere, can only sit in values and the
    // reason phrase (tokens and targets refuse them): the scanner noticed them.
    let text: string;
    if (this.#exact) text = latin1(src, start, end);
    else if (start === 0 && src.length - end <= WHOLE_CHUNK_DECODE_SLACK) text = WINDOWS_1252.decode(src);
    else text = WINDOWS_1252.decode(src.subarray(start, end));
    this.version = this.#minor === 0 ? "1.0" : "1.1";
    // "| 0": the scanner's positions may come back boxed as doubles from optimised code, and
    // JavaScriptCore then leaves this function on every call (an int32 guess that fails, seen with
    // its printEachOSRExit option) and runs slice() unoptimised: heads a third slower under Bun
    // (docs/performance.md, "Head parser").
    if (this.kind === "request") {
      const methodEnd = this.#methodEnd | 0;
      this.method = knownMethod(src, start, start + methodEnd) ?? text.slice(0, methodEnd);
      this.target = text.slice(methodEnd + 1, this.#targetEnd | 0);
    } else {
      this.status = this.#statusCode | 0;
      this.reason = text.slice(this.#reasonStart | 0, this.#reasonEnd | 0);
    }
    const names = this.headerNames;
    const lowerNames = this.headerLowerNames;
    const values = this.headerValues;
    const marks = this.storage!.marks;
    const upperNames = this.storage!.upperNames;
    const count = this.#lines | 0;
    for (let line = 0; line < count; line++) {
      const nameStart = marks[4 * line]! | 0;
      const nameEnd = marks[4 * line + 1]! | 0;
      const known = knownHeaderName(src, start + nameStart, start + nameEnd);
      if (known >= 0) {
        names[line] = KNOWN_HEADER_NAMES[known]!;
        lowerNames[line] = KNOWN_HEADER_LOWER_NAMES[known]!;
      } else {
        const name = text.slice(nameStart, nameEnd);
        names[line] = name;
        lowerNames[line] = upperNames[line] === 1 ? name.toLowerCase() : name;
      }
      values[line] = text.slice(marks[4 * line + 2]!, marks[4 * line + 3]!);
    }
    this.headerCount = count;
    // The facts first (framing, connection, Host: head_facts.ts), then the bodiless responses.
    return deriveHeadFacts(this) && this.#applyNoBodyRules();
  }

  /** The head's bytes at positions [from, to) (from the buffer, then the chunk), quoted for a message. */
  #excerpt(chunk: Uint8Array, delta: number, from: number, to: number): string {
    const end = Math.min(to, from + 65);
    const bytes = new Uint8Array(Math.max(0, end - from));
    for (let at = from; at < end; at++) {
      bytes[at - from] = at < this.#buffered ? this.storage!.buffer![at]! : chunk[at - delta]!;
    }
    return quoteBytes(bytes, 0, bytes.length);
  }

  #badVersion(chunk: Uint8Array, delta: number, i: number): number {
    return this.#failed("HTTP_INVALID_VERSION", `Version ${this.#excerpt(chunk, delta, this.#targetEnd + 1, i + delta + 1)} is malformed`);
  }

  #badStatusLine(chunk: Uint8Array, delta: number, i: number): number {
    return this.#failed("HTTP_INVALID_STATUS_LINE", `Status line ${this.#excerpt(chunk, delta, 0, i + delta + 1)} is malformed`);
  }

  #badStatus(chunk: Uint8Array, delta: number, i: number): number {
    return this.#failed(
      "HTTP_INVALID_STATUS",
      `Status ${this.#excerpt(chunk, delta, 9, i + delta + 1)} is not a code from 100 to 599`,
    );
  }

  #bareLf(): number {
    // RFC 9112 2.2 allows a bare LF as line end; HAProxy and this parser demand CRLF, as a
    // lenient parser in front of a strict server is how requests are smuggled.
    return this.#failed("HTTP_BARE_LF", "Line ends with a bare LF instead of CRLF");
  }

  #bareCr(): number {
    const cr = this.#cr;
    if (cr === CR_LEADING || cr === CR_SHORT_REQUEST_LINE || cr === CR_START_LINE) {
      return this.#failed("HTTP_BARE_CR", this.kind === "request" ? "Request line holds a bare CR" : "Status line holds a bare CR");
    }
    return this.#failed("HTTP_BARE_CR", "Header line holds a bare CR");
  }

  #tooLarge(): number {
    return this.#failed("HTTP_HEAD_TOO_LARGE", `Head is larger than ${this.maxHeadBytes} bytes`);
  }

  /** Records the error (status 400 for requests unless told, always 502 for responses). */
  #fail(code: HttpErrorCode, message: string, requestStatus = 400): false {
    this.#state = S_FAILED;
    this.error = new HttpError(code, this.kind === "request" ? requestStatus : 502, message);
    return false;
  }

  #failed(code: HttpErrorCode, message: string, requestStatus = 400): number {
    this.#fail(code, message, requestStatus);
    return HEAD_FAILED;
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
}
