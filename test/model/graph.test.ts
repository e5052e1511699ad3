import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rowLogits } from '../../src/model/batch.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import type { TestModelOptions } from '../../src/model/test-model.ts';
import { maxAbsDiff, openTinyModel, type TinyModel } from '../helpers/tiny-models.ts';

/** The builder's graph against the independent float64 reference, for each supported variant. */
const VARIANTS: [string, TestModelOptions][] = [
  ['llama', {}],
  ['llama-rope-scaling', { ropeScaling: true, maxPositions: 256, seed: 2 }],
  ['llama-untied', { tieEmbeddings: false, seed: 3 }],
  ['qwen2', { architecture: 'Qwen2ForCausalLM', numKvHeads: 1, seed: 4 }],
  [
    'qwen2-untied',
    { architecture: 'Qwen2ForCausalLM', tieEmbeddings: false, headDim: 32, numHeads: 2, seed: 5 },
  ],
  // rope_scaling types (HF / vLLM maths) and the remaining bias and norm layouts.
  [
    'llama-yarn',
    { ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 }, seed: 6 },
  ],
  [
    'qwen2-dynamic',
    { architecture: 'Qwen2ForCausalLM', ropeScaling: { rope_type: 'dynamic', factor: 2 }, seed: 7 },
  ],
  [
    'mistral-linear-attention-bias',
    {
      architecture: 'MistralForCausalLM',
      ropeScaling: { type: 'linear', factor: 2 },
      attentionBias: true,
      seed: 8,
    },
  ],
  [
    'qwen3-yarn-attention-factor-untied',
    {
      architecture: 'Qwen3ForCausalLM',
      tieEmbeddings: false,
      headDim: 32,
      ropeScaling: {
        rope_type: 'yarn',
        factor: 4,
        original_max_position_embeddings: 32,
        attention_factor: 0.8,
      },
      seed: 9,
    },
  ],
];

const TOKENS = [5, 17, 200, 33, 99, 12, 7, 250, 3, 64, 128, 1, 19, 77, 140, 255, 90, 45, 8, 260];

describe('ONNX decoder graph vs float64 reference', () => {
  const opened: TinyModel[] = [];
  after(async () => {
    for (const m of opened) await m.runner.close();
  });

  for (const [name, options] of VARIANTS) {
    it(`${name}: logits of every position within 1e-4 (prefill + decode)`, async () => {
      const m = await openTinyModel(`graph-${name}`, options);
      opened.push(m);
      // Positions past the original context exercise the rope-scaling branch.
      const tokens = name === 'llama-rope-scaling' ? [...TOKENS, ...TOKENS, ...TOKENS, ...TOKENS] : TOKENS;
      const ref = referenceForward(
        m.cfg,
        m.weights,
        tokens.map((id) => ({ ids: [id], weights: [1] })),
      );
      const prefill = 11;
      const first = await m.runner.step({
        rows: [
          {
            seq: 1,
            count: prefill,
            bagSize: 1,
            ids: Int32Array.from(tokens.slice(0, prefill)),
            allPositions: true,
          },
        ],
      });
      let worst = 0;
      for (let t = 0; t < prefill; t++)
        worst = Math.max(worst, maxAbsDiff(rowLogits(first, t), ref.logits[t]!));
      for (let t = prefill; t < tokens.length; t++) {
        const r = await m.runner.step({
          rows: [{ seq: 1, count: 1, bagSize: 1, ids: Int32Array.of(tokens[t]!) }],
        });
        worst = Math.max(worst, maxAbsDiff(rowLogits(r, 0), ref.logits[t]!));
        if (t === tokens.length - 1) {
          assert.ok(maxAbsDiff(r.hidden, ref.hidden[t]!) < 1e-4, 'hidden state of the last position');
        }
      }
      assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
      await m.runner.step({ frees: [1], rows: [] });
    });
  }
});
