/**
 * PROXY protocol headers built by hand, byte by byte from proxy-protocol.txt, for the parser's
 * tests and the accept-proxy end-to-end tests (independent of the project's own encoder).
 */

/** The v2 signature. */
export const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

export interface V2Options {
  /** 0 LOCAL, 1 PROXY. */
  command?: number;
  /** The family and transport byte: 0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x00 UNSPEC. */
  family?: number;
  /** The address block (12 bytes for IPv4, 36 for IPv6). */
  addresses?: number[];
  /** TLVs: [type, value bytes]. */
  tlvs?: Array<[number, number[]]>;
  /** Overrides the length field. */
  length?: number;
  /** Overrides the version nibble. */
  version?: number;
}

function text(value: string): number[] {
  return [...new TextEncoder().encode(value)];
}

/** A TLV's bytes. */
export function tlv(type: number, value: number[] | string): number[] {
  const bytes = typeof value === "string" ? text(value) : value;
  return [type, bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

/** PP2_TYPE_SSL's value: client flags, verify (4 bytes), sub-TLVs. */
export function sslValue(client: number, verify: number, subTlvs: Array<[number, string]>): number[] {
  return [client, 0, 0, 0, verify, ...subTlvs.flatMap(([type, value]) => tlv(type, value))];
}

/** IPv4 address block: source, destination, ports. */
export function ipv4Block(source: number[], destination: number[], sourcePort: number, destinationPort: number): number[] {
  return [...source, ...destination, sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff];
}

/** IPv6 address block from 16-byte arrays. */
export function ipv6Block(source: number[], destination: number[], sourcePort: number, destinationPort: number): number[] {
  return [...source, ...destination, sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff];
}

/** A whole v2 header. */
export function v2Header(options: V2Options = {}): Uint8Array {
  const addresses = options.addresses ?? [];
  const tlvBytes = (options.tlvs ?? []).flatMap(([type, value]) => tlv(type, value));
  const body = [...addresses, ...tlvBytes];
  const length = options.length ?? body.length;
  return new Uint8Array([
    ...V2_SIGNATURE,
    ((options.version ?? 2) << 4) | (options.command ?? 1),
    options.family ?? 0x11,
    length >> 8,
    length & 0xff,
    ...body,
  ]);
}

/** A v1 line as bytes. */
export function v1Header(line: string): Uint8Array {
  return new TextEncoder().encode(line);
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
