import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureGraph } from '../../src/model/graph-cache.ts';
import { parseModelConfig } from '../../src/model/hf-config.ts';
import { ModelRunner } from '../../src/model/runner.ts';
import { writeRandomModel } from '../../src/model/test-model.ts';

const run = promisify(execFile);
const graphCache = new URL('../../src/model/graph-cache.ts', import.meta.url).href;
const hfConfig = new URL('../../src/model/hf-config.ts', import.meta.url).href;

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
