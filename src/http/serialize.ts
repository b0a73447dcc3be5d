/**
 * Rebuilds a parsed head into the bytes sent to the other side: the start line, the headers in
 * their order minus the hop-by-hop ones, then the headers the proxy adds. One allocation per head:
 * the exact length is computed first, then latin1 characters are written byte by byte.
 *
 * Hop-by-hop headers (RFC 9110 7.6.1) are removed: Connection and every header it names,
 * Keep-Alive, Proxy-Connection, TE (except a request's "TE: trailers", kept as HAProxy does), Upgrade unless the session forwards an upgrade, and the h2c
 * upgrade of a request (Upgrade: h2c and HTTP2-Settings: HAProxy strips them, it cannot honour an
 * h2c upgrade across a proxy). Trailer stays: RFC 9110 6.6.2 made it end-to-end, and trailers are
 * forwarded with the chunked body. The session adds its own Connection header through `addHeaders`
 * (for an upgrade: "Connection: upgrade").
 *
 * @module
 */

import { takeBytes } from "../core/byte_slab.ts";
import { listHasToken } from "./framing.ts";
import type { HttpHead } from "./head_parser.ts";

/** How a head is rebuilt. */
export interface SerializeOptions {
  /** Keep Upgrade (a WebSocket upgrade being forwarded); an h2c member of a request's Upgrade is still dropped. */
  keepUpgrade?: boolean;
  /** Headers appended after the kept ones, flat: [name0, value0, name1, value1, ...]; latin1, no CR or LF. */
  addHeaders?: readonly string[];
  /** Lowercase names of received headers to leave out (headers the proxy sets itself). */
  dropHeaders?: readonly string[];
}

const KEEP = 1;
const DROP = 0;

/** Per-header decisions of the last serialization, reused across calls. */
let decisions = new Uint8Array(128);

/**
 * Headers a Connection token must never remove: dropping them would change the framing of a body
 * forwarded as is, or the request's authority ("Connection: Content-Length" is a smuggling trick).
 */
function isProtected(lowerName: string): boolean {
  return lowerName === "host" || lowerName === "content-length" || lowerName === "transfer-encoding";
}

/** Whether header `index` of `head` is forwarded (false for hop-by-hop headers, see the module notes). */
export function isForwarded(head: HttpHead, index: number, keepUpgrade = false): boolean {
  const name = head.headerLowerNames[index]!;
  switch (name) {
    case "connection":
    case "keep-alive":
    case "proxy-connection":
    case "te":
      return false;
    case "upgrade":
      return keepUpgrade;
    case "http2-settings":
      // Only meaningful with an h2c upgrade, which is never forwarded.
      return false;
  }
  const tokens = head.connectionTokens;
  for (let t = 0; t < tokens.length; t++) {
    if (tokens[t] === name) return isProtected(name);
  }
  return true;
}

/** The Upgrade value without its h2c member ("" when nothing remains). */
export function withoutH2c(upgrade: string): string {
  const kept: string[] = [];
  const members = upgrade.split(",");
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!.trim();
    if (member !== "" && !listHasToken(member, "h2c")) kept.push(member);
  }
  return kept.join(", ");
}

const NO_OPTIONS: SerializeOptions = Object.freeze({});

/** The head as bytes: start line, forwarded headers, added headers, empty line. */
export function serializeHead(head: HttpHead, options: SerializeOptions = NO_OPTIONS): Uint8Array {
  const keepUpgrade = options.keepUpgrade === true;
  const added = options.addHeaders;
  const dropped = options.dropHeaders;
  const count = head.headerCount;
  const names = head.headerNames;
  const lowerNames = head.headerLowerNames;
  const values = head.headerValues;
  if (decisions.length < count) decisions = new Uint8Array(count * 2);
  const keep = decisions;
  // Values rewritten for this call: only an Upgrade naming h2c among other protocols.
  let rewritten: (string | undefined)[] | undefined;

  const isRequest = head.kind === "request";
  // "HTTP/1.1" is 8 bytes; a status is 3 digits.
  let length = isRequest
    ? head.method.length + 1 + head.target.length + 1 + 8 + 2
    : 8 + 1 + 3 + 1 + head.reason.length + 2;
  for (let i = 0; i < count; i++) {
    let value = values[i]!;
    if (lowerNames[i] === "te") {
      // HAProxy forwards a request's TE only as "trailers", when that member is present
      // (reg-test http-messaging/http_transfer_encoding.vtc, client c5).
      if (!isRequest || !listHasToken(value, "trailers")) {
        keep[i] = DROP;
        continue;
      }
      (rewritten ??= [])[i] = value = "trailers";
    } else if (!isForwarded(head, i, keepUpgrade) || (dropped !== undefined && dropped.includes(lowerNames[i]!))) {
      keep[i] = DROP;
      continue;
    } else if (isRequest && keepUpgrade && lowerNames[i] === "upgrade" && listHasToken(value, "h2c")) {
      value = withoutH2c(value);
      if (value === "") {
        keep[i] = DROP;
        continue;
      }
      (rewritten ??= [])[i] = value;
    }
    keep[i] = KEEP;
    length += names[i]!.length + 2 + value.length + 2;
  }
  if (added !== undefined) {
    for (let a = 0; a + 1 < added.length; a += 2) length += added[a]!.length + 2 + added[a + 1]!.length + 2;
  }
  length += 2;

  const out = takeBytes(length);
  let at = 0;
  if (isRequest) {
    at = writeLatin1(out, at, head.method);
    out[at++] = 0x20;
    at = writeLatin1(out, at, head.target);
    out[at++] = 0x20;
    at = writeVersion(out, at, head.version);
  } else {
    at = writeVersion(out, at, head.version);
    out[at++] = 0x20;
    const status = head.status;
    out[at++] = 0x30 + ((status / 100) | 0);
    out[at++] = 0x30 + (((status / 10) | 0) % 10);
    out[at++] = 0x30 + (status % 10);
    out[at++] = 0x20;
    at = writeLatin1(out, at, head.reason);
  }
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  for (let i = 0; i < count; i++) {
    if (keep[i] === DROP) continue;
    at = writeField(out, at, names[i]!, rewritten?.[i] ?? values[i]!);
  }
  if (added !== undefined) {
    for (let a = 0; a + 1 < added.length; a += 2) at = writeField(out, at, added[a]!, added[a + 1]!);
  }
  out[at++] = 0x0d;
  out[at] = 0x0a;
  return out;
}

function writeField(out: Uint8Array, at: number, name: string, value: string): number {
  at = writeLatin1(out, at, name);
  out[at++] = 0x3a;
  out[at++] = 0x20;
  at = writeLatin1(out, at, value);
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  return at;
}

function writeVersion(out: Uint8Array, at: number, version: "1.0" | "1.1"): number {
  out[at] = 0x48; // H
  out[at + 1] = 0x54; // T
  out[at + 2] = 0x54; // T
  out[at + 3] = 0x50; // P
  out[at + 4] = 0x2f; // /
  out[at + 5] = 0x31; // 1
  out[at + 6] = 0x2e; // .
  out[at + 7] = version === "1.0" ? 0x30 : 0x31;
  return at + 8;
}

/** Writes a latin1 string (every code unit below 0x100, as the parser produces). */
function writeLatin1(out: Uint8Array, at: number, text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) out[at + i] = text.charCodeAt(i);
  return at + length;
}
