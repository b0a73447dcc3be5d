/**
 * Incremental decoder of chunked bodies (RFC 9112 7.1) that never copies: it reads a connection's
 * chunks as they come, split anywhere, and reports where the payload lies in each of them.
 *
 * Two ways to use it, both returning the index in `chunk` just past the last byte that belongs to
 * the body (`chunk.length` while the body goes on; less once `done`, where the next pipelined
 * message starts), or `CHUNKED_FAILED` with `error` set:
 * - `decode(chunk, offset)` also fills `ranges` with the payload's [start, end) pairs in `chunk`,
 *   framing excluded, for a caller that re-frames or consumes the payload;
 * - `passThrough(chunk, offset)` only validates: a proxy forwarding h1 to h1 writes
 *   `chunk.subarray(offset, result)` as it is, framing included.
 *
 * Strict as HAProxy: hex sizes only, at most 16 digits, no value past 2^53 - 1; chunk extensions
 * allowed but bounded per chunk line; trailers bounded and checked like header lines; CRLF
 * everywhere (bare LF and bare CR are errors).
 *
 * @module
 */

import { TOKEN_CHARS } from "./_bytes.ts";
import { HttpError } from "./errors.ts";
import type { HttpErrorCode } from "./errors.ts";
import { DEFAULT_MAX_HEAD_BYTES } from "./head_parser.ts";
import type { MessageKind } from "./head_parser.ts";

/** Decoder result: the body is malformed, `error` says why. */
export const CHUNKED_FAILED = -1;
/** Longest chunk line (size and extensions) HAProxy-like parsers accept: extensions are bounded. */
export const DEFAULT_MAX_CHUNK_LINE_BYTES = 4096;
/** Most hex digits in a chunk size, leading zeros included (HAProxy: 64-bit sizes). */
export const MAX_CHUNK_SIZE_DIGITS = 16;

/** Limits of a chunked decoder. */
export interface ChunkedDecoderOptions {
  /** Whose body this is: errors answer 400 for a request, 502 for a response (default request). */
  kind?: MessageKind;
  /** Longest chunk line, size and extensions, CRLF excluded (default 4,096 bytes). */
  maxChunkLineBytes?: number;
  /** Largest trailer section, final CRLF included (default: the head limit, 15,360 bytes). */
  maxTrailerBytes?: number;
}

const STATE_SIZE_START = 0;
const STATE_SIZE = 1;
const STATE_SIZE_WHITESPACE = 2;
const STATE_EXTENSION = 3;
const STATE_SIZE_LF = 4;
const STATE_DATA = 5;
const STATE_DATA_CR = 6;
const STATE_DATA_LF = 7;
const STATE_TRAILER_START = 8;
const STATE_TRAILER_NAME = 9;
const STATE_TRAILER_VALUE = 10;
const STATE_TRAILER_LF = 11;
const STATE_FINAL_LF = 12;
const STATE_DONE = 13;
const STATE_FAILED = 14;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const SEMICOLON = 59;
const COLON = 58;

/** Value of each hex digit byte, -1 for the other bytes. */
const HEX_VALUES: Int8Array = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();

/** Decodes or validates one chunked body after another; reusable through `reset()`. */
export class ChunkedDecoder {
  readonly kind: MessageKind;
  readonly maxChunkLineBytes: number;
  readonly maxTrailerBytes: number;
  /** Payload ranges found by the last `decode`, flat: [start0, end0, start1, end1, ...]. */
  readonly ranges: number[] = [];
  /** Number of ranges (pairs) in `ranges` from the last `decode` (entries beyond are stale). */
  rangeCount = 0;
  /** Payload bytes seen since `reset()`, framing excluded. */
  payloadBytes = 0;
  /** The last chunk, trailers and final CRLF were read. */
  done = false;
  /** The reason a call returned `CHUNKED_FAILED`. */
  error: HttpError | undefined = undefined;

  #state = STATE_SIZE_START;
  #size = 0;
  #digits = 0;
  #lineBytes = 0;
  #remaining = 0;
  #trailerBytes = 0;

  constructor(options: ChunkedDecoderOptions = {}) {
    this.kind = options.kind ?? "request";
    this.maxChunkLineBytes = options.maxChunkLineBytes ?? DEFAULT_MAX_CHUNK_LINE_BYTES;
    this.maxTrailerBytes = options.maxTrailerBytes ?? DEFAULT_MAX_HEAD_BYTES;
  }

  /** Readies the decoder for the next body. */
  reset(): void {
    this.#state = STATE_SIZE_START;
    this.#size = 0;
    this.#digits = 0;
    this.#lineBytes = 0;
    this.#remaining = 0;
    this.#trailerBytes = 0;
    this.rangeCount = 0;
    this.payloadBytes = 0;
    this.done = false;
    this.error = undefined;
  }

  /** Reads `chunk` from `offset`, filling `ranges`; returns the end of the body's part of it, or CHUNKED_FAILED. */
  decode(chunk: Uint8Array, offset = 0): number {
    this.rangeCount = 0;
    return this.#run(chunk, offset, true);
  }

  /** Validates `chunk` from `offset`; returns the end of the body's part of it (framing included), or CHUNKED_FAILED. */
  passThrough(chunk: Uint8Array, offset = 0): number {
    return this.#run(chunk, offset, false);
  }

  #run(chunk: Uint8Array, offset: number, collect: boolean): number {
    if (this.#state === STATE_DONE || this.#state === STATE_FAILED) {
      throw new Error("The chunked decoder was fed after it finished: call reset() first");
    }
    const length = chunk.length;
    let state = this.#state;
    let i = offset;
    while (i < length) {
      if (state === STATE_DATA) {
        // The payload itself is skipped in one step: only framing bytes are looked at.
        const available = length - i;
        const take = this.#remaining < available ? this.#remaining : available;
        if (collect) {
          const ranges = this.ranges;
          const at = this.rangeCount * 2;
          ranges[at] = i;
          ranges[at + 1] = i + take;
          this.rangeCount++;
        }
        i += take;
        this.#remaining -= take;
        this.payloadBytes += take;
        if (this.#remaining === 0) state = STATE_DATA_CR;
        continue;
      }
      const c = chunk[i]!;
      i++;
      switch (state) {
        case STATE_SIZE_START: {
          const digit = HEX_VALUES[c]!;
          if (digit < 0) return this.#fail("HTTP_INVALID_CHUNK_SIZE", `Chunk size starts with ${describe(c)}`);
          this.#size = digit;
          this.#digits = 1;
          this.#lineBytes = 1;
          state = STATE_SIZE;
          break;
        }
        case STATE_SIZE: {
          const digit = HEX_VALUES[c]!;
          if (digit >= 0) {
            if (++this.#digits > MAX_CHUNK_SIZE_DIGITS) {
              return this.#fail("HTTP_CHUNK_SIZE_OVERFLOW", `Chunk size has more than ${MAX_CHUNK_SIZE_DIGITS} hex digits`);
            }
            this.#size = this.#size * 16 + digit;
            if (this.#size > Number.MAX_SAFE_INTEGER) {
              return this.#fail("HTTP_CHUNK_SIZE_OVERFLOW", "Chunk size is larger than 2^53 - 1 bytes");
            }
          } else if (c === CR) {
            state = STATE_SIZE_LF;
          } else if (c === SEMICOLON) {
            state = STATE_EXTENSION;
          } else if (c === SP || c === HTAB) {
            // RFC 9112 7.1.1: BWS may precede the ';' of an extension.
            state = STATE_SIZE_WHITESPACE;
          } else {
            return this.#fail("HTTP_INVALID_CHUNK_SIZE", `Chunk size holds ${describe(c)}`);
          }
          if (++this.#lineBytes > this.maxChunkLineBytes) return this.#lineTooLong();
          break;
        }
        case STATE_SIZE_WHITESPACE:
          if (c === SEMICOLON) state = STATE_EXTENSION;
          else if (c === CR) state = STATE_SIZE_LF;
          else if (c !== SP && c !== HTAB) {
            return this.#fail("HTTP_INVALID_CHUNK_SIZE", `Chunk size is followed by ${describe(c)}`);
          }
          if (++this.#lineBytes > this.maxChunkLineBytes) return this.#lineTooLong();
          break;
        case STATE_EXTENSION:
          if (c === CR) state = STATE_SIZE_LF;
          else if ((c < SP && c !== HTAB) || c === 0x7f) {
            if (c === LF) return this.#fail("HTTP_BARE_LF", "Chunk line ends with a bare LF");
            return this.#fail("HTTP_INVALID_CHUNK_EXTENSION", `Chunk extension holds ${describe(c)}`);
          }
          if (++this.#lineBytes > this.maxChunkLineBytes) return this.#lineTooLong();
          break;
        case STATE_SIZE_LF:
          if (c !== LF) return this.#fail("HTTP_BARE_CR", "Chunk line holds a bare CR");
          if (this.#size === 0) {
            this.#trailerBytes = 0;
            state = STATE_TRAILER_START;
          } else {
            this.#remaining = this.#size;
            state = STATE_DATA;
          }
          break;
        case STATE_DATA_CR:
          if (c !== CR) return this.#fail("HTTP_MISSING_CHUNK_CRLF", `Chunk data is followed by ${describe(c)} instead of CRLF`);
          state = STATE_DATA_LF;
          break;
        case STATE_DATA_LF:
          if (c !== LF) return this.#fail("HTTP_MISSING_CHUNK_CRLF", `Chunk data is followed by CR and ${describe(c)} instead of CRLF`);
          state = STATE_SIZE_START;
          break;
        case STATE_TRAILER_START:
          if (++this.#trailerBytes > this.maxTrailerBytes) return this.#trailersTooLarge();
          if (c === CR) state = STATE_FINAL_LF;
          else if (TOKEN_CHARS[c] === 1) state = STATE_TRAILER_NAME;
          else if (c === SP || c === HTAB) {
            return this.#fail("HTTP_INVALID_TRAILER", "Trailer line continues the previous one (obsolete line folding)");
          } else {
            return this.#fail("HTTP_INVALID_TRAILER", `Trailer name starts with ${describe(c)}`);
          }
          break;
        case STATE_TRAILER_NAME:
          if (++this.#trailerBytes > this.maxTrailerBytes) return this.#trailersTooLarge();
          if (c === COLON) state = STATE_TRAILER_VALUE;
          else if (TOKEN_CHARS[c] === 0) {
            return this.#fail("HTTP_INVALID_TRAILER", `Trailer name holds ${describe(c)}`);
          }
          break;
        case STATE_TRAILER_VALUE:
          if (++this.#trailerBytes > this.maxTrailerBytes) return this.#trailersTooLarge();
          if (c === CR) state = STATE_TRAILER_LF;
          else if (c === 0 || c === LF) {
            return this.#fail("HTTP_INVALID_TRAILER", `Trailer value holds ${describe(c)}`);
          }
          break;
        case STATE_TRAILER_LF:
          if (++this.#trailerBytes > this.maxTrailerBytes) return this.#trailersTooLarge();
          if (c !== LF) return this.#fail("HTTP_BARE_CR", "Trailer line holds a bare CR");
          state = STATE_TRAILER_START;
          break;
        case STATE_FINAL_LF:
          if (c !== LF) return this.#fail("HTTP_BARE_CR", "Chunked body ends with a bare CR");
          this.#state = STATE_DONE;
          this.done = true;
          return i;
      }
    }
    this.#state = state;
    return i;
  }

  #fail(code: HttpErrorCode, message: string): number {
    this.#state = STATE_FAILED;
    this.error = new HttpError(code, this.kind === "request" ? 400 : 502, message);
    return CHUNKED_FAILED;
  }

  #lineTooLong(): number {
    return this.#fail(
      "HTTP_CHUNK_EXTENSION_TOO_LONG",
      `Chunk line (size and extensions) is longer than ${this.maxChunkLineBytes} bytes`,
    );
  }

  #trailersTooLarge(): number {
    return this.#fail("HTTP_TRAILERS_TOO_LARGE", `Trailers are larger than ${this.maxTrailerBytes} bytes`);
  }
}

/** A byte as quoted in error messages: the character if printable, else its hex code. */
function describe(byte: number): string {
  if (byte > SP && byte < 0x7f) return `"${String.fromCharCode(byte)}"`;
  return `byte 0x${byte.toString(16).padStart(2, "0")}`;
}
