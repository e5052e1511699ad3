import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEngine } from '../../src/engine/engine.ts';
import type { DecodingParams, Engine, EngineError } from '../../src/engine/types.ts';
import {
  assertEveryModeFinished,
  assertSameEvents,
  collect,
  collectRequest,
  MIXED,
  promptFor,
  tinyCheckpoint,
} from '../helpers/engine-fixtures.ts';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('engine (worker thread, real tiny model)', () => {
  let dir: string;
  /** Outputs of each MIXED request run alone, on an engine with plenty of KV. */
  const alone = new Map<string, unknown[]>();
  let engine: Engine;

  before(async () => {
    dir = await tinyCheckpoint();
    engine = createEngine({ checkpointDirs: [dir], threads: 1 });
    await engine.ready();
    for (const [name, text, params] of MIXED)
      alone.set(name, await collect(engine, `alone-${name}`, text, params));
  });
  after(async () => {
    await engine.close();
  });

  it('derives the KV budget from its configuration: 64 sequences × 1024 positions × 512 B, + the prefix cache share', () => {
    const { kvBudget } = engine.models[0]!;
    assert.equal(kvBudget.derived, true);
    assert.equal(
      kvBudget.bytesPerPosition,
      2 * 2 * 2 * 16 * 4,
      'K and V × 2 layers × 2 KV heads × 16 dims × fp32',
    );
    assert.equal(kvBudget.sequencesBytes, 64 * 1024 * 512);
    assert.equal(kvBudget.bytes, 40 * 2 ** 20);
  });

  it('every mode produces output and finishes', () => {
    assertEveryModeFinished(alone);
  });

  it('many concurrent requests of mixed modes give the same outputs as one at a time', async () => {
    const runs = await Promise.all(
      [...MIXED, ...MIXED].map(([name, text, params], i) =>
        collect(engine, `mixed-${i}-${name}`, text, params),
      ),
    );
    runs.forEach((events, i) => {
      const name = MIXED[i % MIXED.length]![0];
      assert.doesNotThrow(
        () => assertSameEvents(events, alone.get(name)),
        `request ${name} (#${i}) differs when batched`,
      );
    });
  });

  it('chunked prefill (8 positions per step) gives the same outputs', async () => {
    // Every prompt here is 31-42 tokens: with 8 per step each is split over several steps,
    // sharing them with other rows' decode steps.
    const chunked = createEngine({ checkpointDirs: [dir], threads: 1, maxBatchedTokens: 8 });
    try {
      await chunked.ready();
      const runs = await Promise.all(
        MIXED.map(([name, text, params], i) => collect(chunked, `chunked-${i}-${name}`, text, params)),
      );
      runs.forEach((events, i) => {
        const name = MIXED[i]![0];
        assert.doesNotThrow(() => assertSameEvents(events, alone.get(name)), `${name} differs when chunked`);
      });
    } finally {
      await chunked.close();
    }
  });

  it('a prefix-cache hit gives identical output and skips prefill work', async () => {
    const params = { temperature: 0, max_tokens: 6, thinking: { mode: 'off' as const } };
    const text = 'a long enough question so that the prompt spans several sixteen-token blocks of the cache';
    const first = await collect(engine, 'pc-1', text, params);
    const before = engine.stats();
    const model = engine.models[0]!;
    const { prompt } = promptFor(model, text, params);
    let cached = 0;
    const events = [];
    for await (const ev of engine.generate({
      id: 'pc-2',
      model: model.name,
      prompt,
      startsInThinking: false,
      params,
    })) {
      events.push(ev);
      if (ev.type === 'done') cached = ev.usage.cachedTokens;
    }
    await until(() => engine.stats().promptTokensComputed >= before.promptTokensComputed);
    const after = engine.stats();
    assert.ok(cached >= 32, `cached ${cached} tokens`);
    assert.equal(
      after.promptTokensComputed - before.promptTokensComputed,
      prompt.length - cached,
      'only uncached prompt positions computed',
    );
    assert.ok(after.prefixCacheHits > before.prefixCacheHits);
    const second = await collect(engine, 'pc-3', text, params);
    assertSameEvents(second, first);
    // Idle: the cached prefix holds blocks, but they are reclaimable, so KV usage is back to 0.
    await until(() => engine.stats().running === 0 && engine.stats().kvUsage === 0);
    assert.ok(engine.stats().prefixCacheUsage > 0, 'the prompt prefix stays cached');
  });

  it('rejects bad requests before any event', () => {
    const model = engine.models[0]!;
    const base = { id: 'bad', model: model.name, prompt: [1, 2, 3], startsInThinking: false };
    assert.throws(
      () => engine.generate({ ...base, model: 'nope', params: {} }),
      (e: EngineError) => e.code === 'model_not_found',
    );
    assert.throws(
      () => engine.generate({ ...base, params: { temperature: -1 } }),
      (e: EngineError) => e.code === 'invalid_value' && e.param === 'temperature',
    );
    assert.throws(
      () => engine.generate({ ...base, params: { max_tokens: model.maxModelLen } }),
      (e: EngineError) => e.code === 'invalid_value' && e.param === 'max_tokens',
    );
  });
});

/** 512 bytes of KV per position: 6 blocks of 16 positions, two prompts of the test requests. */
const TIGHT_BUDGET = 6 * 16 * 512;

describe('engine under memory pressure and failure', () => {
  let dir: string;
  before(async () => {
    dir = await tinyCheckpoint();
  });

  it('preemption then recompute gives the same output as no preemption, soft-thinking rows included', async () => {
    const roomy = createEngine({ checkpointDirs: [dir], threads: 1, prefixCache: false });
    const tight = createEngine({
      checkpointDirs: [dir],
      threads: 1,
      prefixCache: false,
      kvBudgetBytes: TIGHT_BUDGET,
    });
    try {
      await Promise.all([roomy.ready(), tight.ready()]);
      await comparePreempted(roomy, tight);
    } finally {
      // Closed even when a step fails: a live worker would keep the test process from exiting.
      await Promise.allSettled([roomy.close(), tight.close()]);
    }
  });

  async function comparePreempted(roomy: Engine, tight: Engine): Promise<void> {
    // Traced thinking rows: the reported probabilities expose any input that recompute got wrong.
    const traced = MIXED.filter(([name]) =>
      ['greedy', 'soft', 'fuzzy-noise', 'latent', 'hard', 'superposed'].includes(name),
    ).map(
      ([name, text, params]) =>
        [
          name,
          text,
          { ...params, thinking: { ...params.thinking, trace: params.thinking?.mode !== 'off' } },
        ] as const,
    );
    const requests = [...traced, ...traced];
    const expected: unknown[][] = [];
    for (const [name, text, params] of requests)
      expected.push(await collect(roomy, `r-${name}-${expected.length}`, text, params));
    // The budget bounds real memory: the runner's buffers never hold more than it admitted.
    let peakBytes = 0;
    const watch = setInterval(() => {
      peakBytes = Math.max(peakBytes, tight.stats().kvBytes);
    }, 1);
    const preempted = requests.map(() => ({ preemptions: 0 }));
    const got = await Promise.all(
      requests.map(([name, text, params], i) => collect(tight, `t-${name}-${i}`, text, params, preempted[i])),
    ).finally(() => clearInterval(watch));
    assert.ok(peakBytes > 0 && peakBytes <= TIGHT_BUDGET, `peak KV ${peakBytes} B of ${TIGHT_BUDGET}`);
    got.forEach((events, i) => {
      assertSameEvents(events, expected[i], requests[i]![0]);
    });

    // Each kind of replayed input for sure: a request that never ends early holds the budget, and
    // the request admitted after it is the one preempted when both grow (the newest goes first).
    const hog: DecodingParams = {
      temperature: 0,
      max_tokens: 40,
      logit_bias: { 256: -100, 258: -100 },
      thinking: { mode: 'off' },
    };
    for (const kind of ['soft', 'latent', 'superposed']) {
      const i = requests.findIndex(([name]) => name === kind);
      const [name, text, params] = requests[i]!;
      const seen = { preemptions: 0 };
      // Both prompts rendered before either is submitted, so they reach the worker together: on a
      // loaded machine a render between the submits let the long request run ahead and finish alone.
      const model = tight.models[0]!;
      const hogRequest = {
        id: `hog-${kind}`,
        model: model.name,
        ...promptFor(model, 'keep talking', hog),
        params: hog,
      };
      const request = {
        id: `after-hog-${kind}`,
        model: model.name,
        ...promptFor(model, text, params),
        params,
      };
      const [hogEvents, events] = await Promise.all([
        collectRequest(tight, hogRequest),
        collectRequest(tight, request, seen),
      ]);
      assert.equal((hogEvents.at(-1) as { type: string }).type, 'done', 'the long request fits alone');
      assert.ok(seen.preemptions > 0, `the ${kind} request was preempted and recomputed`);
      assertSameEvents(events, expected[i], name);
    }
  }

  it('cancel mid-stream frees the KV at once', async (t) => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1, prefixCache: false });
    // Stopped even when an assertion fails: a live worker keeps the test process up.
    t.after(() => engine.destroy());
    await engine.ready();
    const model = engine.models[0]!;
    const params = { temperature: 0.8, seed: 1, max_tokens: 400, thinking: { mode: 'off' as const } };
    const controller = new AbortController();
    let seen = 0;
    let ending = '';
    for await (const ev of engine.generate(
      { id: 'c1', model: model.name, ...promptFor(model, 'go on and on', params), params },
      controller.signal,
    )) {
      if (ev.type === 'content' && ++seen === 5) {
        assert.ok(engine.stats().kvUsage > 0, 'KV in use while generating');
        controller.abort();
      }
      if (ev.type === 'error') ending = ev.error.code;
      if (ev.type === 'done') ending = 'done';
    }
    assert.equal(ending, 'cancelled');
    await until(
      () => engine.stats().kvUsage === 0 && engine.stats().running === 0 && engine.stats().kvBytes === 0,
    );
    // Breaking out of the loop cancels too.
    for await (const ev of engine.generate({
      id: 'c2',
      model: model.name,
      ...promptFor(model, 'again', params),
      params,
    })) {
      if (ev.type === 'content') break;
    }
    await until(
      () => engine.stats().kvUsage === 0 && engine.stats().running === 0 && engine.stats().kvBytes === 0,
    );
    await engine.close();
  });

  it('the queue limit gives an overloaded error', async (t) => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1, queueLimit: 1 });
    t.after(() => engine.destroy());
    await engine.ready();
    const model = engine.models[0]!;
    const params = { temperature: 0, max_tokens: 50, thinking: { mode: 'off' as const } };
    const req = (id: string) => ({ id, model: model.name, ...promptFor(model, 'hi', params), params });
    const first = engine.generate(req('q1'));
    assert.throws(
      () => engine.generate(req('q2')),
      (e: EngineError) => e.code === 'overloaded',
    );
    for await (const _ of first) {
      // drain
    }
    await engine.close();
  });

  it('close and destroy while a step is in flight let the worker finish it and exit (no native abort)', async () => {
    // Terminating a worker inside session.run aborts the whole process from onnxruntime-node's
    // callback; the engine must wait for the step instead. Several rounds, stopped mid-generation.
    for (let round = 0; round < 16; round++) {
      const engine = createEngine({ checkpointDirs: [dir], threads: 1 });
      await engine.ready();
      const model = engine.models[0]!;
      const params = { temperature: 0.8, seed: round, max_tokens: 400, thinking: { mode: 'off' as const } };
      const events = engine.generate({
        id: `s${round}`,
        model: model.name,
        ...promptFor(model, 'hi', params),
        params,
      });
      let stopped: Promise<void> | undefined;
      let code = '';
      for await (const ev of events) {
        if (ev.type === 'error') code = ev.error.code;
        else if (!stopped) {
          // The worker is running its next step right now.
          if (round % 2 === 0) engine.destroy();
          stopped = round % 2 === 0 ? Promise.resolve() : engine.close(0);
        }
      }
      await stopped;
      await engine.close(); // idempotent; resolves once the worker has exited
      assert.equal(code, 'unavailable');
    }
  });

  it('a dead engine fails waiting clients and reports it', async (t) => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1 });
    t.after(() => engine.destroy());
    await engine.ready();
    const model = engine.models[0]!;
    const params = { temperature: 0.8, seed: 1, max_tokens: 400, thinking: { mode: 'off' as const } };
    const events = engine.generate({
      id: 'd1',
      model: model.name,
      ...promptFor(model, 'hi', params),
      params,
    });
    engine.destroy();
    let code = '';
    for await (const ev of events) if (ev.type === 'error') code = ev.error.code;
    assert.equal(code, 'unavailable');
    assert.notEqual(engine.stats().state, 'ready');
  });
});
