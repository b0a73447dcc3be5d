/**
 * `npm test`'s summary (scripts/test.ts): each runner's pass/fail counts read from its output, so
 * the figures per runtime count the same thing, leaf tests.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { countResults } from "../scripts/test.ts";

test("deno: groups are taken out of the top-level count and their steps put in; output blocks are no groups", () => {
  const output = [
    "running 3 tests from ./tests/a.test.ts",
    "tcp mode, end to end ...",
    "  round robin ... ok (5ms)",
    "  half-close ... FAILED (10ms)",
    "tcp mode, end to end ... FAILED (due to 1 failed step) (20ms)",
    "http mode ...",
    "  one ... ok (1ms)",
    "  two ... ok (1ms)",
    "http mode ... ok (3ms)",
    "a test that prints ...",
    "------- output -------",
    "hello",
    "----- output end -----",
    "a test that prints ... ok (1ms)",
    "plain ... ok (1ms)",
    "",
    "FAILED | 3 passed (3 steps) | 1 failed (1 step) (1s)",
  ].join("\n");
  assert.deepEqual(countResults("deno", output), { passed: 5, failed: 1 });
  assert.deepEqual(countResults("deno", "plain ... ok (1ms)\n\nok | 1 passed | 0 failed (1s)"), { passed: 1, failed: 0 });
});

test("node and bun: their own leaf counts, the last summary wins", () => {
  assert.deepEqual(countResults("node", "ℹ pass 3\nℹ fail 0\nℹ pass 7\nℹ fail 1\n"), { passed: 7, failed: 1 });
  assert.deepEqual(countResults("bun", " 975 pass\n 2 fail\n"), { passed: 975, failed: 2 });
});
