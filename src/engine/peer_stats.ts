/**
 * The other workers' counters, for a -W worker whose stats page or metrics must describe the whole
 * proxy: each worker sends its snapshot to the master every {@link STATS_SHARE_INTERVAL_MS}, the
 * master passes it to the other workers of the same generation, and a worker answering a stats
 * request merges its own fresh snapshot with the latest of its peers (src/stats/merge.ts).
 *
 * Why pushed and not asked per request: a stats request is answered synchronously like any answer
 * of the proxy's own, so a peer's figures are at most one interval old (plus the master's hop),
 * while the answering worker's own are exact. A peer silent for {@link PEER_STATS_MAX_AGE_MS} (it
 * died, and its replacement has not spoken yet) is left out rather than shown stale. Counters
 * start from zero with each generation, as HAProxy's do on a reload: only peers of the same
 * generation are merged.
 *
 * @module
 */

import type { StatsSnapshot } from "../stats/snapshot.ts";
import { mergeSnapshots } from "../stats/merge.ts";

/** How often a worker sends its snapshot to the master. */
export const STATS_SHARE_INTERVAL_MS = 1_000;
/** A peer's snapshot older than this is left out of the merged view. */
export const PEER_STATS_MAX_AGE_MS = 3 * STATS_SHARE_INTERVAL_MS;

/** The latest snapshot of each peer worker, by worker number. */
export class PeerStats {
  readonly #latest = new Map<number, { readonly snapshot: StatsSnapshot; readonly at: number }>();
  readonly #ownNumber: number;

  /** `ownNumber`: this worker's number (its own snapshot is never a peer's). */
  constructor(ownNumber: number) {
    this.#ownNumber = ownNumber;
  }

  /** A peer's snapshot arrived at `now` (monotonic ms). */
  received(worker: number, snapshot: StatsSnapshot, now: number): void {
    if (worker === this.#ownNumber) return;
    this.#latest.set(worker, { snapshot, at: now });
  }

  /** Peers with a snapshot young enough to show at `now`, in worker order. */
  fresh(now: number): StatsSnapshot[] {
    const peers: Array<[number, StatsSnapshot]> = [];
    for (const [worker, entry] of this.#latest) {
      if (now - entry.at <= PEER_STATS_MAX_AGE_MS) peers.push([worker, entry.snapshot]);
      else this.#latest.delete(worker);
    }
    return peers.sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
  }

  /**
   * The whole proxy: `own` merged with the fresh peers (own first, so its pid and uptime are the
   * answer's). `own` alone when no peer is fresh, or when a peer's snapshot cannot be merged (a
   * worker of another version mid-upgrade): a page with this worker's figures beats no page.
   */
  merged(own: StatsSnapshot, now: number): StatsSnapshot {
    const peers = this.fresh(now);
    if (peers.length === 0) return own;
    try {
      return mergeSnapshots([own, ...peers]);
    } catch {
      return own;
    }
  }
}
