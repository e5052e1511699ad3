import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerQuestions, loadTestset } from '../../src/bench/accuracy.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import { rowHidden, rowLogits } from '../../src/model/batch.ts';
import { openModel } from '../../src/model/open-model.ts';

/** Cross-checks of the default checkpoint against what its PyTorch trainer saved (issue 3 §6). */

const ROOT = join(import.meta.dirname, '..', '..');
/** The default checkpoint, as models/DEFAULT names it. */
const NAME = readFileSync(join(ROOT, 'models', 'DEFAULT'), 'utf8').trim();
const DIR = join(ROOT, 'models', NAME);

interface LogitsFixture {
  tolerance: number;
  cases: { text: string; input_ids: number[]; logits: number[][] }[];
}

interface LatentFixture {
  tolerance: number;
  steps: number;
  cases: { text: string; input_ids: number[]; latent_logits: number[][] }[];
}

describe(`default checkpoint ${NAME}`, () => {
  it('the converted ONNX graph reproduces the PyTorch logits within the fixture tolerance', async () => {
    const fixture = JSON.parse(
      readFileSync(join(ROOT, 'test', 'fixtures', `${NAME}-logits.json`), 'utf8'),
    ) as LogitsFixture;
    const model = await openModel(DIR, { threads: 1 });
    let worst = 0;
    for (const [i, c] of fixture.cases.entries()) {
      assert.deepEqual(
        model.tokenizer.encode(c.text, { specialTokens: true }),
        c.input_ids,
        'our tokenizer agrees',
      );
      const r = await model.runner.step({
        rows: [
          {
            seq: i,
            count: c.input_ids.length,
            bagSize: 1,
            ids: Int32Array.from(c.input_ids),
            allPositions: true,
          },
        ],
      });
      c.logits.forEach((row, t) => {
        const got = rowLogits(r, t);
        for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(got[v]! - row[v]!));
      });
    }
    await model.runner.close();
    assert.ok(worst < fixture.tolerance, `max |logit diff| ${worst}`);
  });

  it('reproduces the PyTorch logits of latent thinking: its own hidden state fed back as the next input', async () => {
    const fixture = JSON.parse(
      readFileSync(join(ROOT, 'test', 'fixtures', `${NAME}-latent.json`), 'utf8'),
    ) as LatentFixture;
    const model = await openModel(DIR, { threads: 1 });
    let worst = 0;
    for (const [i, c] of fixture.cases.entries()) {
      let r = await model.runner.step({
        rows: [{ seq: i, count: c.input_ids.length, bagSize: 1, ids: Int32Array.from(c.input_ids) }],
      });
      for (const expected of c.latent_logits) {
        // What the engine feeds for a latent thought: an empty bag (one id at weight 0) plus the
        // hidden state the runner returned for the position before.
        const add = Float32Array.from(rowHidden(r, 0));
        r = await model.runner.step({
          rows: [{ seq: i, count: 1, bagSize: 1, ids: Int32Array.of(0), weights: Float32Array.of(0), add }],
        });
        const got = rowLogits(r, 0);
        for (let v = 0; v < expected.length; v++) worst = Math.max(worst, Math.abs(got[v]! - expected[v]!));
      }
    }
    await model.runner.close();
    assert.equal(
      fixture.cases.length * fixture.steps,
      fixture.cases.reduce((s, c) => s + c.latent_logits.length, 0),
    );
    assert.ok(worst < fixture.tolerance, `max |logit diff| over latent steps ${worst}`);
  });

  describe('served greedy answers', () => {
    let engine: Engine;
    before(async () => {
      engine = createEngine({ checkpointDirs: [DIR], threads: 1 });
      await engine.ready();
    });
    after(async () => {
      await engine.close();
    });

    it('match the accuracy in the manifest within sampling error', async (t) => {
      const questions = loadTestset(join(ROOT, 'test', 'fixtures', `${NAME}-testset.jsonl`));
      const info = engine.models[0]!;
      const manifest = info.manifest;
      const variant = (manifest.training as { default_variant?: string }).default_variant;
      const results = await answerQuestions(engine, questions, 'hard');
      results.forEach((r, i) => {
        assert.deepEqual(r.prompt, questions[i]!.prompt_ids, 'the chat template renders as in training');
      });
      for (const task of new Set(questions.map((q) => q.task))) {
        const mine = results.filter((r) => r.task === task);
        const acc = mine.filter((r) => r.ok).length / mine.length;
        const row = manifest.evaluation.find(
          (e) => e.task === task && e.variant === variant && e.inference === 'hard',
        )!;
        const p = row.pass_at_1;
        // Three binomial standard errors of a sample of this size, plus one question of slack.
        t.diagnostic(`${task}: served ${mine.filter((r) => r.ok).length}/${mine.length}, manifest ${p}`);
        const bound = 3 * Math.sqrt((p * (1 - p)) / mine.length) + 1 / mine.length;
        assert.ok(
          Math.abs(acc - p) <= bound,
          `${task}: served ${acc} vs manifest ${p} (±${bound.toFixed(3)})`,
        );
      }
    });
  });
});
