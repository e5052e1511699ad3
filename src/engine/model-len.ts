import { checkSlidingWindow, type ModelConfig } from '../model/hf-config.ts';
import { KV_BLOCK } from './config.ts';

/** Bytes of KV cache one position takes: keys and values, every layer, float32. */
export function kvBytesPerPosition(cfg: ModelConfig): number {
  return 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim * 4;
}

/**
 * The most positions one sequence may use. Asked for (`--max-model-len`): that, capped at the
 * model's positions. Not asked for: the model's positions, capped at what the KV budget can hold
 * for one sequence, so a 128k-context model is served with a length its cache can actually reach
 * instead of admitting requests the scheduler must then refuse. The budget itself is not changed.
 * @throws UnsupportedModelError when the model needs sliding-window attention within that length
 */
export function resolveMaxModelLen(
  cfg: ModelConfig,
  options: { maxModelLen?: number; kvBudgetBytes: number },
): number {
  const fits = Math.floor(options.kvBudgetBytes / (kvBytesPerPosition(cfg) * KV_BLOCK)) * KV_BLOCK;
  const len = Math.min(options.maxModelLen ?? Math.max(fits, KV_BLOCK), cfg.maxPositions);
  checkSlidingWindow(cfg, len);
  return len;
}
