/**
 * The values that frame an HTTP/1.1 message, read as RFC 9110 and 9112 say: Content-Length (a
 * number, or a list of the same number), the Transfer-Encoding coding list (is chunked applied,
 * and last?), whether two Host values name the same authority, and the token lists of Connection
 * and Upgrade. Pure functions over header
 * values: the byte scanner (`head_parser.ts`) decides what a message is from their answers.
 *
 * @module
 */

import { TOKEN_CHARS } from "./_bytes.ts";

const SP = 32;
const HTAB = 9;

/** Whether two Host values name the same authority (host names are case-insensitive, RFC 3986 3.2.2). */
export function sameHost(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
}

/**
 * The members of every Transfer-Encoding header, in order, as one list: empty members dropped,
 * coding names in lower case, parameters kept as written ("" when no member is left).
 */
export function joinCodings(lowerNames: readonly string[], values: readonly string[], count: number): string {
  let list = "";
  for (let i = 0; i < count; i++) {
    if (lowerNames[i] !== "transfer-encoding") continue;
    const members = values[i]!.split(",");
    for (let m = 0; m < members.length; m++) {
      const member = members[m]!.trim();
      if (member === "") continue;
      let nameEnd = 0;
      while (nameEnd < member.length && TOKEN_CHARS[member.charCodeAt(nameEnd)] === 1) nameEnd++;
      const coding = member.slice(0, nameEnd).toLowerCase() + member.slice(nameEnd);
      list = list === "" ? coding : list + ", " + coding;
    }
  }
  return list;
}

export const CONTENT_LENGTH_INVALID = -1;
export const CONTENT_LENGTH_CONFLICT = -2;

/**
 * Content-Length = 1*DIGIT (RFC 9110 8.6). A list of identical values ("5, 5") is accepted as
 * one value, as RFC 9110 8.6 permits; differing members are a conflict. Values beyond 2^53 - 1 are
 * refused as invalid (no body that large can be counted exactly).
 */
export function parseContentLength(value: string): number {
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

export const CODINGS_INVALID = -1;
export const CODINGS_EMPTY = 0;
export const CODINGS_PRESENT = 1;
export const CODINGS_LAST_CHUNKED = 2;
export const CODINGS_OTHER = 4;
export const CODINGS_CHUNKED_SHIFT = 3;

/**
 * Scans a Transfer-Encoding value: returns CODINGS_INVALID for a coding that is not a token,
 * CODINGS_EMPTY for an empty list, else CODINGS_PRESENT, plus CODINGS_LAST_CHUNKED when the last
 * coding is chunked, plus CODINGS_OTHER when a coding is not chunked, plus the count of chunked codings shifted by CODINGS_CHUNKED_SHIFT.
 */
export function scanCodings(value: string): number {
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
export function collectTokens(value: string, into: string[]): void {
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
