/**
 * The PROXY protocol header a balancer in front puts at the start of a connection (HAProxy's
 * doc/proxy-protocol.txt), read incrementally for `accept-proxy` binds: v1, one text line
 * (`PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n`, at most 107 bytes), and v2, binary (a
 * 12-byte signature, version and command, family and transport, a length, the addresses, then
 * type-length-value fields).
 *
 * The parser is fed each chunk as it arrives, so a header split anywhere, down to one byte per
 * read, is read the same. It copies only the header's own bytes (into one buffer per parser);
 * what follows the header in the last chunk is handed back as a view of that chunk. It never
 * throws on what it is given: every malformed input is an `error` result with one of HAProxy's
 * reasons, so the caller can close and log as HAProxy does.
 *
 * v2 length: the protocol allows up to 65535 bytes after the 16-byte preamble; HAProxy reads the
 * header into one buffer and refuses what does not fit. We do the same with a limit the caller
 * gives (the frontend passes `tune.bufsize` less the preamble), {@link DEFAULT_MAX_V2_LENGTH} by
 * default.
 *
 * @module
 */

import type { NetAddr } from "../runtime/types.ts";
import { parseIpv4, parseIpv6 } from "../core/cidr.ts";

/** A v1 line is at most 107 bytes, CRLF included (proxy-protocol.txt 2.1: the worst case, TCP6). */
export const MAX_V1_LENGTH = 107;
/** v2's fixed part: signature (12), version and command, family and transport, length (2). */
export const V2_PREAMBLE_LENGTH = 16;
/** tune.bufsize's default (16384) less the preamble: what HAProxy's default buffer holds. */
export const DEFAULT_MAX_V2_LENGTH = 16384 - V2_PREAMBLE_LENGTH;

/** The v2 signature: "\r\n\r\n\0\r\nQUIT\n". */
const V2_SIGNATURE = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** "PROXY " */
const V1_PREFIX = new Uint8Array([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]);

/** v2 TLV types (proxy-protocol.txt 2.2.x). */
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
/** PP2_TYPE_SSL's client flags. */
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** One v2 type-length-value field, as received (the value is the header's own copy). */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** PP2_TYPE_SSL: the TLS facts of the client's connection to the balancer in front. */
export interface ProxySsl {
  /** PP2_CLIENT_* bits. */
  readonly client: number;
  /** 0 when the client certificate was verified (or none was sent), non-zero otherwise. */
  readonly verify: number;
  /** PP2_SUBTYPE_SSL_VERSION ("TLSv1.3"), "" without. */
  readonly version: string;
  /** PP2_SUBTYPE_SSL_CN: the client certificate's Common Name, "" without. */
  readonly commonName: string;
  /** PP2_SUBTYPE_SSL_CIPHER ("ECDHE-RSA-AES128-GCM-SHA256"), "" without. */
  readonly cipher: string;
  /** Every sub-TLV, known ones included. */
  readonly tlvs: readonly ProxyTlv[];
}

/** What a PROXY header said. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /** "local": v2 LOCAL (a health probe of the balancer itself): the connection is its own. */
  readonly command: "proxy" | "local";
  /**
   * The client's address and the address it connected to, or null where the connection's own
   * addresses apply: v2 LOCAL, v1 UNKNOWN, v2 UNSPEC or UNIX families (no IP address to use).
   */
  readonly source: NetAddr | null;
  readonly destination: NetAddr | null;
  /** Every v2 TLV in order (empty for v1). */
  readonly tlvs: readonly ProxyTlv[];
  /** PP2_TYPE_ALPN as text, "" without. */
  readonly alpn: string;
  /** PP2_TYPE_AUTHORITY (the SNI or Host the client asked for), "" without. */
  readonly authority: string;
  /** PP2_TYPE_UNIQUE_ID, "" without (bytes as Latin-1 text: it is opaque). */
  readonly uniqueId: string;
  /** PP2_TYPE_SSL, null without. */
  readonly ssl: ProxySsl | null;
  /** The header's length in bytes. */
  readonly length: number;
}

/**
 * Why a header was refused, HAProxy's connection error codes (CO_ER_PRX_*): `not-header` nothing
 * like either signature, `bad-header` a header that breaks the format, `bad-protocol` a family or
 * transport we cannot take, `too-long` a v2 length beyond the limit, `truncated` the connection
 * ended inside the header, `empty` it ended before any byte, `abort` it failed (a reset) before
 * the header was complete, `timeout` the header took longer than `timeout client`.
 */
export type ProxyHeaderErrorCode = "not-header" | "bad-header" | "bad-protocol" | "too-long" | "truncated" | "empty" | "abort" | "timeout";

/** The log text of each refusal: HAProxy's, word for word (its conn_err_code_str). */
export const PROXY_HEADER_ERROR_TEXT: Readonly<Record<ProxyHeaderErrorCode, string>> = Object.freeze({
  "not-header": "Received something which does not look like a PROXY protocol header",
  "bad-header": "Received an invalid PROXY protocol header",
  "bad-protocol": "Received an unhandled protocol in the PROXY protocol header",
  // HAProxy has no code of its own for a v2 length beyond its buffer: it is an invalid header.
  "too-long": "Received an invalid PROXY protocol header",
  truncated: "Truncated PROXY protocol header received",
  empty: "Connection closed while waiting for PROXY protocol header",
  abort: "Connection error while waiting for PROXY protocol header",
  timeout: "Timeout while waiting for PROXY protocol header",
});

/** The outcome of feeding a chunk. */
export type ProxyParseResult =
  | { readonly kind: "more" }
  | {
    readonly kind: "header";
    readonly header: ProxyHeader;
    /** The bytes of the last chunk after the header (a view of it, possibly empty): the session's first bytes. */
    readonly rest: Uint8Array;
  }
  | { readonly kind: "error"; readonly code: ProxyHeaderErrorCode; readonly detail: string };

const MORE: ProxyParseResult = Object.freeze({ kind: "more" });
const NO_TLVS: readonly ProxyTlv[] = Object.freeze([]);

function failure(code: ProxyHeaderErrorCode, detail: string): ProxyParseResult {
  return { kind: "error", code, detail };
}

/** Reads one PROXY header from the first bytes of a connection. One parser per connection. */
export class ProxyHeaderParser {
  readonly #maxV2Length: number;
  /** The header's bytes gathered so far (allocated once the version is known). */
  #buffer: Uint8Array = new Uint8Array(V2_PREAMBLE_LENGTH);
  #have = 0;
  /** 0 until the signature says which, then 1 or 2. */
  #version: 0 | 1 | 2 = 0;
  /** v2: the whole header's length once the preamble is in, else 0. */
  #v2Total = 0;
  #done = false;

  /** `maxV2Length`: the largest v2 length (bytes after the preamble) accepted. */
  constructor(maxV2Length: number = DEFAULT_MAX_V2_LENGTH) {
    this.#maxV2Length = maxV2Length;
  }

  /** Bytes of the header received so far. */
  get received(): number {
    return this.#have;
  }

  /** Feeds the next chunk. After a `header` or `error` result the parser is done: feed nothing more. */
  push(chunk: Uint8Array): ProxyParseResult {
    if (this.#done) return failure("bad-header", "The parser was fed after its result");
    const result = this.#push(chunk);
    if (result.kind !== "more") this.#done = true;
    return result;
  }

  /**
   * The connection ended before a header was complete (`closed`: a FIN or a close, `error`: a
   * socket error, `timeout`: `timeout client` passed): the error to log.
   */
  end(how: "closed" | "error" | "timeout" = "closed"): ProxyParseResult {
    this.#done = true;
    if (how === "timeout") return failure("timeout", "No complete header within timeout client");
    if (how === "error") return failure("abort", `A socket error after ${this.#have} bytes of the header`);
    return this.#have === 0 ? failure("empty", "Closed before any byte") : failure("truncated", `Closed after ${this.#have} bytes of the header`);
  }

  #push(chunk: Uint8Array): ProxyParseResult {
    let at = 0;
    // Which version: every byte must still match one of the two signatures.
    while (this.#version === 0 && at < chunk.length) {
      const byte = chunk[at]!;
      const index = this.#have;
      const v1 = index < V1_PREFIX.length && V1_PREFIX[index] === byte && (index === 0 || this.#buffer[0] === V1_PREFIX[0]);
      const v2 = V2_SIGNATURE[index] === byte && (index === 0 || this.#buffer[0] === V2_SIGNATURE[0]);
      if (!v1 && !v2) return failure("not-header", `Byte ${index} does not match a PROXY signature`);
      this.#buffer[this.#have++] = byte;
      at++;
      if (v1 && this.#have === V1_PREFIX.length) {
        const line = new Uint8Array(MAX_V1_LENGTH);
        line.set(this.#buffer.subarray(0, this.#have));
        this.#buffer = line;
        this.#version = 1;
      } else if (v2 && this.#have === V2_SIGNATURE.length) {
        this.#version = 2;
      }
    }
    if (this.#version === 0) return MORE;
    return this.#version === 1 ? this.#pushV1(chunk, at) : this.#pushV2(chunk, at);
  }

  #pushV1(chunk: Uint8Array, at: number): ProxyParseResult {
    const buffer = this.#buffer;
    while (at < chunk.length) {
      const byte = chunk[at++]!;
      if (this.#have >= MAX_V1_LENGTH) return failure("bad-header", `No CRLF within ${MAX_V1_LENGTH} bytes`);
      buffer[this.#have++] = byte;
      if (byte !== 0x0a) continue;
      if (this.#have < 2 || buffer[this.#have - 2] !== 0x0d) return failure("bad-header", "A line feed without a carriage return");
      const header = parseV1Line(buffer, this.#have - 2);
      if (typeof header === "string") return failure(header.startsWith("!") ? "bad-protocol" : "bad-header", header.replace(/^!/, ""));
      return { kind: "header", header, rest: chunk.subarray(at) };
    }
    if (this.#have >= MAX_V1_LENGTH) return failure("bad-header", `No CRLF within ${MAX_V1_LENGTH} bytes`);
    return MORE;
  }

  #pushV2(chunk: Uint8Array, at: number): ProxyParseResult {
    if (this.#v2Total === 0) {
      const take = Math.min(V2_PREAMBLE_LENGTH - this.#have, chunk.length - at);
      this.#buffer.set(chunk.subarray(at, at + take), this.#have);
      this.#have += take;
      at += take;
      if (this.#have < V2_PREAMBLE_LENGTH) return MORE;
      const preamble = this.#buffer;
      const versionCommand = preamble[12]!;
      if (versionCommand >> 4 !== 2) return failure("bad-header", `Version ${versionCommand >> 4} is not 2`);
      if ((versionCommand & 0x0f) > 1) return failure("bad-header", `Command ${versionCommand & 0x0f} is neither LOCAL nor PROXY`);
      const length = (preamble[14]! << 8) | preamble[15]!;
      if (length > this.#maxV2Length) return failure("too-long", `Length ${length} is over the limit of ${this.#maxV2Length}`);
      this.#v2Total = V2_PREAMBLE_LENGTH + length;
      const whole = new Uint8Array(this.#v2Total);
      whole.set(preamble);
      this.#buffer = whole;
    }
    const take = Math.min(this.#v2Total - this.#have, chunk.length - at);
    if (take > 0) this.#buffer.set(chunk.subarray(at, at + take), this.#have);
    this.#have += take;
    at += take;
    if (this.#have < this.#v2Total) return MORE;
    const header = parseV2(this.#buffer);
    if (typeof header === "string") return failure(header.startsWith("!") ? "bad-protocol" : "bad-header", header.replace(/^!/, ""));
    return { kind: "header", header, rest: chunk.subarray(at) };
  }
}

/** Reads a whole header from one buffer: a convenience over {@link ProxyHeaderParser} for tests and tools. */
export function parseProxyHeader(bytes: Uint8Array, maxV2Length?: number): ProxyParseResult {
  const parser = new ProxyHeaderParser(maxV2Length);
  const result = parser.push(bytes);
  return result.kind === "more" ? parser.end() : result;
}

function latin1(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** A v1 port: 1 to 5 digits, at most 65535 (leading zeros refused, as the spec writes ports without). */
function parsePort(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return -1;
  const port = Number(text);
  return port <= 65535 ? port : -1;
}

/**
 * `PROXY <proto> <src> <dst> <sport> <dport>` (its CRLF at `end`); a message on failure, starting
 * with "!" when the protocol is what is wrong.
 */
function parseV1Line(buffer: Uint8Array, end: number): ProxyHeader | string {
  const line = latin1(buffer, V1_PREFIX.length, end);
  const length = end + 2;
  // UNKNOWN: "the receiver must ignore anything presented before the CRLF" (proxy-protocol.txt 2.1).
  if (line === "UNKNOWN" || line.startsWith("UNKNOWN ")) return v1Header(null, null, length);
  const fields = line.split(" ");
  const protocol = fields[0]!;
  if (protocol !== "TCP4" && protocol !== "TCP6") return `!Protocol "${protocol.slice(0, 16)}" is none of TCP4, TCP6, UNKNOWN`;
  if (fields.length !== 5) return `Expected 5 fields after "PROXY", found ${fields.length}`;
  const family = protocol === "TCP4" ? 4 : 6;
  const source = v1Address(fields[1]!, family);
  const destination = v1Address(fields[2]!, family);
  if (source === null || destination === null) return `Invalid ${protocol} address in "${line}"`;
  const sourcePort = parsePort(fields[3]!);
  const destinationPort = parsePort(fields[4]!);
  if (sourcePort < 0 || destinationPort < 0) return `Invalid port in "${line}"`;
  return v1Header({ address: source, port: sourcePort, family }, { address: destination, port: destinationPort, family }, length);
}

function v1Header(source: NetAddr | null, destination: NetAddr | null, length: number): ProxyHeader {
  return Object.freeze({
    version: 1, command: "proxy", source, destination, tlvs: NO_TLVS, alpn: "", authority: "", uniqueId: "", ssl: null, length,
  });
}

/** The address in the form the runtime reports a socket's (IPv6 compressed), or null if invalid. */
function v1Address(text: string, family: 4 | 6): string | null {
  if (family === 4) {
    const bytes = new Uint8Array(4);
    return parseIpv4(text, bytes, 0) ? ipv4Text(bytes, 0) : null;
  }
  const bytes = new Uint8Array(16);
  return parseIpv6(text, bytes) ? ipv6Text(bytes, 0) : null;
}

function ipv4Text(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function ipv6Text(bytes: Uint8Array, at: number): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) mapped = false;
  if (mapped && bytes[at + 10] === 0xff && bytes[at + 11] === 0xff) return `::ffff:${ipv4Text(bytes, at + 12)}`;
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) groups.push((bytes[at + g * 2]! << 8) | bytes[at + g * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let g = 0; g < 8;) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > bestLength) {
      bestStart = g;
      bestLength = end - g;
    }
    g = end;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((group) => group.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** A whole v2 header; a message on failure, starting with "!" when the protocol is what is wrong. */
function parseV2(buffer: Uint8Array): ProxyHeader | string {
  const command = (buffer[12]! & 0x0f) === 0 ? "local" : "proxy";
  const familyByte = buffer[13]!;
  const family = familyByte >> 4;
  const transport = familyByte & 0x0f;
  if (family > 3 || transport > 2) return `!Family and transport byte 0x${familyByte.toString(16)} is not defined`;
  let addressLength = 0;
  if (family === 1) addressLength = 12;
  else if (family === 2) addressLength = 36;
  else if (family === 3) addressLength = 216;
  const length = buffer.length;
  // LOCAL carries no address the receiver may use, but may still carry the block: skip it.
  if (V2_PREAMBLE_LENGTH + addressLength > length) return `Length ${length - V2_PREAMBLE_LENGTH} is too short for the address block of ${addressLength} bytes`;
  let source: NetAddr | null = null;
  let destination: NetAddr | null = null;
  if (command === "proxy" && (family === 1 || family === 2)) {
    // A TCP connection cannot carry a datagram flow's addresses.
    if (transport !== 1) return `!Transport ${transport === 2 ? "DGRAM" : "UNSPEC"} with an IP family: only STREAM is handled`;
    const at = V2_PREAMBLE_LENGTH;
    if (family === 1) {
      source = { address: ipv4Text(buffer, at), port: (buffer[at + 8]! << 8) | buffer[at + 9]!, family: 4 };
      destination = { address: ipv4Text(buffer, at + 4), port: (buffer[at + 10]! << 8) | buffer[at + 11]!, family: 4 };
    } else {
      source = { address: ipv6Text(buffer, at), port: (buffer[at + 32]! << 8) | buffer[at + 33]!, family: 6 };
      destination = { address: ipv6Text(buffer, at + 16), port: (buffer[at + 34]! << 8) | buffer[at + 35]!, family: 6 };
    }
  }
  const tlvs = parseTlvs(buffer, V2_PREAMBLE_LENGTH + addressLength, length);
  if (tlvs === null) return "A TLV runs past the end of the header";
  let alpn = "";
  let authority = "";
  let uniqueId = "";
  let ssl: ProxySsl | null = null;
  for (const tlv of tlvs) {
    if (tlv.type === PP2_TYPE_ALPN) alpn = latin1(tlv.value, 0, tlv.value.length);
    else if (tlv.type === PP2_TYPE_AUTHORITY) authority = utf8.decode(tlv.value);
    else if (tlv.type === PP2_TYPE_UNIQUE_ID) uniqueId = latin1(tlv.value, 0, tlv.value.length);
    else if (tlv.type === PP2_TYPE_SSL) {
      const parsed = parseSsl(tlv.value);
      if (parsed === null) return "The SSL TLV is malformed";
      ssl = parsed;
    }
  }
  return Object.freeze({
    version: 2, command, source, destination, tlvs: tlvs.length === 0 ? NO_TLVS : Object.freeze(tlvs), alpn, authority, uniqueId, ssl, length,
  });
}

/** The TLVs in `bytes[from, to)`, each value copied out of the parser's buffer; null when one overruns. */
function parseTlvs(bytes: Uint8Array, from: number, to: number): ProxyTlv[] | null {
  const tlvs: ProxyTlv[] = [];
  let at = from;
  while (at < to) {
    if (at + 3 > to) return null;
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    if (at + 3 + length > to) return null;
    tlvs.push(Object.freeze({ type: bytes[at]!, value: bytes.slice(at + 3, at + 3 + length) }));
    at += 3 + length;
  }
  return tlvs;
}

/** PP2_TYPE_SSL: client (1 byte), verify (4 bytes), then sub-TLVs. */
function parseSsl(value: Uint8Array): ProxySsl | null {
  if (value.length < 5) return null;
  const tlvs = parseTlvs(value, 5, value.length);
  if (tlvs === null) return null;
  let version = "";
  let commonName = "";
  let cipher = "";
  for (const tlv of tlvs) {
    if (tlv.type === PP2_SUBTYPE_SSL_VERSION) version = latin1(tlv.value, 0, tlv.value.length);
    else if (tlv.type === PP2_SUBTYPE_SSL_CN) commonName = utf8.decode(tlv.value);
    else if (tlv.type === PP2_SUBTYPE_SSL_CIPHER) cipher = latin1(tlv.value, 0, tlv.value.length);
  }
  const verify = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
  return Object.freeze({ client: value[0]!, verify, version, commonName, cipher, tlvs: Object.freeze(tlvs) });
}
