/**
 * `roundrobin`: smooth weighted round robin, with weights read live.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";

/**
 * Smooth weighted round robin (nginx's algorithm): on every pick each candidate's score grows by
 * its weight, the highest score wins and pays back the total. Weights 5:1:1 give a a b a c a a,
 * not a a a a a b c. Weights are read on every pick, so a weight change applies at once.
 */
export class RoundRobinBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "roundrobin";
  readonly dynamicWeights = true;
  readonly #servers: readonly Server[];
  readonly #scores: Float64Array;

  constructor(servers: readonly Server[]) {
    this.#servers = servers;
    this.#scores = new Float64Array(servers.length);
  }

  pick(_context: BalanceContext, avoid: Server | null): Server | null {
    const servers = this.#servers;
    const scores = this.#scores;
    let totalWeight = 0;
    let best = -1;
    for (let position = 0; position < servers.length; position++) {
      const server = servers[position];
      if (server === avoid || !server.isAvailable()) continue;
      scores[position] += server.weight;
      totalWeight += server.weight;
      if (best < 0 || scores[position] > scores[best]) best = position;
    }
    if (best < 0) return avoid !== null && avoid.isAvailable() ? avoid : null;
    scores[best] -= totalWeight;
    return servers[best];
  }

  /**
   * Starts the scores afresh: a server that comes back keeps no credit or debt from before it
   * left, which would otherwise give it a burst of picks or starve it for a while.
   */
  update(): void {
    this.#scores.fill(0);
  }
}
