import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import { resolveMaxModelLen } from '../../src/engine/model-len.ts';
import { parseModelConfig } from '../../src/model/hf-config.ts';
import { kvBytesPerPosition } from '../../src/model/kv-store.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { hfConfig, QWEN15B_SHAPE, TINY } from '../../src/model/test-model.ts';
import { writeHfModel } from '../helpers/hf-models.ts';

/** Long-context models (32k–128k positions) and sliding windows: what max_model_len becomes. */

/** The ONNX runner's KV geometry at float32. */
const kvOf = (cfg: Parameters<typeof kvBytesPerPosition>[0]) => ({
  bytesPerPosition: kvBytesPerPosition(cfg),
  blockSize: 16,
});

describe('max model length', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-model-len-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("defaults to the model's positions, capped at what the KV budget holds for one sequence", () => {
    // R1-Distill-Qwen-1.5B's shape: 28 layers × 2 KV heads × 128 → 57,344 B of KV per position.
    const cfg = parseModelConfig(hfConfig(QWEN15B_SHAPE));
    assert.equal(cfg.maxPositions, 131_072);
    assert.equal(kvBytesPerPosition(cfg), 57_344);
    const twoGiB = 2 * 1024 ** 3;
    assert.equal(
      resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: twoGiB, budgetCapBytes: 0 }),
      37_440,
      'a 2 GiB budget holds 37,449 positions',
    );
    assert.equal(
      resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: 16 * twoGiB, budgetCapBytes: 0 }),
      131_072,
    );
    // No budget configured: the most a derived budget may take (a share of free memory) caps it.
    assert.equal(resolveMaxModelLen(cfg, kvOf(cfg), { budgetCapBytes: twoGiB }), 37_440);
    assert.equal(resolveMaxModelLen(cfg, kvOf(cfg), { budgetCapBytes: 16 * twoGiB }), 131_072);
    assert.equal(
      resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: twoGiB, budgetCapBytes: 0, maxModelLen: 4096 }),
      4096,
    );
    assert.equal(
      resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: twoGiB, budgetCapBytes: 0, maxModelLen: 200_000 }),
      131_072,
    );
  });

  it('refuses a model whose sliding window is shorter than the length it would serve, naming the fix', () => {
    const cfg = parseModelConfig(
      hfConfig({ ...TINY, architecture: 'MistralForCausalLM', slidingWindow: 256, maxPositions: 4096 }),
    );
    assert.throws(
      () => resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: 2 ** 30, budgetCapBytes: 0 }),
      /sliding_window 256.*--max-model-len 256/,
    );
    assert.equal(
      resolveMaxModelLen(cfg, kvOf(cfg), { kvBudgetBytes: 2 ** 30, budgetCapBytes: 0, maxModelLen: 256 }),
      256,
    );
    // Qwen configs name a window that is off unless use_sliding_window is true.
    const qwen = parseModelConfig({
      ...hfConfig({ ...TINY, architecture: 'Qwen2ForCausalLM' }),
      sliding_window: 64,
    });
    assert.equal(qwen.slidingWindow, null);
  });

  it('a 131072-position Llama 3.1 model loads and serves, with max_model_len from the budget', async () => {
    const dir = join(root, 'llama3');
    await writeHfModel(dir, 'llama3');
    await writeManifest(dir);
    // 512 B of KV per position: a 4 MiB budget holds 8192.
    const engine = createEngine({ checkpointDirs: [dir], threads: 1, kvBudgetBytes: 4 * 1024 ** 2 });
    try {
      await engine.ready();
      const model = engine.models[0]!;
      assert.equal(model.maxModelLen, 8192);
      const events = [];
      for await (const ev of engine.generate({
        id: 'long',
        model: model.name,
        prompt: model.tokenizer.encode('Hello', { specialTokens: true }),
        startsInThinking: false,
        params: { temperature: 0, max_tokens: 3, ignore_eos: true },
      }))
        events.push(ev);
      assert.equal(events.at(-1)?.type, 'done');
      assert.throws(
        () =>
          engine.generate({
            id: 'too-long',
            model: model.name,
            prompt: [1, 2, 3],
            startsInThinking: false,
            params: { max_tokens: 9000 },
          }),
        /of the model's 8192 positions/,
      );
    } finally {
      await engine.close();
    }
  });

  it('an engine refuses to serve a windowed Mistral past its window', async () => {
    const dir = join(root, 'mistral');
    await writeHfModel(dir, 'mistral', { config: { sliding_window: 128 } });
    await writeManifest(dir);
    const engine = createEngine({ checkpointDirs: [dir], threads: 1 });
    await assert.rejects(
      engine.ready(),
      /MistralForCausalLM uses sliding-window attention \(sliding_window 128\)/,
    );
    engine.destroy();
    const capped = createEngine({ checkpointDirs: [dir], threads: 1, maxModelLen: 128 });
    try {
      await capped.ready();
      assert.equal(capped.models[0]!.maxModelLen, 128);
    } finally {
      await capped.close();
    }
  });
});
