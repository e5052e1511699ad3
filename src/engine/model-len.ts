import { checkSlidingWindow, type ModelConfig } from '../model/hf-config.ts';

/**
 * The most positions one sequence may use (`kv`: the runner's KV geometry). Asked for (`--max-model-len`): that, capped at the
 * model's positions. Not asked for: the model's positions, capped at what the KV cache can hold
 * for one sequence — the configured budget, else the most a derived budget may take
 * (`budgetCapBytes`, a share of the free memory) — so a 128k-context model is served with a
 * length its cache can actually reach instead of admitting requests the scheduler must refuse.
 * @throws UnsupportedModelError when the model needs sliding-window attention within that length
 */
export function resolveMaxModelLen(
  cfg: ModelConfig,
  kv: { bytesPerPosition: number; blockSize: number },
  options: { maxModelLen?: number; kvBudgetBytes?: number; budgetCapBytes: number },
): number {
  const budget = options.kvBudgetBytes ?? options.budgetCapBytes;
  const block = kv.blockSize;
  const fits = Math.floor(budget / (kv.bytesPerPosition * block)) * block;
  const len = Math.min(options.maxModelLen ?? Math.max(fits, block), cfg.maxPositions);
  checkSlidingWindow(cfg, len);
  return len;
}
