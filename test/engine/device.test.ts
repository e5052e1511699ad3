import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import { collect, tinyCheckpoint } from '../helpers/engine-fixtures.ts';

/**
 * `--device` through the engine on a machine without a usable GPU (CI): an explicit WebGPU device
 * that cannot start fails the engine with the reason and the fix; `auto` serves on the CPU and says
 * why. On a GPU machine both serve on WebGPU.
 */
describe('engine devices', () => {
  it('webgpu fails clearly without a GPU adapter; auto falls back to the CPU and says why', async () => {
    const dir = await tinyCheckpoint();
    const webgpu = createEngine({ checkpointDirs: [dir], threads: 1, device: 'webgpu' });
    let gpu = true;
    try {
      await webgpu.ready();
      assert.equal(webgpu.models[0]!.device, 'webgpu');
    } catch (err) {
      gpu = false;
      assert.match((err as Error).message, /--device webgpu: onnxruntime's WebGPU provider could not start/);
      assert.match((err as Error).message, /--device auto/);
    } finally {
      await webgpu.close();
    }
    const auto = createEngine({ checkpointDirs: [dir], threads: 1, device: 'auto' });
    try {
      await auto.ready();
      const m = auto.models[0]!;
      if (gpu) assert.equal(m.device, 'webgpu');
      else {
        assert.equal(m.device, 'cpu');
        assert.match(m.deviceFallback ?? '', /WebGPU provider could not start/);
      }
      const events = await collect(auto, 'auto-1', 'Compute 2+3.', {
        max_tokens: 6,
        temperature: 0,
        ignore_eos: true,
        thinking: { mode: 'off' },
      });
      const done = events.at(-1) as { type: string; usage: { completionTokens: number } };
      assert.equal(done.type, 'done');
      assert.equal(done.usage.completionTokens, 6, 'the fallback engine generated');
      assert.equal(auto.stats().state, 'ready', 'the fallback engine serves');
    } finally {
      await auto.close();
    }
  });
});
