import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TokenLogprob } from '../../src/decoding/types.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import { loadCheckpoint, readWeights } from '../../src/model/checkpoint.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import { type Family, writeHfModel } from '../helpers/hf-models.ts';

/**
 * What the engine serves for each architecture (one worker serving all five checkpoints, bf16
 * weights, real vocabularies): greedy tokens and their logprobs against the float64 reference
 * forward over the same prompt and the tokens served.
 */

const FAMILIES: Family[] = ['qwen3', 'r1-qwen', 'llama3', 'r1-llama', 'mistral'];

describe('served greedy tokens and logprobs vs the float64 reference, every architecture', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-served-'));
  let engine: Engine;
  before(async () => {
    for (const f of FAMILIES) {
      await writeHfModel(join(root, f), f, { seed: 21 });
      await writeManifest(join(root, f));
    }
    engine = createEngine({ checkpointDirs: FAMILIES.map((f) => join(root, f)), threads: 1 });
    await engine.ready();
  });
  after(async () => {
    await engine?.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const family of FAMILIES) {
    it(family, async () => {
      const model = engine.models.find((m) => m.name === family)!;
      const prompt = model.tokenizer.encode('The capital of France is', { specialTokens: true });
      const start = model.manifest.thinking ? model.tokenizer.idOf(model.manifest.thinking.start)! : null;
      // The model's own <think> is banned so that every fed input is a served token.
      const logitBias = start === null ? {} : { [start]: -100 };
      const served: TokenLogprob[] = [];
      for await (const ev of engine.generate({
        id: `greedy-${family}`,
        model: family,
        prompt,
        startsInThinking: false,
        params: {
          temperature: 0,
          max_tokens: 6,
          ignore_eos: true,
          logprobs: true,
          top_logprobs: 2,
          logit_bias: logitBias,
        },
      })) {
        if (ev.type === 'content' && ev.logprobs) served.push(...ev.logprobs);
        if (ev.type === 'error') throw ev.error;
      }
      assert.equal(served.length, 6);

      const cp = await loadCheckpoint(join(root, family));
      const ids = [...prompt, ...served.map((s) => s.id)];
      const ref = referenceForward(
        cp.config,
        readWeights(cp),
        ids.slice(0, -1).map((id) => ({ ids: [id], weights: [1] })),
      );
      const limit = Math.min(model.tokenizer.vocabSize, cp.config.vocabSize);
      served.forEach((s, i) => {
        const logits = Array.from(ref.logits[prompt.length - 1 + i]!.subarray(0, limit));
        if (start !== null) logits[start]! -= 100;
        let best = 0;
        for (let id = 1; id < limit; id++) if (logits[id]! > logits[best]!) best = id;
        const max = logits[best]!;
        let second = Number.NEGATIVE_INFINITY;
        let sum = 0;
        for (let id = 0; id < limit; id++) {
          sum += Math.exp(logits[id]! - max);
          if (id !== best && logits[id]! > second) second = logits[id]!;
        }
        const lse = max + Math.log(sum);
        if (max - second > 1e-3) assert.equal(s.id, best, `token ${i} is the reference argmax`);
        assert.ok(
          Math.abs(s.logprob - (logits[s.id]! - lse)) < 1e-3,
          `logprob ${i}: ${s.logprob} vs ${logits[s.id]! - lse}`,
        );
        assert.ok(Math.abs(s.top_logprobs[1]!.logprob - (second - lse)) < 1e-3, `runner-up logprob ${i}`);
      });
    });
  }
});
