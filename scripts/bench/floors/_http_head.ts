/**
 * The two facts an http-mode floor needs from a message head, found by scanning bytes: where the
 * head ends, and the Content-Length of a response. Nothing is decoded into strings and nothing is
 * allocated: the floors measure the socket layer, and this is the least parsing that still keeps
 * keep-alive connections in step.
 *
 * @module
 */

/** The blank line that ends a head. */
const HEAD_TERMINATOR = new Uint8Array([13, 10, 13, 10]);
/** "content-length:", lower case, as bytes. */
const CONTENT_LENGTH_NAME = new Uint8Array(
  [..."content-length:"].map((character) => character.charCodeAt(0)),
);
const LINE_FEED = 10;
const SPACE = 32;
const TAB = 9;
const DIGIT_ZERO = 48;
const DIGIT_NINE = 57;
/** ASCII letters become lower case with this bit set; digits, ':' and '-' already have it. */
const LOWER_CASE_BIT = 0x20;

/**
 * Where the head in `bytes` ends (the offset just past its blank line), or -1 while it is
 * incomplete. A Buffer, for its native substring search: node:net hands out Buffers, and so does
 * Bun's native socket with `binaryType: "buffer"`.
 */
export function headEnd(bytes: Buffer): number {
  const at = bytes.indexOf(HEAD_TERMINATOR);
  return at === -1 ? -1 : at + HEAD_TERMINATOR.length;
}

/**
 * The Content-Length of the head `bytes[0, end)`, 0 when it has none. The name is matched without
 * regard to case at the start of each line (one bit per byte: a few non-letters alias, which the
 * benchmark's origins never send); the value is the digits after optional blanks.
 */
export function contentLength(bytes: Uint8Array, end: number): number {
  for (
    let line = bytes.indexOf(LINE_FEED) + 1;
    line > 0 && line < end;
    line = bytes.indexOf(LINE_FEED, line) + 1
  ) {
    if (!startsWithContentLength(bytes, line)) continue;
    let at = line + CONTENT_LENGTH_NAME.length;
    while (bytes[at] === SPACE || bytes[at] === TAB) at++;
    let value = 0;
    for (; bytes[at]! >= DIGIT_ZERO && bytes[at]! <= DIGIT_NINE; at++) {
      value = value * 10 + bytes[at]! - DIGIT_ZERO;
    }
    return value;
  }
  return 0;
}

function startsWithContentLength(bytes: Uint8Array, at: number): boolean {
  for (let index = 0; index < CONTENT_LENGTH_NAME.length; index++) {
    if ((bytes[at + index]! | LOWER_CASE_BIT) !== CONTENT_LENGTH_NAME[index]) return false;
  }
  return true;
}
