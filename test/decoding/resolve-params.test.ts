import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildNgramStore } from '../../src/decoding/ngram-build.ts';
import { DecodingParamsError, resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import { createDecoder } from '../../src/decoding/sequence-decoder.ts';
import { makeContext } from './helpers.ts';

const ctx = makeContext();

describe('resolveDecodingParams', () => {
  it('fills the documented defaults', () => {
    const r = resolveDecodingParams({}, ctx);
    assert.deepEqual(r.sampling, { temperature: 1, topK: 0, topP: 1, minP: 0 });
    // No max_tokens and no checkpoint default: what the model length leaves (here, no prompt: all of it).
    assert.equal(r.maxTokens, ctx.maxModelLen);
    assert.equal(r.n, 1);
    assert.deepEqual(r.stop, []);
    assert.ok(Number.isSafeInteger(r.seed));
    assert.equal(r.thinking.mode, 'hard');
    assert.equal(r.thinking.maxTokens, 512);
    assert.equal(r.thinking.noise, null);
    assert.equal(r.superposition, null);
  });

  it('uses the checkpoint defaults when the request names none', () => {
    const r = resolveDecodingParams(
      { max_tokens: 9 },
      { ...ctx, defaults: { temperature: 0, max_tokens: 99, thinking_mode: 'soft' } },
    );
    assert.equal(r.sampling.temperature, 0);
    assert.equal(r.maxTokens, 9);
    assert.equal(r.thinking.mode, 'soft');
  });

  it('gives each thinking mode its τ: hard 1, soft 0.5, fuzzy 1e-4', () => {
    const tau = (mode: 'hard' | 'soft' | 'fuzzy') =>
      resolveDecodingParams({ thinking: { mode } }, ctx).thinking.sampling.temperature;
    assert.deepEqual([tau('hard'), tau('soft'), tau('fuzzy')], [1, 0.5, 1e-4]);
  });

  it('takes superposition defaults per k, and α = 0 without an n-gram store', () => {
    const without = resolveDecodingParams({ superposition: { drafts: 3 } }, ctx).superposition!;
    assert.deepEqual(without, {
      drafts: 3,
      alpha: 0,
      temperature: 0.06,
      candidates: 9,
      lambdas: [0.01, 0.04, 0.15, 0.18, 0.12],
      penalty: 200,
    });
    const withStore = makeContext({ ngram: buildNgramStore([[1, 2, 3]], 261) });
    assert.equal(
      resolveDecodingParams({ superposition: { drafts: 2 } }, withStore).superposition!.alpha,
      0.62,
    );
    assert.equal(
      resolveDecodingParams({ superposition: { drafts: 2, ngram: false } }, withStore).superposition!.alpha,
      0,
    );
    assert.equal(
      resolveDecodingParams({ superposition: { drafts: 10 } }, ctx).superposition!.temperature,
      0.12,
    );
  });

  it('rejects invalid values with a coded error naming the field', () => {
    const bad: [object, RegExp, string][] = [
      [{ temperature: -1 }, /temperature/, 'temperature'],
      // One schema for the API and the engine: the API's ranges (temperature ≤ 2, OpenAI's).
      [{ temperature: 3 }, /temperature/, 'temperature'],
      [{ repetition_penalty: 0 }, /repetition_penalty/, 'repetition_penalty'],
      [{ top_p: 0 }, /top_p/, 'top_p'],
      [{ logit_bias: { 999: 1 } }, /logit_bias/, 'logit_bias'],
      [{ logit_bias: { 5: 101 } }, /logit_bias/, 'logit_bias.5'],
      [{ top_logprobs: 3 }, /needs logprobs/, 'top_logprobs'],
      [{ stop: [''] }, /stop/, 'stop[0]'],
      [{ n: 2, superposition: { drafts: 3 } }, /n must be 1/, 'n'],
      [{ superposition: { drafts: 3, candidates: 2 } }, /candidates/, 'superposition.candidates'],
      [{ thinking: { mode: 'hard', noise: { type: 'gaussian', scale: 0.3 } } }, /noise/, 'thinking.noise'],
      [{ thinking: { mode: 'latent' } }, /latent/, 'thinking.mode'],
      [{ thinking: { cold_stop: { entropy_below: 1 } } }, /patience/, 'thinking.cold_stop.patience'],
      [{ structured_output: { type: 'regex', pattern: '' } }, /pattern/, 'structured_output.pattern'],
      [{ depth: 3 }, /depth/, 'depth'],
    ];
    const noLatent = makeContext({ modes: ['discrete', 'hard', 'soft', 'fuzzy', 'superposed'] });
    for (const [params, message, param] of bad) {
      assert.throws(
        () => resolveDecodingParams(params, noLatent),
        (e: unknown) => e instanceof DecodingParamsError && e.param === param && message.test(e.message),
        JSON.stringify(params),
      );
    }
  });

  it('fits max_tokens, thinking included, beside the prompt; the default is the room left', () => {
    const small = makeContext({ maxModelLen: 64, defaults: { max_tokens: 256, thinking_max_tokens: 16 } });
    const prompt = { length: 20, startsInThinking: true };
    // No max_tokens: the checkpoint default, cut to the room left (64 − 20), as vLLM.
    assert.equal(resolveDecodingParams({}, small, prompt).maxTokens, 44);
    assert.equal(resolveDecodingParams({ max_tokens: 44 }, small, prompt).maxTokens, 44);
    const tooMany = () => resolveDecodingParams({ max_tokens: 45 }, small, prompt);
    assert.throws(tooMany, (e: unknown) => e instanceof DecodingParamsError && e.param === 'max_tokens');
    // A thinking budget beyond the room is no error: max_tokens bounds the thinking too.
    const big = resolveDecodingParams({ thinking: { max_tokens: 60 } }, small, prompt);
    assert.deepEqual([big.maxTokens, big.thinking.maxTokens], [44, 60]);
    const full = () => resolveDecodingParams({}, small, { length: 64, startsInThinking: false });
    assert.throws(
      full,
      (e: unknown) =>
        e instanceof DecodingParamsError && e.param === 'messages' && e.code === 'context_length_exceeded',
    );
    const noDefault = makeContext({ maxModelLen: 64, defaults: {} });
    assert.equal(resolveDecodingParams({}, noDefault, prompt).maxTokens, 44, 'no fixed 256');
  });

  it('reasoning_effort sets the thinking budget; thinking.max_tokens wins', () => {
    const budget = (p: object) => resolveDecodingParams(p, ctx).thinking.maxTokens;
    assert.equal(budget({ reasoning_effort: 'low' }), 1024);
    assert.equal(budget({ reasoning_effort: 'medium' }), 8192);
    assert.equal(budget({ reasoning_effort: 'high' }), 24576);
    assert.equal(budget({ reasoning_effort: 'high', thinking: { max_tokens: 7 } }), 7);
    assert.equal(budget({}), 512, "no effort: the checkpoint's budget, else 512");
    assert.throws(
      () => resolveDecodingParams({ reasoning_effort: 'max' }, ctx),
      (e: unknown) => e instanceof DecodingParamsError && e.param === 'reasoning_effort',
    );
  });

  it('refuses to think on a checkpoint without think markers', () => {
    const plain = makeContext({ thinkStartId: null, thinkEndId: null });
    const r = resolveDecodingParams({}, plain);
    assert.throws(
      () => createDecoder(r, plain, { startsInThinking: true, choiceIndex: 0 }),
      DecodingParamsError,
    );
    assert.doesNotThrow(() => createDecoder(r, plain, { startsInThinking: false, choiceIndex: 0 }));
  });
});
