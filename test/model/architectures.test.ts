import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rowLogits } from '../../src/model/batch.ts';
import { loadCheckpoint, readWeights } from '../../src/model/checkpoint.ts';
import { CheckpointError } from '../../src/model/checkpoint-error.ts';
import { ensureGraph } from '../../src/model/graph-cache.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { type ReferenceInput, referenceForward } from '../../src/model/reference-forward.ts';
import { ModelRunner } from '../../src/model/runner.ts';
import { type Family, writeHfModel } from '../helpers/hf-models.ts';
import { maxAbsDiff } from '../helpers/tiny-models.ts';

/**
 * Every supported architecture, laid out as its real checkpoints are (bf16 safetensors, real
 * tokenizers, one model sharded): the converted ONNX graph against the independent float64
 * reference forward, prompt chunk then KV-cached decode steps, and a soft bag fed both through the
 * gather and through the dense p·E path.
 */

const root = mkdtempSync(join(tmpdir(), 'reverie-arch-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CASES: [Family, Parameters<typeof writeHfModel>[2]][] = [
  ['qwen3', { shards: 2 }],
  ['r1-qwen', {}],
  ['llama3', {}],
  ['r1-llama', { model: { attentionBias: true, mlpBias: true } }],
  ['mistral', { dtype: 'F16' }],
];

/** Token ids valid in every vocabulary used here. */
const TOKENS = [5, 17, 200, 33, 99, 12, 7, 250, 3, 64, 128, 1, 19, 77, 140, 255, 90, 45, 8, 60];

describe('architectures: converted graph vs float64 reference', () => {
  for (const [family, options] of CASES) {
    it(`${family}: every logit within 1e-4 through prefill, decode and a dense bag`, async () => {
      const dir = join(root, family);
      await writeHfModel(dir, family, options);
      await writeManifest(dir);
      const cp = await loadCheckpoint(dir);
      const graph = await ensureGraph(cp.dir, cp.config, cp.weightFiles);
      const weights = readWeights(cp);
      const sparse = await ModelRunner.open(graph.modelPath, cp.config, { threads: 1 });
      // Same graph, every bag of 2+ ids through the dense input.
      const dense = await ModelRunner.open(graph.modelPath, cp.config, { threads: 1, denseFrom: 2 });
      try {
        const bag = { ids: [3, 99, 250, 17, 201], weights: [0.4, 0.3, 0.15, 0.1, 0.05] };
        const inputs: ReferenceInput[] = [...TOKENS.map((id) => ({ ids: [id], weights: [1] })), bag];
        const ref = referenceForward(cp.config, weights, inputs);
        const prefill = 11;
        let worst = 0;
        for (const runner of [sparse, dense]) {
          const first = await runner.step({
            rows: [
              {
                seq: 1,
                count: prefill,
                bagSize: 1,
                ids: Int32Array.from(TOKENS.slice(0, prefill)),
                allPositions: true,
              },
            ],
          });
          for (let t = 0; t < prefill; t++)
            worst = Math.max(worst, maxAbsDiff(rowLogits(first, t), ref.logits[t]!));
          for (let t = prefill; t < TOKENS.length; t++) {
            const r = await runner.step({
              rows: [{ seq: 1, count: 1, bagSize: 1, ids: Int32Array.of(TOKENS[t]!) }],
            });
            worst = Math.max(worst, maxAbsDiff(rowLogits(r, 0), ref.logits[t]!));
          }
          const last = await runner.step({
            rows: [
              {
                seq: 1,
                count: 1,
                bagSize: bag.ids.length,
                ids: Int32Array.from(bag.ids),
                weights: Float32Array.from(bag.weights),
              },
            ],
          });
          worst = Math.max(worst, maxAbsDiff(rowLogits(last, 0), ref.logits[TOKENS.length]!));
          assert.ok(
            maxAbsDiff(last.hidden, ref.hidden[TOKENS.length]!) < 1e-4,
            'hidden state of the bag position',
          );
          await runner.step({ frees: [1], rows: [] });
        }
        assert.ok(worst < 1e-4, `max |logit diff| ${worst}`);
        assert.equal(cp.config.vocabSize, ref.logits[0]!.length);
      } finally {
        await sparse.close();
        await dense.close();
      }
    });
  }

  it('qwen3: head_dim 32 ≠ hidden 64 / 4 heads, q/k norms, a vocabulary padded past the tokenizer', async () => {
    const cp = await loadCheckpoint(join(root, 'qwen3'));
    assert.equal(cp.config.headDim, 32);
    assert.equal(cp.config.hiddenSize / cp.config.numHeads, 16);
    assert.ok(cp.config.qkNorm);
    assert.equal(cp.config.vocabSize, 151_936);
    assert.deepEqual(cp.generation.eosTokenIds, [151645, 151643]);
    assert.deepEqual(cp.weightFiles.length, 2, 'sharded');
  });

  it("the graph stores no table sized by the context: a 131072-position model's graph is its weights", async () => {
    const cp = await loadCheckpoint(join(root, 'llama3'));
    assert.equal(cp.config.maxPositions, 131_072);
    const graph = await ensureGraph(cp.dir, cp.config, cp.weightFiles);
    const weightBytes = cp.weightFiles.reduce((n, f) => n + statSync(f).size, 0) * 2; // bf16 → fp32
    const dataBytes = statSync(`${graph.modelPath}.data`).size;
    assert.ok(
      dataBytes < weightBytes * 1.01,
      `${dataBytes} B of graph data for ${weightBytes} B of fp32 weights`,
    );
  });

  it('refuses an architecture it cannot run, naming the supported ones', async () => {
    const dir = join(root, 'gemma');
    await writeHfModel(dir, 'mistral', { config: { architectures: ['Gemma2ForCausalLM'] } });
    await assert.rejects(writeManifest(dir), (e: unknown) => {
      assert.ok(e instanceof CheckpointError && e.code === 'unsupported_architecture');
      assert.match(
        (e as Error).message,
        /Gemma2ForCausalLM \(supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM\)/,
      );
      return true;
    });
  });
});
