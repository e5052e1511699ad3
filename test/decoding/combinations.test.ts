import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DecodingParams, ThinkingMode } from '../../src/decoding/params.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine, EngineEvent } from '../../src/engine/types.ts';
import { collect, tinyCheckpoint } from '../helpers/engine-fixtures.ts';

const THINKING: ThinkingMode[] = ['off', 'hard', 'soft', 'fuzzy', 'latent'];
const ANSWERS: { name: string; choices: number; params: DecodingParams }[] = [
  { name: 'discrete greedy', choices: 1, params: { temperature: 0 } },
  { name: 'superposed k=3', choices: 3, params: { superposition: { drafts: 3 } } },
];

/**
 * Every answer mode after every thinking mode, through the engine on the real tiny model: each
 * request finishes with the right number of choices, and a thinking phase ends (its closing
 * marker is fed and counted) before any answer event.
 */
describe('thinking mode × answer mode', () => {
  let engine: Engine;
  const runs = new Map<string, EngineEvent[]>();
  const cases = THINKING.flatMap((mode) => ANSWERS.map((answer) => ({ mode, answer })));
  const key = (mode: ThinkingMode, answer: string) => `${mode} then ${answer}`;

  before(async () => {
    engine = createEngine({ checkpointDirs: [await tinyCheckpoint()], threads: 1 });
    await engine.ready();
    const results = await Promise.all(
      cases.map(({ mode, answer }, i) =>
        collect(engine, `combo-${i}`, 'is d reachable from a?', {
          ...answer.params,
          seed: 7,
          // max_tokens counts the thinking too: 4 thoughts, the closing marker, then the answer.
          max_tokens: 9,
          thinking: { mode, max_tokens: 4, trace: mode !== 'off' },
        }),
      ),
    );
    cases.forEach(({ mode, answer }, i) => {
      runs.set(key(mode, answer.name), results[i] as EngineEvent[]);
    });
  });
  after(async () => {
    await engine?.close();
  });

  for (const { mode, answer } of cases) {
    it(key(mode, answer.name), () => {
      const events = runs.get(key(mode, answer.name))!;
      const done = events[events.length - 1];
      assert.equal(done?.type, 'done', JSON.stringify(done));
      if (done?.type !== 'done') return;

      const finishes = events.filter((e) => e.type === 'finish');
      assert.deepEqual(
        finishes.map((f) => f.choice).sort(),
        Array.from({ length: answer.choices }, (_, i) => i),
        'one finish per choice',
      );
      for (const f of finishes) assert.ok(f.reason === 'stop' || f.reason === 'length', f.reason);

      const reasoning = events.filter((e) => e.type === 'reasoning');
      if (mode === 'off') {
        assert.equal(reasoning.length, 0);
        assert.equal(done.usage.reasoningTokens, 0);
        return;
      }
      // Every thinking step is traced, so the traced steps are the shadow tokens. reasoning_tokens
      // counts them (vLLM's parsers leave the markers out); completion tokens also count the
      // closing marker, forced or chosen. Superposed drafts share one thinking phase, reported once.
      const traced = reasoning.flatMap((e) => (e.type === 'reasoning' && e.trace ? [e.trace.shadowId] : []));
      const thoughts = traced.length;
      assert.ok(thoughts <= 4, `${thoughts} thoughts within the budget`);
      // A repeated `<think>` (259, which the random model likes) is no reasoning token, as vLLM counts.
      const counted = traced.filter((id) => id !== 259).length;
      assert.equal(done.usage.reasoningTokens, counted, 'reasoning tokens are the thoughts');
      const answerTokens = finishes.reduce((n, f) => n + f.usage.completionTokens, 0);
      assert.equal(done.usage.completionTokens, answerTokens);
      const byChoice = finishes.sort((a, b) => a.choice - b.choice);
      assert.equal(byChoice[0]!.usage.reasoningTokens, counted);
      assert.ok(byChoice[0]!.usage.completionTokens >= thoughts + 1, 'thoughts and the closing marker');
      for (const f of byChoice.slice(1))
        assert.equal(f.usage.reasoningTokens, 0, 'shared thinking reported once');

      const lastReasoning = events.findLastIndex((e) => e.type === 'reasoning');
      const firstAnswer = events.findIndex((e) => e.type === 'content' || e.type === 'drafts');
      assert.ok(firstAnswer > lastReasoning, 'the answer comes after the reasoning');
      if (answer.choices > 1)
        assert.ok(
          events.some((e) => e.type === 'drafts'),
          'drafts reported',
        );
    });
  }
});
