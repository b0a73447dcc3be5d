/**
 * `uri`: the request's URI picks the server, so a resource keeps its server (cache affinity).
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer, UriHashKeyConfig } from "./types.ts";
import { hashRange, WeightedHashTable } from "./_hash_table.ts";
import { RoundRobinBalancer } from "./round_robin.ts";

/** What the key hash functions return when there is nothing to hash (hashes are never negative). */
export const NO_HASH_KEY = -1;

const SLASH = 0x2f;
const QUESTION_MARK = 0x3f;
const COLON = 0x3a;

/**
 * Stands for the path of a target that has none ("http://host", "*", an authority), as HAProxy
 * hashes "/" then; a literal, so using it allocates nothing.
 */
const ROOT_PATH = "/";

function isSchemeCode(unit: number): boolean {
  return (unit >= 0x61 && unit <= 0x7a) || (unit >= 0x41 && unit <= 0x5a) || (unit >= 0x30 && unit <= 0x39) ||
    unit === 0x2b || unit === 0x2d || unit === 0x2e;
}

/**
 * Where the path of a request target begins, or -1 when it has none. An origin-form target is all
 * path; in an absolute-form one the path follows the authority (an empty path, before a "?" or at
 * the end, counts as none).
 */
function pathStart(target: string): number {
  if (target.charCodeAt(0) === SLASH) return 0;
  let index = 0;
  while (index < target.length && isSchemeCode(target.charCodeAt(index))) index++;
  if (
    index === 0 || target.charCodeAt(index) !== COLON || target.charCodeAt(index + 1) !== SLASH ||
    target.charCodeAt(index + 2) !== SLASH
  ) {
    return -1;
  }
  for (index += 3; index < target.length; index++) {
    const unit = target.charCodeAt(index);
    if (unit === SLASH) return index;
    if (unit === QUESTION_MARK) return -1;
  }
  return -1;
}

/**
 * The hash `balance uri` gives a request target, or `NO_HASH_KEY` for "" (no request: tcp mode).
 *
 * As HAProxy: `pathOnly` first reduces an absolute-form target to its path, `len` then keeps that
 * many characters, and the hash stops at the first "?" (unless `whole`) or after `depth`
 * directories, before the next "/" (depth 2 hashes "/a/b" of "/a/b/c"; every slash counts, so
 * without `pathOnly` those of "http://" do too). Hashes the range in place.
 */
export function hashRequestUri(target: string, key: UriHashKeyConfig): number {
  if (target.length === 0) return NO_HASH_KEY;
  let text = target;
  let start = 0;
  let end = target.length;
  if (key.pathOnly) {
    start = pathStart(target);
    if (start < 0) {
      text = ROOT_PATH;
      start = 0;
      end = ROOT_PATH.length;
    }
  }
  if (key.len > 0 && end - start > key.len) end = start + key.len;
  const endingSlash = key.depth > 0 ? key.depth + 1 : 0;
  let stop = start;
  let slashes = 0;
  for (; stop < end; stop++) {
    const unit = text.charCodeAt(stop);
    if (unit === SLASH) {
      if (++slashes === endingSlash) break;
    } else if (unit === QUESTION_MARK && !key.whole) {
      break;
    }
  }
  return hashRange(text, start, stop);
}

/**
 * HAProxy's `balance uri` over the weighted table that `source` uses, so weights, rehashing of
 * unavailable servers and `avoid` behave the same. Without a request target (tcp mode) it falls
 * back to round robin, as HAProxy does when the key is missing.
 */
export class UriHashBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "uri";
  readonly dynamicWeights = false;
  readonly #key: UriHashKeyConfig;
  readonly #table: WeightedHashTable;
  readonly #fallback: RoundRobinBalancer;

  constructor(servers: readonly Server[], key: UriHashKeyConfig) {
    this.#key = key;
    this.#table = new WeightedHashTable(servers);
    this.#fallback = new RoundRobinBalancer(servers);
  }

  pick(context: BalanceContext, avoid: Server | null): Server | null {
    const hash = hashRequestUri(context.requestTarget, this.#key);
    if (hash === NO_HASH_KEY) return this.#fallback.pick(context, avoid);
    return this.#table.lookup(hash, avoid);
  }

  update(): void {
    this.#table.update();
    this.#fallback.update();
  }
}
