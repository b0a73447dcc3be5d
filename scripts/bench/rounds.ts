/**
 * The order of the measurements in each round.
 *
 * Every contender and body is measured once per round, and the order is rotated from round to
 * round so that no contender always runs first or right after another. A variant of a contender
 * ("ours/node+log" with traffic logging, "ours/node+stats" showing its stats) is kept next to the
 * same contender without it, so that the two runs of a pair follow each other and their ratio is
 * taken under the same machine conditions; which of the two goes first alternates from round to
 * round. With two variants of one contender the baseline runs between them, next to each.
 *
 * @module
 */

import type { BenchMode, BodyName } from "./report.ts";
import { variantOf } from "./report.ts";

/** One measurement of a round: a target and the body asked for. */
export type Slot<T> = { target: T; body: BodyName };

/**
 * The slots of a round, grouped: a variant's slot goes with the slot of its baseline (same mode
 * and body) when that is measured too, every other slot stands alone. Groups keep the order of
 * `targets` and, within a target, of its bodies; in a group the baseline comes first, then its
 * variant, and with more variants the baseline moves to the middle: [v2, baseline, v1], so that
 * every variant runs right before or right after it.
 */
export function slotGroups<T extends { contender: string; mode: BenchMode }>(
  targets: readonly T[],
  bodiesOf: (target: T) => readonly BodyName[],
): Slot<T>[][] {
  const groups: Slot<T>[][] = [];
  const pending: Slot<T>[] = [];
  for (const target of targets) {
    for (const body of bodiesOf(target)) {
      if (variantOf(target.contender) === null) groups.push([{ target, body }]);
      else pending.push({ target, body });
    }
  }
  for (const slot of pending) {
    const baseline = variantOf(slot.target.contender)!.baseline;
    const group = groups.find((candidate) =>
      candidate[0]!.target.contender === baseline && candidate[0]!.target.mode === slot.target.mode &&
      candidate[0]!.body === slot.body
    );
    if (group === undefined) groups.push([slot]);
    else group.push(slot);
  }
  return groups.map((group) => {
    if (group.length <= 2) return group;
    const [baseline, ...variants] = group;
    // v1 after the baseline, v2 before it, v3 after v1, v4 before v2...
    const after = variants.filter((_, index) => index % 2 === 0);
    const before = variants.filter((_, index) => index % 2 === 1).reverse();
    return [...before, baseline!, ...after];
  });
}

/**
 * The order of round `round` (0-based) of `rounds`: the groups rotated by an offset that grows with
 * the round, each group in its own order in even rounds and reversed in odd ones.
 */
export function roundOrder<T>(groups: readonly Slot<T>[][], round: number, rounds: number): Slot<T>[] {
  const offset = Math.round((round * groups.length) / rounds);
  const rotated = [...groups.slice(offset), ...groups.slice(0, offset)];
  return rotated.flatMap((group) => round % 2 === 1 ? [...group].reverse() : group);
}
