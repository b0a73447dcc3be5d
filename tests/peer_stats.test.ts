import { test } from "node:test";
import assert from "node:assert/strict";
import { PEER_STATS_MAX_AGE_MS, PeerStats } from "../src/engine/peer_stats.ts";
import { makeSnapshot } from "./helpers/stats_fixture.ts";
import type { StatsSnapshot } from "../src/stats/snapshot.ts";

test("a worker merges its own snapshot with its fresh peers', in worker order, and forgets silent ones", () => {
  const peers = new PeerStats(1);
  const own = makeSnapshot();
  assert.equal(peers.merged(own, 0), own, "alone: its own snapshot");
  peers.received(3, makeSnapshot(), 1_000);
  peers.received(2, makeSnapshot(), 1_500);
  peers.received(1, makeSnapshot(), 1_500);
  assert.equal(peers.fresh(1_600).length, 2, "its own number is never a peer");
  const merged = peers.merged(own, 1_600);
  assert.equal(merged.info.processes, own.info.processes * 3);
  assert.equal(merged.frontends[0]!.sessionsTotal, own.frontends[0]!.sessionsTotal * 3);
  // Worker 3 spoke last at 1 000: past the age limit it is left out.
  assert.equal(peers.fresh(1_000 + PEER_STATS_MAX_AGE_MS + 1).length, 1);
  assert.equal(peers.merged(own, 1_500 + PEER_STATS_MAX_AGE_MS + 1), own);
});

test("a peer snapshot that cannot be merged leaves the worker's own figures", () => {
  const peers = new PeerStats(1);
  peers.received(2, { info: {}, frontends: [{}], backends: [{ servers: null }] } as unknown as StatsSnapshot, 0);
  const own = makeSnapshot();
  assert.equal(peers.merged(own, 10), own);
});
