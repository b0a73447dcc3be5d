/**
 * `source`: the client's address picks the server, so a client keeps its server.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";
import { hashRange, REHASH_PROBES, WeightedHashTable } from "./_hash_table.ts";

/** Table slots tried at random after the client's own slot (see `WeightedHashTable`). */
export const SOURCE_REHASH_PROBES = REHASH_PROBES;

/** The hash of a client address that picks its slot; allocates nothing. */
export function hashClientAddress(address: string): number {
  return hashRange(address, 0, address.length);
}

/**
 * HAProxy's map-based source hashing over `WeightedHashTable`: a client whose server is
 * unavailable goes, deterministically, to another one, and comes back when it returns.
 */
export class SourceHashBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "source";
  readonly dynamicWeights = false;
  readonly #table: WeightedHashTable;

  constructor(servers: readonly Server[]) {
    this.#table = new WeightedHashTable(servers);
  }

  pick(context: BalanceContext, avoid: Server | null): Server | null {
    return this.#table.lookup(hashClientAddress(context.clientAddress), avoid);
  }

  update(): void {
    this.#table.update();
  }
}
