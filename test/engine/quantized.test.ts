import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import { quantizationSchema } from '../../src/model/manifest.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { u8s8MaySaturate } from '../../src/model/onnx/cpu-int8.ts';
import { assertEveryModeFinished, collect, MIXED } from '../helpers/engine-fixtures.ts';
import { copyOfSharedCheckpoint } from '../helpers/shared-checkpoint.ts';

// The quantized graphs are built into private copies: shared checkpoints stay read-only.
const root = mkdtempSync(join(tmpdir(), 'reverie-quant-engine-'));
after(() => rmSync(root, { recursive: true, force: true }));
const privateTiny = (seed: number) =>
  copyOfSharedCheckpoint(join(root, `tiny-${seed}`), { seed, latent: true, name: 'tiny' });

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
      engine = createEngine({ checkpointDirs: [await privateTiny(1)], threads: 1, quantization });
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

    it('concurrent requests of mixed modes all finish with their choices', async () => {
      // A row's quantization does not depend on its batch (quant-graph.test.ts bounds the effect);
      // bitwise equality with the requests run alone is not asserted: float kernels round
      // differently for other batch shapes, an int8 code on a rounding boundary can flip, and a
      // near-tie (a superposed draft's ranking) can then go the other way.
      const runs = await Promise.all(
        MIXED.map(([name, text, params], i) => collect(engine, `mixed-${i}-${name}`, text, params)),
      );
      assertEveryModeFinished(new Map(MIXED.map(([name], i) => [name, runs[i]!])));
    });
  });
}

describe('which graph serve picks', () => {
  it("the manifest's quantization, unless --quantization overrides it", async () => {
    const dir = await privateTiny(2);
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
