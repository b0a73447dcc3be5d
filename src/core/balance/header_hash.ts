/**
 * `hdr(name)`: a request header's value picks the server.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer, HeaderHashKeyConfig } from "./types.ts";
import { hashRange, WeightedHashTable } from "./_hash_table.ts";
import { RoundRobinBalancer } from "./round_robin.ts";

const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const DOT = 0x2e;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isDigitRange(text: string, start: number, end: number): boolean {
  for (let index = start; index < end; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x30 || unit > 0x39) return false;
  }
  return true;
}

/** Index of the last `unit` in [start, end), or -1. */
function lastIndexOfCode(text: string, unit: number, start: number, end: number): number {
  for (let index = end - 1; index >= start; index--) {
    if (text.charCodeAt(index) === unit) return index;
  }
  return -1;
}

/**
 * Hash of a Host-like value's most significant label below the top-level domain
 * ("www.haproxy.org" and "haproxy.org:8080" both hash "haproxy"), as `use-domain-only`.
 * Unlike HAProxy, a port is left out, case is folded (domain names ignore it), and an IP address
 * or a single label is hashed whole rather than by its next-to-last part.
 */
function hashDomain(value: string, start: number, end: number): number {
  if (value.charCodeAt(start) === OPEN_BRACKET) {
    const close = lastIndexOfCode(value, CLOSE_BRACKET, start, end);
    return hashRange(value, start, close < 0 ? end : close + 1, true);
  }
  const colon = lastIndexOfCode(value, COLON, start, end);
  // More than one colon: a bare IPv6 address, which has no port to remove.
  if (colon >= 0 && lastIndexOfCode(value, COLON, start, colon) < 0 && isDigitRange(value, colon + 1, end)) {
    end = colon;
  }
  // A fully qualified name's final dot ("example.com.") names the same domain.
  if (end - start > 1 && value.charCodeAt(end - 1) === DOT) end--;
  const lastDot = lastIndexOfCode(value, DOT, start, end);
  // No top-level domain, or an IPv4 address (top-level domains are never all digits).
  if (lastDot < 0 || isDigitRange(value, lastDot + 1, end)) return hashRange(value, start, end, true);
  const previousDot = lastIndexOfCode(value, DOT, start, lastDot);
  return hashRange(value, previousDot < 0 ? start : previousDot + 1, lastDot, true);
}

/**
 * The hash `balance hdr(name)` gives a header value: that of its first comma-separated element
 * (HAProxy takes the first value of a list-valued header), optional whitespace left out; with
 * `useDomainOnly`, of its domain (see `hashDomain`). Hashes the range in place.
 */
export function hashHeaderValue(value: string, useDomainOnly: boolean): number {
  let start = 0;
  let end = 0;
  while (end < value.length && value.charCodeAt(end) !== COMMA) end++;
  while (start < end && (value.charCodeAt(start) === SPACE || value.charCodeAt(start) === TAB)) start++;
  while (end > start && (value.charCodeAt(end - 1) === SPACE || value.charCodeAt(end - 1) === TAB)) end--;
  return useDomainOnly ? hashDomain(value, start, end) : hashRange(value, start, end);
}

/**
 * HAProxy's `balance hdr(name)` over the weighted table that `source` uses, so weights, rehashing
 * of unavailable servers and `avoid` behave the same. Without the header (or in tcp mode) it
 * falls back to round robin, as HAProxy does.
 */
export class HeaderHashBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "hdr";
  readonly dynamicWeights = false;
  readonly #lowerName: string;
  readonly #useDomainOnly: boolean;
  readonly #table: WeightedHashTable;
  readonly #fallback: RoundRobinBalancer;

  constructor(servers: readonly Server[], key: HeaderHashKeyConfig) {
    this.#lowerName = key.lowerName;
    this.#useDomainOnly = key.useDomainOnly;
    this.#table = new WeightedHashTable(servers);
    this.#fallback = new RoundRobinBalancer(servers);
  }

  pick(context: BalanceContext, avoid: Server | null): Server | null {
    const value = context.requestHeader(this.#lowerName);
    if (value === undefined) return this.#fallback.pick(context, avoid);
    return this.#table.lookup(hashHeaderValue(value, this.#useDomainOnly), avoid);
  }

  update(): void {
    this.#table.update();
    this.#fallback.update();
  }
}
