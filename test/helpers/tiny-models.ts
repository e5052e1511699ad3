import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureGraph } from '../../src/model/graph-cache.ts';
import { type ModelConfig, parseModelConfig } from '../../src/model/hf-config.ts';
import type { QuantSpec } from '../../src/model/quantization.ts';
import { ModelRunner, type RunnerOptions } from '../../src/model/runner.ts';
import type { Tensor } from '../../src/model/safetensors.ts';
import { type TestModelOptions, writeRandomModel } from '../../src/model/test-model.ts';
import { readAllWeights } from '../../src/model/weight-source.ts';

/** Where tests keep the small models they generate (git-ignored, rebuilt when missing). */
export const TEST_MODELS_DIR = join(import.meta.dirname, '..', '.models');

export interface TinyModel {
  dir: string;
  cfg: ModelConfig;
  weights: Map<string, Tensor>;
  runner: ModelRunner;
  embeddingRms: number;
  /** The converted graph the runner opened. */
  modelPath: string;
}

/** Writes (deterministically) and converts a random model, then opens a runner on it. */
export async function openTinyModel(
  name: string,
  options: TestModelOptions = {},
  quantization: QuantSpec | null = null,
  runnerOptions: RunnerOptions = {},
): Promise<TinyModel> {
  const dir = join(TEST_MODELS_DIR, name);
  mkdirSync(dir, { recursive: true });
  writeRandomModel(dir, options);
  const cfg = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const weightFiles = [join(dir, 'model.safetensors')];
  const graph = await ensureGraph(dir, cfg, weightFiles, { quantization });
  const runner = await ModelRunner.open(graph.modelPath, cfg, { threads: 1, ...runnerOptions });
  return {
    dir,
    cfg,
    weights: readAllWeights(weightFiles),
    runner,
    embeddingRms: graph.embeddingRms,
    modelPath: graph.modelPath,
  };
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
