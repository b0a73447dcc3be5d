import { test } from "node:test";
import assert from "node:assert/strict";
import { formatStatsJson } from "../src/stats/json.ts";
import { mergeSnapshots } from "../src/stats/merge.ts";
import { makeSnapshot } from "./helpers/stats_fixture.ts";

test(";json is the snapshot itself, every field kept", () => {
  const snapshot = makeSnapshot();
  const text = formatStatsJson(snapshot);
  assert.ok(text.endsWith("}\n"));
  assert.deepEqual(JSON.parse(text), snapshot);
  const parsed = JSON.parse(text);
  assert.equal(parsed.backends[0].servers[1].check.status, "L4CON");
  assert.equal(parsed.frontends[0].responses["5xx"], snapshot.frontends[0]!.responses["5xx"]);
  assert.equal(parsed.info.pid, 4242);
});

test("a worker's ;json read back merges like the snapshot it came from", () => {
  const snapshot = makeSnapshot();
  const fromJson = JSON.parse(formatStatsJson(snapshot));
  assert.deepEqual(mergeSnapshots([fromJson, fromJson]), mergeSnapshots([snapshot, snapshot]));
});
