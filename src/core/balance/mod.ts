/**
 * Load-balancing algorithms: pick a server of a backend for each new session.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceHashKeyConfig, Balancer } from "./types.ts";
import { FirstBalancer } from "./first.ts";
import { HeaderHashBalancer } from "./header_hash.ts";
import { LeastConnectionsBalancer } from "./least_connections.ts";
import { RandomTwoChoicesBalancer } from "./random_two_choices.ts";
import type { RandomSource } from "./random_two_choices.ts";
import { RoundRobinBalancer } from "./round_robin.ts";
import { SourceHashBalancer } from "./source_hash.ts";
import { StaticRoundRobinBalancer } from "./static_round_robin.ts";
import { UriHashBalancer } from "./uri_hash.ts";

export type {
  BalanceAlgorithmName,
  BalanceContext,
  BalanceHashKeyConfig,
  Balancer,
  HeaderHashKeyConfig,
  UriHashKeyConfig,
} from "./types.ts";
export { FirstBalancer } from "./first.ts";
export { hashHeaderValue, HeaderHashBalancer } from "./header_hash.ts";
export { LeastConnectionsBalancer } from "./least_connections.ts";
export { DEFAULT_RANDOM_DRAWS, RandomTwoChoicesBalancer } from "./random_two_choices.ts";
export type { RandomSource } from "./random_two_choices.ts";
export { RoundRobinBalancer } from "./round_robin.ts";
export { hashClientAddress, SOURCE_REHASH_PROBES, SourceHashBalancer } from "./source_hash.ts";
export { StaticRoundRobinBalancer } from "./static_round_robin.ts";
export { hashRequestUri, NO_HASH_KEY, UriHashBalancer } from "./uri_hash.ts";

/** Algorithm used when a backend names none, as in HAProxy. */
export const DEFAULT_BALANCE_ALGORITHM: BalanceAlgorithmName = "roundrobin";

/** Every algorithm name, as HAProxy spells it. */
export const BALANCE_ALGORITHMS: readonly BalanceAlgorithmName[] = Object.freeze(
  [
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "random",
    "uri",
    "hdr",
  ] as const,
);

/**
 * Whether an algorithm ties a request to one server: the hashing ones (HAProxy's `BE_LB_KIND_HI`).
 * A failed connection is then retried on that server, and only the last retry may go elsewhere;
 * the others have no reason to insist on a server (see `Backend.redispatchTarget`).
 */
export function keepsAffinity(name: BalanceAlgorithmName): boolean {
  return name === "source" || name === "uri" || name === "hdr";
}

/**
 * Whether `name` is the name of an algorithm. "hdr" is one, although a configuration spells it
 * with its header, "hdr(NAME)".
 */
export function isBalanceAlgorithm(name: string): name is BalanceAlgorithmName {
  return (BALANCE_ALGORITHMS as readonly string[]).includes(name);
}

/**
 * Builds the balancer for `algorithm` over `servers`; `random` feeds the `random` algorithm, and
 * `hashKey` says what `uri` and `hdr` hash (required for them, ignored by the others).
 */
export function createBalancer(
  algorithm: BalanceAlgorithmName,
  servers: readonly Server[],
  random?: RandomSource,
  hashKey?: BalanceHashKeyConfig | null,
): Balancer {
  switch (algorithm) {
    case "roundrobin":
      return new RoundRobinBalancer(servers);
    case "static-rr":
      return new StaticRoundRobinBalancer(servers);
    case "leastconn":
      return new LeastConnectionsBalancer(servers);
    case "first":
      return new FirstBalancer(servers);
    case "source":
      return new SourceHashBalancer(servers);
    case "random":
      return new RandomTwoChoicesBalancer(servers, random);
    case "uri":
      if (hashKey?.kind !== "uri") throw missingHashKey(algorithm, hashKey);
      return new UriHashBalancer(servers, hashKey);
    case "hdr":
      if (hashKey?.kind !== "hdr") throw missingHashKey(algorithm, hashKey);
      return new HeaderHashBalancer(servers, hashKey);
    default: {
      const unknown: never = algorithm;
      throw new Error(`Unknown balance algorithm "${String(unknown)}"`);
    }
  }
}

function missingHashKey(algorithm: "uri" | "hdr", hashKey: BalanceHashKeyConfig | null | undefined): Error {
  const given = hashKey === undefined || hashKey === null ? "none" : `kind "${String(hashKey.kind)}"`;
  return new Error(`balance "${algorithm}" needs hash key options of kind "${algorithm}" (got ${given})`);
}
