import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureGraph } from '../../src/model/graph-cache.ts';
import { parseModelConfig } from '../../src/model/hf-config.ts';
import { u8s8MaySaturate } from '../../src/model/onnx/cpu-int8.ts';
import { openModel } from '../../src/model/open-model.ts';
import { QUANT_DEFAULTS } from '../../src/model/quantization.ts';
import { ModelRunner } from '../../src/model/runner.ts';
import { writeRandomModel } from '../../src/model/test-model.ts';
import { copyOfSharedCheckpoint } from '../helpers/shared-checkpoint.ts';

const run = promisify(execFile);
const graphCache = new URL('../../src/model/graph-cache.ts', import.meta.url).href;
const hfConfig = new URL('../../src/model/hf-config.ts', import.meta.url).href;
const openModelUrl = new URL('../../src/model/open-model.ts', import.meta.url).href;

describe('graph cache', () => {
  it('several processes converting one checkpoint at once all get a complete graph', async () => {
    // Two engines started together on a fresh checkpoint used to race on one temporary file name.
    const dir = mkdtempSync(join(tmpdir(), 'reverie-graph-race-'));
    writeRandomModel(dir, { seed: 3 });
    const script = `
      import { readFileSync } from 'node:fs';
      import { ensureGraph } from '${graphCache}';
      import { parseModelConfig } from '${hfConfig}';
      const dir = ${JSON.stringify(dir)};
      const cfg = parseModelConfig(JSON.parse(readFileSync(dir + '/config.json', 'utf8')));
      const g = await ensureGraph(dir, cfg, [dir + '/model.safetensors']);
      console.log(g.weightsSha256);`;
    const outs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]),
      ),
    );
    const shas = new Set(outs.map((o) => o.stdout.trim()));
    assert.equal(shas.size, 1, 'every process saw the same weights');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file is left behind',
    );
    const cfg = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const graph = await ensureGraph(dir, cfg, [join(dir, 'model.safetensors')]);
    assert.equal(graph.rebuilt, false, 'the stamp written by the racing processes is valid');
    const runner = await ModelRunner.open(graph.modelPath, cfg, { threads: 1 });
    await runner.close();
  });

  it('opening a model whose (quantized) graph is current loads no graph builder', async () => {
    const dir = await copyOfSharedCheckpoint(
      join(mkdtempSync(join(tmpdir(), 'reverie-graph-lazy-')), 'tiny'),
    );
    const built = await openModel(dir, { quantization: 'int8', threads: 1 });
    await built.runner.close();
    // The builder's protobuf library is CommonJS: loaded, it would sit in require's cache.
    const script = `
      import { createRequire } from 'node:module';
      import { openModel } from '${openModelUrl}';
      const m = await openModel(${JSON.stringify(dir)}, { quantization: 'int8', threads: 1 });
      await m.runner.close();
      const cache = createRequire(${JSON.stringify(`${dir}/`)}).cache;
      console.log(JSON.stringify({ rebuilt: m.graph.rebuilt, loaded: Object.keys(cache).filter((k) => /onnx-proto|protobufjs/.test(k)) }));`;
    const out = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    assert.deepEqual(JSON.parse(out.stdout.trim().split('\n').at(-1)!), { rebuilt: false, loaded: [] });
  });

  it('rebuilds the graph when the weights or the configuration change, and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reverie-graph-stale-'));
    writeRandomModel(dir, { seed: 4 });
    const files = [join(dir, 'model.safetensors')];
    const config = () => parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const first = await ensureGraph(dir, config(), files);
    assert.equal(first.rebuilt, true);
    assert.equal((await ensureGraph(dir, config(), files)).rebuilt, false, 'cached');
    writeRandomModel(dir, { seed: 5 });
    const reweighted = await ensureGraph(dir, config(), files);
    assert.equal(reweighted.rebuilt, true, 'new weights');
    assert.notEqual(reweighted.weightsSha256, first.weightsSha256);
    // Same weights, another RoPE base: the graph bakes the frequencies in, so it must be rebuilt.
    const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...raw, rope_theta: raw.rope_theta * 2 }));
    const reconfigured = await ensureGraph(dir, config(), files);
    assert.equal(reconfigured.rebuilt, true, 'new configuration');
    assert.equal(reconfigured.weightsSha256, reweighted.weightsSha256);
  });

  it('quantized graphs are cached beside the float one, one file per spec, rebuilt when the spec changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reverie-graph-quant-'));
    writeRandomModel(dir, { seed: 6 });
    const cfg = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const files = [join(dir, 'model.safetensors')];
    const int4 = { ...QUANT_DEFAULTS, weights: 'int4' as const };
    const f32 = await ensureGraph(dir, cfg, files);
    const q4 = await ensureGraph(dir, cfg, files, { quantization: int4 });
    const q8 = await ensureGraph(dir, cfg, files, { quantization: { ...int4, weights: 'int8' } });
    const sym = await ensureGraph(dir, cfg, files, { quantization: { ...int4, zeroPoints: false } });
    // int8 weights take the layout of this CPU (cpu-int8.ts), which the name and the stamp say.
    const u8 = u8s8MaySaturate() ? '-u8u8' : '';
    assert.deepEqual(
      [f32, q4, q8, sym].map((g) => basename(g.modelPath)),
      ['model.onnx', `model.int4${u8}.onnx`, `model.int8${u8}.onnx`, `model.int4-sym${u8}.onnx`],
    );
    assert.deepEqual(
      q4.quantization,
      { ...int4, unsignedInt8: u8s8MaySaturate() },
      'the stamp records the spec',
    );
    assert.equal(f32.quantization, null);
    for (const [g, q] of [
      [f32, null],
      [q4, int4],
    ] as const) {
      assert.equal((await ensureGraph(dir, cfg, files, { quantization: q })).rebuilt, false, g.modelPath);
    }
    // A stamp of another spec at the same path (a graph written by an older build) is rebuilt.
    const stamp = JSON.parse(readFileSync(`${q4.modelPath}.json`, 'utf8'));
    writeFileSync(
      `${q4.modelPath}.json`,
      JSON.stringify({ ...stamp, quantization: { ...int4, blockSize: 64 } }),
    );
    assert.equal((await ensureGraph(dir, cfg, files, { quantization: int4 })).rebuilt, true);
  });

  it('an fp16 graph runs on CPU and follows the fp32 logits through prefill and KV decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reverie-graph-fp16-'));
    writeRandomModel(dir, { seed: 2 });
    const cfg = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    const files = [join(dir, 'model.safetensors')];
    const g32 = await ensureGraph(dir, cfg, files);
    const g16 = await ensureGraph(dir, cfg, files, { dtype: 'fp16' });
    assert.notEqual(g16.modelPath, g32.modelPath, 'both dtypes are cached side by side');
    const r32 = await ModelRunner.open(g32.modelPath, cfg, { threads: 1 });
    const r16 = await ModelRunner.open(g16.modelPath, cfg, { threads: 1 });
    try {
      const steps = [
        { seq: 1, count: 5, bagSize: 1, ids: Int32Array.from([1, 2, 3, 4, 5]) },
        { seq: 1, count: 1, bagSize: 1, ids: Int32Array.from([7]) },
        { seq: 1, count: 1, bagSize: 1, ids: Int32Array.from([9]) },
      ];
      for (const row of steps) {
        const a = (await r32.step({ rows: [row] })).logits;
        const b = (await r16.step({ rows: [row] })).logits;
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < a.length; i++) {
          diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
          scale = Math.max(scale, Math.abs(a[i]!));
        }
        // fp16 weights carry 11 significant bits: about 1e-3 of the logit scale, not more.
        assert.ok(diff < 1e-3 * scale, `max diff ${diff} at logit scale ${scale}`);
        assert.ok(diff > 0, 'the fp16 graph really computes in half precision');
      }
    } finally {
      await Promise.all([r32.close(), r16.close()]);
    }
  });
});
