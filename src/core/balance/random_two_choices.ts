/**
 * `random`: power of two random choices.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";

/** Servers drawn per pick, as HAProxy's `random` (that is `random(2)`): two draws already avoid most hot spots. */
export const DEFAULT_RANDOM_DRAWS = 2;

/** A source of random numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * Draws servers at random, each with a chance proportional to its weight, and keeps the least
 * loaded for its weight (activeConnections / weight), as HAProxy's `random(2)`: nearly as even
 * as leastconn, but without herding every new connection onto the same idle server.
 */
export class RandomTwoChoicesBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "random";
  readonly dynamicWeights = true;
  readonly #servers: readonly Server[];
  readonly #random: RandomSource;
  readonly #draws: number;

  constructor(servers: readonly Server[], random: RandomSource = Math.random, draws = DEFAULT_RANDOM_DRAWS) {
    this.#servers = servers;
    this.#random = random;
    this.#draws = Math.max(1, Math.floor(draws));
  }

  pick(_context: BalanceContext, avoid: Server | null): Server | null {
    let totalWeight = 0;
    for (let position = 0; position < this.#servers.length; position++) {
      const server = this.#servers[position];
      if (server !== avoid && server.isAvailable()) totalWeight += server.weight;
    }
    if (totalWeight === 0) return avoid !== null && avoid.isAvailable() ? avoid : null;

    let chosen: Server | null = null;
    for (let draw = 0; draw < this.#draws; draw++) {
      const candidate = this.#draw(totalWeight, avoid);
      // Ties go to the later draw, as in HAProxy.
      if (
        chosen === null ||
        candidate.activeConnections * chosen.weight <= chosen.activeConnections * candidate.weight
      ) {
        chosen = candidate;
      }
    }
    return chosen;
  }

  /** Nothing to do: every pick reads the live weights and counters. */
  update(): void {}

  #draw(totalWeight: number, avoid: Server | null): Server {
    const target = this.#random() * totalWeight;
    let cumulativeWeight = 0;
    let last: Server | null = null;
    for (let position = 0; position < this.#servers.length; position++) {
      const server = this.#servers[position];
      if (server === avoid || !server.isAvailable()) continue;
      cumulativeWeight += server.weight;
      if (target < cumulativeWeight) return server;
      last = server;
    }
    // Only reached when rounding puts the target at the very end.
    return last!;
  }
}
