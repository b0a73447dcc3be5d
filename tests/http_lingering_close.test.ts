/**
 * The bounds of a lingering close (src/http/lingering_close.ts), with times given by the test:
 * the idle wait between reads, the total time, the bytes dropped.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  LINGER_IDLE_MS,
  LINGER_MAX_BYTES,
  LINGER_MAX_MS,
  LINGER_OVER,
  LingeringClose,
} from "../src/http/lingering_close.ts";

test("lingering close: waits timeout client between reads, else the idle default", () => {
  const linger = new LingeringClose();
  assert.equal(linger.begin(1_000, 2_000), 2_000);
  assert.equal(linger.drained(100, 1_500), 2_000, "each read gives the client another timeout client");
  assert.equal(linger.begin(1_000, 0), LINGER_IDLE_MS, "timeout client unset");
  assert.equal(linger.bytes, 0, "begin starts the count again");
  // A timeout client longer than the whole lingering is cut to it.
  assert.equal(linger.begin(0, 10 * LINGER_MAX_MS), LINGER_MAX_MS);
});

test("lingering close: never longer than LINGER_MAX_MS in all, however the client keeps sending", () => {
  const linger = new LingeringClose();
  const start = 50_000;
  linger.begin(start, 2_000);
  let now = start;
  while (now + 1_000 <= start + LINGER_MAX_MS - 2_000) {
    now += 1_000;
    assert.equal(linger.drained(10, now), 2_000);
  }
  // Less than an idle wait is left: the deadline is the end of the lingering.
  assert.equal(linger.drained(10, start + LINGER_MAX_MS - 500), 500);
  assert.equal(linger.drained(10, start + LINGER_MAX_MS), LINGER_OVER);
});

test("lingering close: never more than LINGER_MAX_BYTES dropped", () => {
  const linger = new LingeringClose();
  linger.begin(0, 0);
  assert.equal(linger.drained(LINGER_MAX_BYTES - 1, 1), LINGER_IDLE_MS);
  assert.equal(linger.drained(1, 2), LINGER_IDLE_MS, "exactly the bound is still drained");
  assert.equal(linger.drained(1, 3), LINGER_OVER);
  assert.equal(linger.bytes, LINGER_MAX_BYTES + 1);
});
