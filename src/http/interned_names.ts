/**
 * Interned strings for what most heads carry: the commonest methods and header names, found by
 * comparing bytes, so that such a head costs no string for them.
 *
 * @module
 */

/**
 * The header names most messages carry, as browsers, curl, wrk and common servers spell them (and
 * in lower case, as HTTP/2-minded clients do): a name spelled exactly so is one of these interned
 * strings with its interned lower case, instead of a slice of the head and a lowered copy per
 * message (a response from nginx carries five: ten strings less per request).
 */
const COMMON_HEADER_NAMES: readonly string[] = [
  "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection", "Content-Length",
  "Content-Type", "Cookie", "Referer", "Origin", "Authorization", "Cache-Control", "Pragma", "Upgrade",
  "If-None-Match", "If-Modified-Since", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "Date", "Server",
  "Set-Cookie", "Transfer-Encoding", "Keep-Alive", "Last-Modified", "ETag", "Vary", "Location", "Expires",
  "Accept-Ranges", "Content-Encoding",
];
export const KNOWN_HEADER_NAMES: readonly string[] = [...COMMON_HEADER_NAMES, ...COMMON_HEADER_NAMES.map((name) => name.toLowerCase())];
export const KNOWN_HEADER_LOWER_NAMES: readonly string[] = KNOWN_HEADER_NAMES.map((name) => name.toLowerCase());
const KNOWN_HEADER_BYTES: readonly Uint8Array[] = KNOWN_HEADER_NAMES.map((name) => Uint8Array.from(name, (c) => c.charCodeAt(0)));
/** Indexes into KNOWN_HEADER_NAMES by name length. */
const KNOWN_HEADERS_BY_LENGTH: readonly (readonly number[])[] = (() => {
  const byLength: number[][] = [];
  KNOWN_HEADER_NAMES.forEach((name, index) => (byLength[name.length] ??= []).push(index));
  return byLength;
})();

/** The index in KNOWN_HEADER_NAMES of the name `src[start, end)`, or -1. */
export function knownHeaderName(src: Uint8Array, start: number, end: number): number {
  const candidates = KNOWN_HEADERS_BY_LENGTH[end - start];
  if (candidates === undefined) return -1;
  for (let c = 0; c < candidates.length; c++) {
    const index = candidates[c]!;
    const bytes = KNOWN_HEADER_BYTES[index]!;
    let at = 0;
    while (at < bytes.length && bytes[at] === src[start + at]) at++;
    if (at === bytes.length) return index;
  }
  return -1;
}

/** The interned string of the commonest methods, so they cost no allocation. */
export function knownMethod(src: Uint8Array, start: number, end: number): string | undefined {
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
