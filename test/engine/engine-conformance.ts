import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DecodingParams, Engine, EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { EngineError } from '../../src/engine/types.ts';

/**
 * What every `Engine` must do, as the API relies on it: one suite, run against the worker engine
 * (real tiny model) and the scripted `FakeEngine` the HTTP tests use, so the fake cannot drift
 * from the real thing. Content is each implementation's own; the protocol is common.
 */

export interface EngineHarness {
  start(): Promise<Engine>;
  /** How many cancels of request `id` reached the engine's core (the worker, the script). */
  cancelsOf(id: string): number;
  /** The KV bytes per position its budget must be derived from, when known. */
  kvBytesPerPosition?: number;
}

const LONG: DecodingParams = { temperature: 0, max_tokens: 200, ignore_eos: true, thinking: { mode: 'off' } };

export function engineConformance(name: string, harness: EngineHarness): void {
  describe(`Engine conformance: ${name}`, () => {
    let engine: Engine;
    let seq = 0;
    const request = (params: DecodingParams, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
      id: `${name}-${++seq}`,
      model: engine.models[0]!.name,
      prompt: [...Buffer.from('hello')],
      startsInThinking: false,
      params,
      ...extra,
    });
    const refusal = (req: GenerateRequest, code: string, param: string | null) => () =>
      assert.throws(
        () => engine.generate(req),
        (e: unknown) => e instanceof EngineError && e.code === code && e.param === param,
        JSON.stringify(req.params),
      );

    before(async () => {
      engine = await harness.start();
      await engine.ready();
    });
    after(async () => {
      await engine.close();
    });

    it('lists its models with the facts requests are resolved against', () => {
      const model = engine.models[0]!;
      assert.equal(model.facts.name, model.name);
      assert.equal(model.facts.maxModelLen, model.maxModelLen);
      assert.ok(model.facts.tokenizerVocabSize <= model.tokenizer.vocabSize);
      if (harness.kvBytesPerPosition !== undefined)
        assert.equal(model.kvBudget.bytesPerPosition, harness.kvBytesPerPosition);
    });

    it('refuses at submission, synchronously, with a coded error naming the parameter', () => {
      refusal(request({}, { model: 'nope' }), 'model_not_found', 'model')();
      refusal(request({ temperature: 3 }), 'invalid_value', 'temperature')();
      refusal(request({ max_tokens: engine.models[0]!.maxModelLen }), 'invalid_value', 'max_tokens')();
      refusal(
        request({ thinking: { mode: 'latent', trace_top_k: 0 } }),
        'invalid_value',
        'thinking.trace_top_k',
      )();
      refusal(request({ n: 2, superposition: { drafts: 2 } }), 'invalid_value', 'n')();
    });

    it('reports scheduled first, one finish per choice, and done last', async () => {
      const events: EngineEvent[] = [];
      for await (const ev of engine.generate(
        request({ temperature: 0, max_tokens: 4, n: 2, thinking: { mode: 'off' } }),
      ))
        events.push(ev);
      assert.equal(events[0]?.type, 'scheduled');
      const last = events.at(-1);
      assert.equal(last?.type, 'done');
      const finishes = events.flatMap((e) => (e.type === 'finish' ? [e.choice] : []));
      assert.deepEqual([...finishes].sort(), [0, 1]);
      assert.equal(last?.type === 'done' && last.usage.promptTokens, 5);
    });

    it('cancels once when the signal aborts and the reader then leaves', async () => {
      const abort = new AbortController();
      const req = request(LONG);
      const events: EngineEvent[] = [];
      for await (const ev of engine.generate(req, abort.signal)) {
        events.push(ev);
        if (ev.type === 'content') abort.abort();
        if (events.length > 3) break;
      }
      await settle();
      assert.equal(harness.cancelsOf(req.id), 1);
    });

    it('cancels once when the reader leaves and the signal then aborts', async () => {
      const abort = new AbortController();
      const req = request(LONG);
      for await (const ev of engine.generate(req, abort.signal)) if (ev.type === 'content') break;
      abort.abort();
      await settle();
      assert.equal(harness.cancelsOf(req.id), 1);
    });

    it('does not cancel a request that ended, whatever aborts after', async () => {
      const abort = new AbortController();
      const req = request({ temperature: 0, max_tokens: 2, thinking: { mode: 'off' } });
      for await (const _ of engine.generate(req, abort.signal));
      abort.abort();
      await settle();
      assert.equal(harness.cancelsOf(req.id), 0);
    });

    it('an aborted request ends with a cancelled error', async () => {
      const abort = new AbortController();
      const events: EngineEvent[] = [];
      for await (const ev of engine.generate(request(LONG), abort.signal)) {
        events.push(ev);
        if (ev.type === 'content') abort.abort();
      }
      const last = events.at(-1);
      assert.ok(last?.type === 'error' && last.error.code === 'cancelled', JSON.stringify(last));
    });
  });
}

/** Lets messages to and from a worker go round. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}
