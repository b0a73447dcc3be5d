/**
 * The contract every load-balancing algorithm implements.
 *
 * @module
 */

import type { Server } from "../server.ts";

/** Names of the algorithms, as HAProxy spells them. */
export type BalanceAlgorithmName = "roundrobin" | "static-rr" | "leastconn" | "first" | "source" | "random";

/** What a pick may look at. */
export interface BalanceContext {
  /** The client's IP address, as text. */
  readonly clientAddress: string;
}

/** Picks a server for each new session among a fixed list of servers. */
export interface Balancer {
  readonly algorithm: BalanceAlgorithmName;
  /**
   * Returns an available server (up, weight > 0, below maxconn), or null when there is none.
   * `avoid` is skipped unless it is the only available server (used to redispatch a retry).
   */
  pick(context: BalanceContext, avoid: Server | null): Server | null;
  /** Tells the algorithm that a server's weight or up/down state changed. */
  update(): void;
}
