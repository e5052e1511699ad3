import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
});
