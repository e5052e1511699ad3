import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { embeddingRms } from '../../src/model/graph-cache.ts';
import { readAllWeights } from '../../src/model/weight-source.ts';
import { runAlone, shadowIds, thinkingPrompt, useTinyCheckpoint } from './model-harness.ts';

/** Gaussian exploration noise of soft thinking, measured on the vectors the runner is fed. */

const GAMMA = 0.33;
const STEPS = 300;

const noisy = (seed: number, gamma = GAMMA): DecodingParams => ({
  seed,
  temperature: 0,
  max_tokens: STEPS + 5,
  thinking: { mode: 'soft', max_tokens: STEPS, trace: true, noise: { type: 'gaussian', scale: gamma } },
});

describe('soft-thinking noise on the tiny model', () => {
  const t = useTinyCheckpoint();

  it("the runner's embeddingRms is RMS(E) of the checkpoint's embedding matrix", () => {
    const weights = readAllWeights(t.model.checkpoint.weightFiles);
    const e = weights.get('model.embed_tokens.weight')!.data;
    let s = 0;
    for (const x of e) s += x * x;
    assert.ok(Math.abs(t.ctx.embeddingRms - Math.sqrt(s / e.length)) < 1e-9);
    assert.equal(t.ctx.embeddingRms, embeddingRms(weights));
  });

  it('adds per-coordinate noise with std within 5% of γ·RMS(E), mean ≈ 0', async () => {
    const run = await runAlone(t, {
      params: noisy(7),
      prompt: thinkingPrompt('Think:'),
      startsInThinking: true,
    });
    const adds = run.inputs.slice(0, STEPS).map((b) => b.add);
    assert.equal(adds.length, STEPS);
    const D = t.ctx.hiddenSize;
    // Per-coordinate variance over the steps, pooled over the D coordinates (each vector is D
    // independent draws, so pooling gives STEPS·D samples: ±1.6% standard error at 300 × 64).
    let variance = 0;
    let worstMean = 0;
    for (let d = 0; d < D; d++) {
      let sum = 0;
      let sq = 0;
      for (const a of adds) {
        assert.ok(a && a.length === D, 'every thinking step carries a noise vector of hidden size');
        sum += a[d];
        sq += a[d] * a[d];
      }
      const mean = sum / STEPS;
      variance += (sq / STEPS - mean * mean) / D;
      worstMean = Math.max(worstMean, Math.abs(mean));
    }
    const expected = GAMMA * t.ctx.embeddingRms;
    const std = Math.sqrt(variance);
    assert.ok(Math.abs(std / expected - 1) < 0.05, `std ${std} vs γ·RMS(E) ${expected}`);
    // Each coordinate's mean over 300 draws has standard error σ/√300 ≈ 0.058σ: 5 of them is far.
    assert.ok(worstMean < (5 * expected) / Math.sqrt(STEPS), `coordinate mean ${worstMean}`);
    // The answer's discrete inputs (after the forced </think>) carry none.
    assert.ok(run.inputs.slice(STEPS).every((b) => b.add === undefined));
  });

  it('scales with γ: γ = 0.1 gives a third of the 0.33 std', async () => {
    const prompt = thinkingPrompt('Think:');
    const rms = (gamma: number) =>
      runAlone(t, { params: noisy(3, gamma), prompt, startsInThinking: true }).then((r) => {
        const xs = r.inputs.slice(0, STEPS).flatMap((b) => Array.from(b.add!));
        return Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);
      });
    const [small, large] = [await rms(0.1), await rms(GAMMA)];
    assert.ok(Math.abs(small / (0.1 * t.ctx.embeddingRms) - 1) < 0.05, `γ 0.1: ${small}`);
    assert.ok(Math.abs(large / small / 3.3 - 1) < 0.08, `ratio ${large / small}`);
  });

  it('same seed, same output; another seed, another output', async () => {
    const prompt = thinkingPrompt('Q: 7*6?');
    const run = (seed: number) =>
      runAlone(t, {
        params: { ...noisy(seed), thinking: { ...noisy(seed).thinking, max_tokens: 24 } },
        prompt,
        startsInThinking: true,
      });
    const [a, b, c] = [await run(42), await run(42), await run(43)];
    assert.deepEqual(a.events, b.events);
    assert.deepEqual(
      a.inputs.map((x) => x.add),
      b.inputs.map((x) => x.add),
    );
    assert.notDeepEqual(
      a.inputs.map((x) => x.add),
      c.inputs.map((x) => x.add),
    );
    // The noise reaches the model: different noise changes what it thinks.
    assert.notDeepEqual(shadowIds(a.events), shadowIds(c.events));
  });
});
