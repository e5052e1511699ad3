import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RowStep, rowHidden, rowLogits, type StepPlan, type StepResult } from '../../src/model/batch.ts';
import { DeviceUnavailableError, explainProviderFailure } from '../../src/model/execution-provider.ts';
import { ModelRunner } from '../../src/model/runner.ts';
import { maxAbsDiff, openTinyModel, type TinyModel } from '../helpers/tiny-models.ts';
import { tokens } from './runner-conformance.ts';

/**
 * The device-resident KV path (resident-kv.ts), checked on the CPU with host tensors: the same
 * plans through a runner that keeps the whole cache between decode steps and through the ordinary
 * one give the same logits, hidden states and KV lengths, through batches that stay, shrink, grow
 * and mix prefill with decode; the cache stays resident only while the decode batch is unchanged.
 * On a GPU machine the same code keeps `gpu-buffer` tensors instead (scripts/gpu-check.sh).
 */

const row = (seq: number, ids: number[]): RowStep => ({
  seq,
  count: ids.length,
  bagSize: 1,
  ids: Int32Array.from(ids),
});
const bag = (seq: number): RowStep => ({
  seq,
  count: 1,
  bagSize: 3,
  ids: Int32Array.of(10 + seq, 50, 120),
  weights: Float32Array.of(0.5, 0.3, 0.2),
});

describe('device-resident KV (host tensors on the CPU)', () => {
  let plain: TinyModel;
  let resident: ModelRunner;

  before(async () => {
    plain = await openTinyModel('runner');
    resident = await ModelRunner.open(plain.modelPath, plain.cfg, { threads: 1, residentKv: true });
  });
  after(async () => {
    await plain.runner.close();
    await resident.close();
  });

  /** Runs `plan` through both runners and checks they agree. */
  async function both(plan: StepPlan, expectResident: boolean): Promise<StepResult> {
    const a = await plain.runner.step(plan);
    const b = await resident.step(plan);
    assert.equal(
      resident.kvResident,
      expectResident,
      `resident after ${JSON.stringify(plan.rows.map((r) => [r.seq, r.count]))}`,
    );
    assert.deepEqual([...b.offsets], [...a.offsets]);
    for (let i = 0; i < a.logits.length / a.vocabSize; i++) {
      assert.ok(maxAbsDiff(rowLogits(b, i), rowLogits(a, i)) < 1e-5, `logits of output ${i}`);
      assert.ok(maxAbsDiff(rowHidden(b, i), rowHidden(a, i)) < 1e-5, `hidden of output ${i}`);
    }
    for (const r of plan.rows)
      assert.equal(resident.kvLength(r.seq), plain.runner.kvLength(r.seq), `kv length of ${r.seq}`);
    return b;
  }

  it('keeps a decode batch resident and settles when the batch changes, agreeing step by step', async () => {
    // Prompts of different lengths: the device tensor has holes between each row's host and device positions.
    await both({ rows: [row(1, tokens(5, 1)), row(2, tokens(9, 2)), row(3, tokens(13, 3))] }, false);
    for (let step = 0; step < 6; step++)
      await both({ rows: [row(1, [step + 1]), row(2, [step + 2]), bag(3)] }, true);
    assert.equal(resident.kvLength(3), 19);
    // Sequence 2 ends: settle (download), free, then the remaining decode batch becomes resident again.
    await both({ frees: [2], rows: [row(1, [7]), row(3, [8])] }, true);
    assert.equal(resident.kvLength(2), 0);
    await both({ rows: [row(1, [9]), row(3, [10])] }, true);
    // A new request's prefill joins: an ordinary step (prefill chunks never run on the resident cache).
    await both({ rows: [row(1, [11]), row(4, tokens(7, 4)), row(3, [12])] }, false);
    for (let step = 0; step < 3; step++)
      await both({ rows: [row(1, [13]), row(4, [14]), row(3, [15])] }, true);
    // Rows in another order are another batch.
    await both({ rows: [row(3, [16]), row(1, [17]), row(4, [18])] }, true);
    // A copy out of a resident sequence (n > 1 samples, a prefix-cache fork) reads settled KV.
    await both({ copies: [{ from: 1, to: 5, length: 16 }], rows: [row(5, [19])] }, true);
    assert.equal(resident.kvLength(1), plain.runner.kvLength(1));
    const held = resident.kvBytes();
    assert.ok(held > 0);
    await both({ frees: [1, 3, 4, 5], rows: [] }, false);
    assert.equal(resident.kvBytes(), 0, 'everything freed: no KV on the host or the device');
  });
});

describe('execution providers', () => {
  it('explains a WebGPU provider that cannot start and says what to do', () => {
    const err = explainProviderFailure(
      'webgpu',
      new Error(
        '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 ... Failed to get a WebGPU adapter: No supported adapters',
      ),
    );
    assert.ok(err instanceof DeviceUnavailableError);
    assert.match(
      err.message,
      /--device webgpu: .*could not start \(Failed to get a WebGPU adapter: No supported adapters\)/,
    );
    assert.match(err.message, /--device cpu, or --device auto/);
    assert.equal(
      explainProviderFailure('webgpu', new Error('Load model failed: invalid graph')),
      null,
      'not a provider failure',
    );
  });

  it('--device webgpu fails with that message where no GPU adapter exists; auto falls back to the CPU', async () => {
    const m = await openTinyModel('runner');
    await m.runner.close();
    let webgpu: ModelRunner | null = null;
    try {
      webgpu = await ModelRunner.open(m.modelPath, m.cfg, { threads: 1, device: 'webgpu' });
    } catch (err) {
      assert.ok(err instanceof DeviceUnavailableError, String(err));
      assert.match(err.message, /--device webgpu: onnxruntime's WebGPU provider could not start/);
    }
    const auto = await ModelRunner.open(m.modelPath, m.cfg, { threads: 1, device: 'auto' });
    try {
      if (webgpu) {
        // A machine with a GPU: both run there, with the cache resident.
        assert.equal(webgpu.device, 'webgpu');
        assert.equal(auto.device, 'webgpu');
      } else {
        assert.equal(auto.device, 'cpu');
        assert.match(auto.deviceFallback ?? '', /WebGPU provider could not start/);
        const r = await auto.step({ rows: [row(1, tokens(4, 9))] });
        assert.equal(r.offsets.length, 1, 'the fallback session serves');
      }
    } finally {
      await webgpu?.close();
      await auto.close();
    }
  });
});
