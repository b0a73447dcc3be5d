/**
 * Private helpers shared by the table-driven balancers (`static-rr` and `source`).
 *
 * @module
 */

/** A weight as a whole, non-negative number: tables hold one slot per unit of weight. */
export function wholeWeight(weight: number): number {
  return weight > 0 ? Math.floor(weight) : 0;
}

function greatestCommonDivisor(a: number, b: number): number {
  while (b !== 0) {
    const remainder = a % b;
    a = b;
    b = remainder;
  }
  return a;
}

/**
 * Positions in `weights` laid out so that each appears in proportion to its weight and as evenly
 * spread as smooth weighted round robin makes it; positions of weight 0 are left out.
 *
 * Weights are divided by their common divisor first, so 100:100 costs two slots, not two hundred.
 */
export function buildWeightedSequence(weights: ArrayLike<number>): Int32Array {
  let divisor = 0;
  for (let position = 0; position < weights.length; position++) {
    const weight = wholeWeight(weights[position]);
    if (weight > 0) divisor = greatestCommonDivisor(weight, divisor);
  }
  if (divisor === 0) return new Int32Array(0);

  const reduced = new Float64Array(weights.length);
  let total = 0;
  for (let position = 0; position < weights.length; position++) {
    reduced[position] = wholeWeight(weights[position]) / divisor;
    total += reduced[position];
  }

  const sequence = new Int32Array(total);
  const scores = new Float64Array(weights.length);
  for (let slot = 0; slot < total; slot++) {
    let best = -1;
    for (let position = 0; position < reduced.length; position++) {
      if (reduced[position] === 0) continue;
      scores[position] += reduced[position];
      if (best < 0 || scores[position] > scores[best]) best = position;
    }
    scores[best] -= total;
    sequence[slot] = best;
  }
  return sequence;
}
