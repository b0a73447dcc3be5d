/**
 * `first`: fill the servers one after the other.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";

/**
 * Picks the first available server in declaration order, that is the first one up, with a
 * non-zero weight and below its maxconn. The next server only gets connections once the previous
 * ones are full, so idle servers can be powered down; without maxconn every connection goes to
 * the first usable server.
 */
export class FirstBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "first";
  readonly dynamicWeights = false;
  readonly #servers: readonly Server[];

  constructor(servers: readonly Server[]) {
    this.#servers = [...servers].sort((a, b) => a.index - b.index);
  }

  pick(_context: BalanceContext, avoid: Server | null): Server | null {
    const servers = this.#servers;
    for (let position = 0; position < servers.length; position++) {
      const server = servers[position];
      if (server !== avoid && server.isAvailable()) return server;
    }
    return avoid !== null && avoid.isAvailable() ? avoid : null;
  }

  /** Nothing to do: every pick reads the live state. */
  update(): void {}
}
