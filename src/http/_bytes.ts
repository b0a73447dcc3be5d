/**
 * Byte-level helpers shared by the http message layer: the RFC 9110 token table, a latin1 decoder
 * that keeps every byte (0x80-0xFF included) and a bounded quoting helper for error messages.
 *
 * @module
 */

/** 1 for the bytes RFC 9110 5.6.2 allows in a token (tchar), 0 otherwise. */
export const TOKEN_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const symbols = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (let i = 0; i < symbols.length; i++) table[symbols.charCodeAt(i)] = 1;
  return table;
})();

/** Bytes given to one String.fromCharCode.apply call: JavaScriptCore caps argument counts. */
const DECODE_SLICE = 4096;

/**
 * Decodes bytes as latin1, one byte per UTF-16 unit. TextDecoder("latin1") is windows-1252 in the
 * WHATWG encoding standard (0x80-0x9F become other characters), so it would not round-trip.
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= 0) return "";
  if (length <= DECODE_SLICE) {
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  let text = "";
  for (let from = start; from < end; from += DECODE_SLICE) {
    const to = from + DECODE_SLICE < end ? from + DECODE_SLICE : end;
    text += String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
  }
  return text;
}

/**
 * The fast decoder of heads. WHATWG maps the "latin1" label to windows-1252, which differs from
 * latin1 only for bytes 0x80-0x9F, and still decodes one byte to one UTF-16 unit: offsets stay
 * valid, and a head holding such bytes is decoded again with `latin1` (the parser notices them).
 */
export const WINDOWS_1252: TextDecoder = new TextDecoder("latin1");

/** Longest excerpt of a faulty value quoted in an error message. */
const QUOTE_LIMIT = 64;

/** A value as quoted in error messages: control bytes escaped, long values cut. */
export function quote(text: string): string {
  const cut = text.length > QUOTE_LIMIT ? text.slice(0, QUOTE_LIMIT) + "..." : text;
  return JSON.stringify(cut);
}

/** The bytes [start, end) quoted for an error message. */
export function quoteBytes(bytes: Uint8Array, start: number, end: number): string {
  return quote(latin1(bytes, start, end - start > QUOTE_LIMIT ? start + QUOTE_LIMIT + 1 : end));
}
