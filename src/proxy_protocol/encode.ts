/**
 * The PROXY protocol header a server connection opens with (HAProxy's `send-proxy`,
 * `send-proxy-v2`, doc/proxy-protocol.txt): the v1 text line and the v2 binary header with its TLVs.
 *
 * Built once per server connection, so plain arrays and TextEncoder are fine here; nothing in this
 * module runs per chunk.
 *
 * @module
 */

import type { NetAddr, TlsFacts } from "../runtime/types.ts";

/** The 12 bytes every v2 header starts with (doc/proxy-protocol.txt, section 2.2). */
export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);

/** Version 2 in the high nibble, the command in the low one. */
export const PROXY_V2_LOCAL = 0x20;
export const PROXY_V2_PROXY = 0x21;
/** Address family in the high nibble, transport (1: STREAM) in the low one. */
export const PROXY_V2_UNSPEC = 0x00;
export const PROXY_V2_TCP4 = 0x11;
export const PROXY_V2_TCP6 = 0x21;

/** TLV types (section 2.2.1 onwards). */
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;

/** Flags of the SSL TLV's `client` byte. */
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** What a v2 header carries beyond the addresses. */
export interface ProxyV2Options {
  /** The SSL TLV (`send-proxy-v2-ssl`): whether the client came over TLS, its version and certificate state. */
  readonly ssl: boolean;
  /** The client certificate's CN inside the SSL TLV (`send-proxy-v2-ssl-cn`, implies `ssl`). */
  readonly sslCn: boolean;
}

const encoder = new TextEncoder();

function sameFamily(source: NetAddr | null, destination: NetAddr | null): 4 | 6 | 0 {
  if (source === null || destination === null) return 0;
  if (source.family !== destination.family) return 0;
  return source.family;
}

/**
 * The v1 line for a connection from `source` to `destination`: `PROXY TCP4 ...` or `PROXY TCP6
 * ...`, or `PROXY UNKNOWN` when an address is missing or the two families differ (v1 has no
 * mixed form, and HAProxy sends UNKNOWN there too).
 */
export function encodeProxyV1(source: NetAddr | null, destination: NetAddr | null): Uint8Array {
  const family = sameFamily(source, destination);
  if (family === 0) return encoder.encode("PROXY UNKNOWN\r\n");
  const proto = family === 4 ? "TCP4" : "TCP6";
  const src = family === 6 ? source!.address.toLowerCase() : source!.address;
  const dst = family === 6 ? destination!.address.toLowerCase() : destination!.address;
  return encoder.encode(`PROXY ${proto} ${src} ${dst} ${source!.port} ${destination!.port}\r\n`);
}

/** The v2 LOCAL header: a connection the proxy made for itself (a health check), no addresses. */
export function encodeProxyV2Local(): Uint8Array {
  const out = new Uint8Array(16);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = PROXY_V2_LOCAL;
  out[13] = PROXY_V2_UNSPEC;
  return out;
}

/**
 * The v2 header for a client connection from `source` to `destination`, with the TLVs HAProxy
 * sends: ALPN and AUTHORITY (the SNI name) whenever the client's TLS handshake gave them, and the
 * SSL TLV when `options.ssl`. Without usable addresses the command is LOCAL, as HAProxy does.
 * An IPv4 address beside an IPv6 one is sent as IPv4-mapped IPv6 (HAProxy's v4tov6).
 */
export function encodeProxyV2(
  source: NetAddr | null,
  destination: NetAddr | null,
  tls: TlsFacts | undefined,
  options: ProxyV2Options,
): Uint8Array {
  const body: number[] = [];
  let command = PROXY_V2_LOCAL;
  let family = PROXY_V2_UNSPEC;
  const src = source === null ? null : addressBytes(source.address);
  const dst = destination === null ? null : addressBytes(destination.address);
  if (src !== null && dst !== null) {
    command = PROXY_V2_PROXY;
    if (src.length === 4 && dst.length === 4) {
      family = PROXY_V2_TCP4;
      pushAll(body, src);
      pushAll(body, dst);
    } else {
      family = PROXY_V2_TCP6;
      pushAll(body, src.length === 4 ? mapped(src) : src);
      pushAll(body, dst.length === 4 ? mapped(dst) : dst);
    }
    body.push(source!.port >> 8, source!.port & 0xff, destination!.port >> 8, destination!.port & 0xff);
  }
  if (tls !== undefined) {
    if (tls.alpn !== "") pushTlv(body, PP2_TYPE_ALPN, encoder.encode(tls.alpn));
    if (tls.serverName !== "") pushTlv(body, PP2_TYPE_AUTHORITY, encoder.encode(tls.serverName));
  }
  if (options.ssl || options.sslCn) pushTlv(body, PP2_TYPE_SSL, sslValue(tls, options.sslCn));
  const out = new Uint8Array(16 + body.length);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = command;
  out[13] = family;
  out[14] = body.length >> 8;
  out[15] = body.length & 0xff;
  out.set(body, 16);
  return out;
}

/**
 * The SSL TLV's value: `client` flags, `verify` (0 when the client presented a certificate that
 * was verified, non-zero otherwise, as the specification words it), then the sub-TLVs.
 */
function sslValue(tls: TlsFacts | undefined, withCn: boolean): Uint8Array {
  const value: number[] = [0, 0, 0, 0, 1];
  if (tls === undefined) return Uint8Array.from(value);
  let client = PP2_CLIENT_SSL;
  if (tls.peerCertificate !== "none") client |= PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS;
  value[0] = client;
  if (tls.peerCertificate === "valid") value[4] = 0;
  if (tls.version !== "") pushTlv(value, PP2_SUBTYPE_SSL_VERSION, encoder.encode(tls.version));
  if (withCn && tls.peerCertificate !== "none") {
    const cn = commonName(tls.peerSubject);
    if (cn !== "") pushTlv(value, PP2_SUBTYPE_SSL_CN, encoder.encode(cn));
  }
  return Uint8Array.from(value);
}

/** The CN of a subject in OpenSSL's one-line form ("/CN=client one/O=Test"), "" without one. */
export function commonName(subject: string): string {
  const match = /(?:^|\/)CN=([^/]*)/.exec(subject);
  return match === null ? "" : match[1]!;
}

function pushTlv(out: number[], type: number, value: Uint8Array): void {
  // A TLV's length is 16 bits; longer values (never seen in practice for these types) are cut.
  const length = value.length > 0xffff ? 0xffff : value.length;
  out.push(type, length >> 8, length & 0xff);
  for (let i = 0; i < length; i++) out.push(value[i]!);
}

function pushAll(out: number[], bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
}

function mapped(ipv4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ipv4, 12);
  return out;
}

/** The bytes of an IPv4 (4) or IPv6 (16) address written as text; null for anything else. */
export function addressBytes(text: string): Uint8Array | null {
  if (text.includes(":")) return ipv6Bytes(text);
  return ipv4Bytes(text);
}

function ipv4Bytes(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    out[i] = value;
  }
  return out;
}

function ipv6Bytes(text: string): Uint8Array | null {
  // A zone ("fe80::1%eth0") names an interface of this host, meaningless to the server.
  const percent = text.indexOf("%");
  const address = percent < 0 ? text : text.slice(0, percent);
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 16 : total > 14) return null;
  const out = new Uint8Array(16);
  out.set(head, 0);
  out.set(tail, 16 - tail.length);
  return out;
}

/** The bytes of colon-separated groups, the last of which may be a dotted IPv4 address. */
function groups(text: string): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = ipv4Bytes(part);
      if (v4 === null) return null;
      out.push(...v4);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      const value = parseInt(part, 16);
      out.push(value >> 8, value & 0xff);
    }
  }
  return out;
}

/** Which header to send: what a server's send-proxy keys chose. */
export interface ProxyHeaderChoice extends ProxyV2Options {
  readonly version: 1 | 2;
}

/** The client side of a proxied connection, as the header describes it. */
export interface ProxiedClient {
  readonly remote: NetAddr;
  readonly local: NetAddr;
  readonly tls: TlsFacts | undefined;
}

/**
 * The header a new server connection opens with for `client`: its address as the source, the
 * address it reached us on as the destination, and (v2) its TLS facts.
 */
export function encodeProxyHeader(choice: ProxyHeaderChoice, client: ProxiedClient): Uint8Array {
  return choice.version === 1
    ? encodeProxyV1(client.remote, client.local)
    : encodeProxyV2(client.remote, client.local, client.tls, choice);
}

/**
 * The header a health check opens with (`check-send-proxy`), as HAProxy sends it on a connection
 * it made for itself: v1 describes the check's own connection (its local address as the source),
 * v2 is a LOCAL header, which a receiver serves with the connection's real addresses. `check`
 * null: the header is built before the connection is made (towards a TLS server it precedes the
 * handshake), so v1 says UNKNOWN, which a receiver serves with the real addresses too.
 */
export function encodeCheckProxyHeader(version: 1 | 2, check: { readonly local: NetAddr; readonly remote: NetAddr } | null): Uint8Array {
  if (version === 2) return encodeProxyV2Local();
  return check === null ? encodeProxyV1(null, null) : encodeProxyV1(check.local, check.remote);
}
