/**
 * `static-rr`: weighted round robin over a sequence fixed when built.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";
import { buildWeightedSequence } from "./_weighted_sequence.ts";

/**
 * Weighted round robin over a sequence computed from the weights at construction and on
 * `update()` only, as HAProxy's static-rr: weight changes wait for `update()`, while a server that
 * is down, drained to weight 0 or full is skipped at once and its turn goes to the next entry.
 */
export class StaticRoundRobinBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "static-rr";
  readonly dynamicWeights = false;
  readonly #servers: readonly Server[];
  readonly #weights: Float64Array;
  #sequence: Int32Array;
  #next = 0;

  constructor(servers: readonly Server[]) {
    this.#servers = servers;
    this.#weights = new Float64Array(servers.length);
    this.#sequence = this.#build();
  }

  pick(_context: BalanceContext, avoid: Server | null): Server | null {
    const sequence = this.#sequence;
    let avoidSeen = false;
    for (let step = 0; step < sequence.length; step++) {
      const slot = this.#next;
      this.#next = slot + 1 === sequence.length ? 0 : slot + 1;
      const server = this.#servers[sequence[slot]];
      if (!server.isAvailable()) continue;
      if (server === avoid) {
        avoidSeen = true;
        continue;
      }
      return server;
    }
    return avoidSeen ? avoid : null;
  }

  /** Recomputes the sequence from the current weights. */
  update(): void {
    this.#sequence = this.#build();
    this.#next = 0;
  }

  #build(): Int32Array {
    for (let position = 0; position < this.#servers.length; position++) {
      this.#weights[position] = this.#servers[position].weight;
    }
    return buildWeightedSequence(this.#weights);
  }
}
