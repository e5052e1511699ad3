import type { BagInput } from './types.ts';

/** The input of a discrete token: one id with weight 1. */
export function oneHot(id: number): BagInput {
  return { ids: Int32Array.of(id), weights: Float32Array.of(1) };
}

/** A bag owning copies of ids[0..count) and weights[0..count). */
export function bagOf(ids: ArrayLike<number>, weights: ArrayLike<number>, count: number): BagInput {
  const bag = { ids: new Int32Array(count), weights: new Float32Array(count) };
  for (let j = 0; j < count; j++) {
    bag.ids[j] = ids[j];
    bag.weights[j] = weights[j];
  }
  return bag;
}
