import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import { quantizationSchema } from '../../src/model/manifest.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { u8s8MaySaturate } from '../../src/model/onnx/cpu-int8.ts';
import {
  assertEveryModeFinished,
  assertSameEvents,
  collect,
  MIXED,
  tinyCheckpoint,
} from '../helpers/engine-fixtures.ts';

/**
 * Every decoding mode on quantized graphs, through the engine as served: discrete (greedy,
 * sampled n = 2, stop strings, logprobs), hard, soft, fuzzy and latent thinking, and superposed
 * decoding. Soft and fuzzy mixtures and latent inputs read the quantized embedding.
 */
for (const quantization of ['int8', 'int4'] as const) {
  describe(`engine on ${quantization} weights (worker thread, real tiny model)`, () => {
    let engine: Engine;
    const alone = new Map<string, unknown[]>();
    before(async () => {
      engine = createEngine({ checkpointDirs: [await tinyCheckpoint()], threads: 1, quantization });
      await engine.ready();
      for (const [name, text, params] of MIXED)
        alone.set(name, await collect(engine, `alone-${name}`, text, params));
    });
    after(async () => {
      await engine.close();
    });

    it('serves the quantized graph and says so', () => {
      assert.equal(engine.models[0]!.quantization, quantization);
    });

    it('every mode produces output and finishes', () => {
      assertEveryModeFinished(alone);
    });

    it('concurrent requests of mixed modes give the same outputs as one at a time', async () => {
      // Activations are quantized per row (int8) or per block of a row (int4): a row's result
      // does not depend on what else is in the batch.
      const runs = await Promise.all(
        MIXED.map(([name, text, params], i) => collect(engine, `mixed-${i}-${name}`, text, params)),
      );
      runs.forEach((events, i) => {
        assertSameEvents(events, alone.get(MIXED[i]![0]));
      });
    });
  });
}

describe('which graph serve picks', () => {
  it("the manifest's quantization, unless --quantization overrides it", async () => {
    const dir = await tinyCheckpoint(2);
    await writeManifest(dir, dir, { quantization: quantizationSchema.parse({ weights: 'int4' }) });
    const u8 = u8s8MaySaturate() ? '-u8u8' : ''; // int8 weights' layout on this CPU (cpu-int8.ts)
    for (const [override, expected, file] of [
      [undefined, 'int4', `model.int4${u8}.onnx`],
      ['none', 'none', 'model.onnx'],
      ['int8', 'int8', `model.int8${u8}.onnx`],
    ] as const) {
      const engine = createEngine({ checkpointDirs: [dir], threads: 1, quantization: override });
      await engine.ready();
      assert.equal(engine.models[0]!.quantization, expected);
      assert.ok(existsSync(join(dir, file)), file);
      await engine.close();
    }
  });
});
