/**
 * The contract every load-balancing algorithm implements.
 *
 * @module
 */

import type { Server } from "../server.ts";

/** Names of the algorithms, as HAProxy spells them. */
export type BalanceAlgorithmName =
  | "roundrobin"
  | "static-rr"
  | "leastconn"
  | "first"
  | "source"
  | "random"
  | "uri"
  | "hdr";

/**
 * What `uri` and `hdr` hash (HAProxy's `balance uri [depth N] [len N] [whole] [path-only]` and
 * `balance hdr(NAME) [use-domain-only]`).
 */
export type BalanceHashKeyConfig =
  | {
    readonly kind: "uri";
    /** Directories of the path hashed (0: all). */
    readonly depth: number;
    /** Characters hashed (0: all). */
    readonly len: number;
    /** Include the query string. */
    readonly whole: boolean;
    /** Only the path: an absolute-form target's scheme and authority are left out. */
    readonly pathOnly: boolean;
  }
  | {
    readonly kind: "hdr";
    readonly name: string;
    readonly lowerName: string;
    /** Hash only the domain's second-level part (for Host-like values): "www.example.com" hashes "example". */
    readonly useDomainOnly: boolean;
  };

/** `balance uri` options. */
export type UriHashKeyConfig = Extract<BalanceHashKeyConfig, { readonly kind: "uri" }>;

/** `balance hdr(NAME)` options. */
export type HeaderHashKeyConfig = Extract<BalanceHashKeyConfig, { readonly kind: "hdr" }>;

/** What a pick may look at. */
export interface BalanceContext {
  /** The client's IP address, as text. */
  readonly clientAddress: string;
  /** http mode: the current request's target as received ("" in tcp mode). */
  readonly requestTarget: string;
  /** http mode: the first value of a request header by lower-case name (undefined if absent, or in tcp mode). */
  requestHeader(lowerName: string): string | undefined;
}

/** Picks a server for each new session among a fixed list of servers. */
export interface Balancer {
  readonly algorithm: BalanceAlgorithmName;
  /**
   * Whether weights are read live, so that a slow start may ramp them (HAProxy's dynamic
   * algorithms); static ones build tables from the weights and ramp only maxconn.
   */
  readonly dynamicWeights: boolean;
  /**
   * Returns a server for the request, or null when there is none. Most algorithms return only an
   * available server (usable, with a free slot); the hashing ones return the key's usable server
   * even when it is full, and the request then waits in that server's queue (as HAProxy's do).
   * `avoid` is skipped unless it is the only candidate (used to redispatch a retry).
   */
  pick(context: BalanceContext, avoid: Server | null): Server | null;
  /** Tells the algorithm that a server's weight or up/down state changed. */
  update(): void;
}
