import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { evaluate, servedThinkingModes } from '../../src/eval/evaluate.ts';
import type { EvalReport } from '../../src/eval/report.ts';
import { type LiveServer, startLiveServer } from '../api/live-server.ts';

/**
 * `reverie eval` end to end against a live server on the default checkpoint (the random tiny model
 * greedily answers only `</think>`, which leaves no text to verify): the answers the server really
 * gives are verified, counted and summarised (the greedy answer to the first question is made that
 * question's expected answer, the second expects something the model never says).
 */

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = readFileSync(join(ROOT, 'models', 'DEFAULT'), 'utf8').trim();

async function greedyAnswer(url: string, question: string): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: question }],
      // max_tokens bounds thinking and answer together (as vLLM): the six thinking tokens the budget
      // allows, `</think>`, and the 6 answer tokens of the evaluation below (thinking + 1 + maxTokens),
      // so the expected answer is cut where the evaluated one is (the default model may say more)
      max_tokens: 6 + 1 + 6,
      temperature: 0,
      thinking: { mode: 'hard', temperature: 0, max_tokens: 6 },
    }),
  });
  const body = (await res.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0]!.message.content;
}

describe('reverie eval against a live server', () => {
  let live: LiveServer;
  let dir: string;
  let file: string;
  before(async () => {
    live = await startLiveServer({ checkpointDirs: [join(ROOT, 'models', MODEL)] });
    dir = mkdtempSync(join(tmpdir(), 'reverie-eval-'));
    file = join(dir, 'qs.jsonl');
    const right = await greedyAnswer(live.url, 'Compute 345+278.');
    assert.ok(right.trim().length > 0, 'the model says something');
    const lines = [
      { question: 'Compute 345+278.', answer: right, group: 'a' },
      { question: 'Name a colour.', answer: 'never-said-by-a-small-model', group: 'b' },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  });
  after(async () => {
    await live.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the served answers and reports pass@k, budgets, groups, tokens and latency', async () => {
    assert.deepEqual(await servedThinkingModes(live.url, MODEL), ['hard', 'soft', 'fuzzy', 'latent']);
    let ended = 0;
    const report = await evaluate(
      {
        url: live.url,
        model: MODEL,
        task: file,
        modes: ['hard', 'soft', 'latent'],
        ks: [1, 2, 4],
        n: undefined,
        budgets: [1, 6],
        maxTokens: 6,
        thinkingMaxTokens: 6,
        concurrency: 4,
        maxN: 3,
        seed: 3,
        timeoutMs: 60_000,
        apiKey: undefined,
      },
      (total) => {
        // per question and mode: greedy, samples in 2 requests (4 samples, at most 3 each), 2 budgets
        assert.equal(total, 2 * 3 * 5);
        return { ended: () => void ended++, finish: () => {} };
      },
    );
    assert.equal(ended, 30);
    assert.deepEqual(report.failures, []);
    assert.equal(report.n, 2);
    assert.equal(report.samples, 4);
    const hard = report.modes.find((m) => m.mode === 'hard')!;
    assert.equal(hard.greedy.value, 0.5, 'question 1 right (its answer is the served one), question 2 wrong');
    assert.deepEqual(
      hard.groups.map((g) => [g.group, g.greedy.value]),
      [
        ['a', 1],
        ['b', 0],
      ],
    );
    // at most the budget of 6 thoughts plus the `</think>` position, which usage counts as reasoning
    assert.ok(
      hard.thinkingTokens.greedy > 0 && hard.thinkingTokens.greedy <= 7,
      `${hard.thinkingTokens.greedy}`,
    );
    assert.ok(hard.latencyMs.median > 0);
    // each question's greedy answer and right samples, in file order (failure analysis, pairing)
    assert.equal(hard.questions!.length, 2);
    assert.equal(hard.questions![0]!.right, true);
    assert.equal(hard.questions![1]!.right, false);
    assert.equal(hard.questions![1]!.sampledRight, 0, 'question 2 can never be right');
    assert.ok(hard.questions![0]!.greedy.length > 0);
    for (const m of report.modes) {
      const values = m.passAtK.map((p) => p.estimate.value);
      assert.deepEqual(
        m.passAtK.map((p) => p.k),
        [1, 2, 4],
      );
      assert.ok(
        values.every((v, i) => i === 0 || v >= values[i - 1]!),
        `${m.mode}: pass@k grows with k`,
      );
      assert.ok(
        values.every((v) => v <= 0.5),
        'question 2 can never be right',
      );
      assert.equal(m.budgets.length, 2);
      assert.equal(m.budgets[1]!.accuracy.value, m.greedy.value, 'budget 6 = the run at budget 6');
    }
  });

  it('the command line prints JSON, writes a plot and refuses an unsupported mode', async () => {
    const run = promisify(execFile);
    const svg = join(dir, 'plot.svg');
    const cli = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'eval', '--url', live.url];
    const { stdout } = await run(
      process.execPath,
      [
        ...cli,
        '--task',
        file,
        '--modes',
        'hard',
        '--k',
        '1,2',
        '--budgets',
        '2,4',
        '--max-tokens',
        '4',
        '--json',
        '--plot',
        svg,
      ],
      { cwd: ROOT },
    );
    const report = JSON.parse(stdout) as EvalReport;
    assert.equal(report.model, MODEL);
    assert.equal(report.modes.length, 1);
    const plot = readFileSync(svg, 'utf8');
    assert.match(plot, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((plot.match(/<polyline/g) ?? []).length, 2, 'one line per panel');
    await assert.rejects(
      run(process.execPath, [...cli, '--task', file, '--modes', 'hard,telepathy'], { cwd: ROOT }),
      (err: { code?: number; stderr?: string }) =>
        err.code === 2 && /unknown mode "telepathy"/.test(err.stderr ?? ''),
    );
    await assert.rejects(
      run(process.execPath, [...cli, '--task', join(dir, 'missing.jsonl')], { cwd: ROOT }),
      (err: { stderr?: string }) => /no such file/.test(err.stderr ?? ''),
    );
  });

  it('refuses a mode the model does not support before sending anything', async () => {
    const plain = await startLiveServer();
    try {
      await assert.rejects(
        evaluate({
          url: plain.url,
          model: 'tiny',
          task: file,
          modes: ['latent'],
          ks: [1],
          n: undefined,
          budgets: [],
          maxTokens: 4,
          thinkingMaxTokens: undefined,
          concurrency: 1,
          maxN: 16,
          seed: 0,
          timeoutMs: 10_000,
          apiKey: undefined,
        }),
        /does not support thinking mode "latent"/,
      );
    } finally {
      await plain.close();
    }
  });
});
