/**
 * `leastconn`: the server with the fewest connections for its weight.
 *
 * @module
 */

import type { Server } from "../server.ts";
import type { BalanceAlgorithmName, BalanceContext, Balancer } from "./types.ts";

/**
 * Whether `a` is less loaded than `b` for its weight. The load is HAProxy's fwlc key: 0 for an
 * idle server, else (connections + queued + 1) / weight, i.e. the load the server would have with one more
 * connection, so a heavier server takes more of a busy farm's connections. Compared by
 * cross-multiplication to stay exact.
 */
function isLessLoaded(a: Server, b: Server): boolean {
  const loadA = a.activeConnections + a.queue.length;
  const loadB = b.activeConnections + b.queue.length;
  if (loadA === 0) return loadB !== 0;
  if (loadB === 0) return false;
  return (loadA + 1) * b.weight < (loadB + 1) * a.weight;
}

/**
 * A server leastconn may pick: available, or, with an explicit `maxqueue`, full but with room in
 * its own queue (HAProxy: leastconn then queues on the least loaded server, which smooths the load
 * with single-digit maxconn values).
 */
function isCandidate(server: Server): boolean {
  if (server.isAvailable()) return true;
  return server.maxqueue > 0 && server.isUsable() && server.queueHasRoom();
}

/**
 * Picks the available server with the lowest load for its weight. Equally loaded servers take
 * turns: each scan starts just after the previous pick, as HAProxy requeues a server behind its
 * equals, so idle servers share new connections instead of the first one taking them all.
 */
export class LeastConnectionsBalancer implements Balancer {
  readonly algorithm: BalanceAlgorithmName = "leastconn";
  readonly dynamicWeights = true;
  readonly #servers: readonly Server[];
  #start = 0;

  constructor(servers: readonly Server[]) {
    this.#servers = servers;
  }

  pick(_context: BalanceContext, avoid: Server | null): Server | null {
    const servers = this.#servers;
    const count = servers.length;
    let best: Server | null = null;
    let bestPosition = 0;
    let position = this.#start;
    for (let step = 0; step < count; step++) {
      if (position >= count) position = 0;
      const server = servers[position];
      if (server !== avoid && isCandidate(server) && (best === null || isLessLoaded(server, best))) {
        best = server;
        bestPosition = position;
      }
      position++;
    }
    if (best === null) return avoid !== null && isCandidate(avoid) ? avoid : null;
    this.#start = bestPosition + 1;
    return best;
  }

  /** Nothing to do: every pick reads the live counters. */
  update(): void {}
}
