import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { greedyRequest, NOISE_GAMMA, parseModes, sampledRequest } from '../../src/eval/modes.ts';
import { evalFlagsSchema } from '../../src/eval/options.ts';
import { pairedPassAtKDifference, passAtK, taskPassAtK, wilson } from '../../src/eval/pass-at-k.ts';
import { BUILTIN_TASKS, loadTask, parseQuestions } from '../../src/eval/tasks.ts';
import { isCorrectAnswer, normaliseAnswer } from '../../src/eval/verify.ts';

/** The statistics, answer checking and request bodies of `reverie eval`, by hand. */

/** C(n, k) exactly, as a BigInt. */
function choose(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}

describe('pass@k', () => {
  it('equals 1 − C(n−c, k)/C(n, k) computed exactly', () => {
    for (const n of [1, 5, 32, 100]) {
      for (let c = 0; c <= n; c += Math.max(1, Math.floor(n / 7))) {
        for (const k of [1, 2, 8, 32].filter((k) => k <= n)) {
          const exact = 1 - Number((choose(n - c, k) * 10n ** 15n) / choose(n, k)) / 1e15;
          assert.ok(Math.abs(passAtK(n, c, k) - exact) < 1e-12, `n=${n} c=${c} k=${k}`);
        }
      }
    }
  });

  it('pass@1 is the fraction right; all or none right give 1 and 0; k > n − c gives 1', () => {
    assert.equal(passAtK(32, 8, 1), 0.25);
    assert.equal(passAtK(32, 32, 32), 1);
    assert.equal(passAtK(32, 0, 32), 0);
    assert.equal(passAtK(10, 3, 8), 1);
    // one right among 32: pass@32 = 1 and pass@8 = 8/32
    assert.ok(Math.abs(passAtK(32, 1, 8) - 0.25) < 1e-12);
    assert.throws(() => passAtK(4, 1, 8), RangeError);
    assert.throws(() => passAtK(4, 5, 1), RangeError);
  });

  it('a task averages its questions', () => {
    const e = taskPassAtK([0, 32, 16], 32, 1);
    assert.equal(e.value, 0.5);
    assert.ok(e.low < 0.5 && e.high > 0.5);
  });

  it('a paired difference sees near a ceiling what two independent intervals cannot', () => {
    // 200 questions, both solve 188 every time; b also solves 8 of the 12 that a never does
    const a = [...Array(188).fill(32), ...Array(12).fill(0)];
    const b = [...Array(188).fill(32), ...Array(8).fill(5), ...Array(4).fill(0)];
    const d = pairedPassAtKDifference(a, b, 32, 32);
    assert.ok(Math.abs(d.value - 8 / 200) < 1e-12);
    assert.ok(d.low > 0 && d.high >= d.value, `${d.low} ${d.high}: the interval excludes 0`);
    const ia = taskPassAtK(a, 32, 32);
    const ib = taskPassAtK(b, 32, 32);
    assert.ok(ia.high > ib.low, 'the independent Wilson intervals overlap');
    // pass@1 from the same samples: 8 questions at 5/32
    assert.ok(Math.abs(pairedPassAtKDifference(a, b, 32, 1).value - (8 * 5) / 32 / 200) < 1e-12);
    assert.deepEqual(pairedPassAtKDifference(a, b, 32, 32), d, 'a fixed bootstrap seed');
    assert.deepEqual(pairedPassAtKDifference(a, a, 32, 32), { value: 0, low: 0, high: 0 });
    const swapped = pairedPassAtKDifference(b, a, 32, 32);
    assert.ok(swapped.value < 0 && swapped.high < 0);
    assert.throws(() => pairedPassAtKDifference([1], [1, 2], 32, 8), RangeError);
  });
});

describe('Wilson interval', () => {
  it('matches the textbook values', () => {
    const w = wilson(0.9, 100);
    assert.ok(Math.abs(w.low - 0.8256) < 1e-4 && Math.abs(w.high - 0.9448) < 1e-4, JSON.stringify(w));
    // 0 of 20: [0, 0.1611]; 20 of 20: [0.8389, 1]
    assert.equal(wilson(0, 20).low, 0);
    assert.ok(Math.abs(wilson(0, 20).high - 0.1611) < 1e-4);
    assert.ok(Math.abs(wilson(1, 20).low - 0.8389) < 1e-4);
    assert.equal(wilson(1, 20).high, 1);
  });

  it('narrows as the sample grows', () => {
    const width = (m: number) => wilson(0.7, m).high - wilson(0.7, m).low;
    assert.ok(width(50) > width(200) && width(200) > width(1000));
  });
});

describe('answer verification', () => {
  it('forgives spaces, case, quotes, a final period and number formatting', () => {
    assert.ok(isCorrectAnswer('1093', ' 1093\n'));
    assert.ok(isCorrectAnswer('1093', '1,093.'));
    assert.ok(isCorrectAnswer('1093', '1093.0'));
    assert.ok(isCorrectAnswer('c', 'C'));
    assert.ok(isCorrectAnswer('Paris', '"paris".'));
    assert.ok(isCorrectAnswer('New  York', 'new york'));
    assert.equal(normaliseAnswer(' 0012 '), '12');
  });

  it('rejects anything else', () => {
    assert.ok(!isCorrectAnswer('1093', 'The answer is 1093'));
    assert.ok(!isCorrectAnswer('1093', '1094'));
    assert.ok(!isCorrectAnswer('1093', ''));
    assert.ok(!isCorrectAnswer('c', 'c or d'));
    assert.ok(!isCorrectAnswer('12', '1,2'));
  });
});

describe('questions, modes and flags', () => {
  it('parses JSONL and names the line of a bad entry', () => {
    const qs = parseQuestions(
      '{"question":"2+2?","answer":4,"group":"g"}\n\n{"question":"x","answer":"y"}\n',
      'f',
    );
    assert.deepEqual(qs, [
      { question: '2+2?', answer: '4', group: 'g' },
      { question: 'x', answer: 'y' },
    ]);
    assert.throws(() => parseQuestions('{"question":"x"}\n', 'f.jsonl'), /f\.jsonl:1: expected/);
    assert.throws(
      () => parseQuestions('{"question":"x","answer":"y"}\nnope\n', 'f.jsonl'),
      /f\.jsonl:2: not JSON/,
    );
    assert.throws(() => parseQuestions('\n', 'f.jsonl'), /no questions/);
  });

  it('every built-in task loads from evals/, and --n takes the first questions', () => {
    for (const task of Object.keys(BUILTIN_TASKS)) {
      const { name, questions } = loadTask(task);
      assert.equal(name, task);
      assert.ok(questions.length >= 200, `${task}: ${questions.length} questions`);
    }
    // arithmetic-4digit alternates its two kinds, so any first n holds both
    const hard = loadTask('arithmetic-4digit', 4).questions;
    assert.deepEqual(
      hard.map((q) => q.group),
      ['4-digit + 4-digit', '4-digit × 1-digit', '4-digit + 4-digit', '4-digit × 1-digit'],
    );
  });

  it('greedy and sampled requests follow the paper’s inference modes', () => {
    assert.deepEqual(greedyRequest('hard'), {
      temperature: 0,
      n: 1,
      thinking: { mode: 'hard', temperature: 0 },
    });
    assert.deepEqual(greedyRequest('soft', 8), {
      temperature: 0,
      n: 1,
      thinking: { mode: 'soft', max_tokens: 8 },
    });
    assert.deepEqual(sampledRequest('fuzzy', 32, 7), {
      temperature: 1,
      n: 32,
      seed: 7,
      thinking: { mode: 'fuzzy', noise: { type: 'gaussian', scale: NOISE_GAMMA } },
    });
    assert.deepEqual(sampledRequest('hard', 4, 1).thinking, { mode: 'hard' });
    assert.deepEqual(sampledRequest('latent', 4, 1).thinking, { mode: 'latent' });
    assert.deepEqual(greedyRequest('off').thinking, { mode: 'off' });
    assert.throws(() => parseModes('hard,telepathy'), /unknown mode "telepathy"/);
    assert.deepEqual(parseModes('soft, hard,soft'), ['soft', 'hard']);
  });

  it('flags: defaults, sorted lists, clear errors', () => {
    const f = evalFlagsSchema.parse({ task: 'arithmetic', k: '32,1,8', budgets: '4,1' });
    assert.deepEqual(f.ks, [1, 8, 32]);
    assert.deepEqual(f.budgets, [1, 4]);
    assert.equal(f.url, 'http://127.0.0.1:8000');
    assert.equal(f.concurrency, 8);
    const bad = evalFlagsSchema.safeParse({ task: 'x', k: '0' });
    assert.ok(!bad.success && /not a positive integer/.test(bad.error.issues[0]!.message));
    assert.ok(!evalFlagsSchema.safeParse({}).success);
    assert.ok(!evalFlagsSchema.safeParse({ task: 'x', k: '2000' }).success);
    assert.equal(f.maxN, 16);
  });
});
