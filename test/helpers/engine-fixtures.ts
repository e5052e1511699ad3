import assert from 'node:assert/strict';
import { promptOpensThinking } from '../../src/api/common/decoding.ts';
import type { DecodingParams } from '../../src/decoding/params.ts';
import type { Engine, EngineEvent, GenerateRequest, ModelInfo } from '../../src/engine/types.ts';
import { sharedCheckpoint } from './shared-checkpoint.ts';

/** A tiny checkpoint (latent allowed), shared read-only (see shared-checkpoint.ts). */
export function tinyCheckpoint(seed = 1): Promise<string> {
  return sharedCheckpoint({ seed, latent: true, name: 'tiny' });
}

/** Renders a user message; thinking on unless the mode is off. */
export function promptFor(
  model: ModelInfo,
  text: string,
  params: DecodingParams,
): { prompt: number[]; startsInThinking: boolean } {
  const thinking = params.thinking?.mode !== 'off';
  const rendered = model.chatTemplate!.render([{ role: 'user', content: text }], {
    addGenerationPrompt: true,
    enableThinking: thinking,
  });
  const prompt = model.tokenizer.encode(rendered, { specialTokens: true });
  return { prompt, startsInThinking: promptOpensThinking(model, prompt) };
}

/**
 * Runs one request and returns its events, timings and cache figures stripped (they vary by load).
 * `seen.preemptions` receives how often the engine preempted it.
 */
export async function collect(
  engine: Engine,
  id: string,
  text: string,
  params: DecodingParams,
  seen: { preemptions?: number } = {},
): Promise<unknown[]> {
  const model = engine.models[0]!;
  return collectRequest(engine, { id, model: model.name, ...promptFor(model, text, params), params }, seen);
}

/**
 * `collect` for a request already rendered: tests that need several requests to reach the engine
 * together render every prompt first, then submit them in one go.
 */
export async function collectRequest(
  engine: Engine,
  request: GenerateRequest,
  seen: { preemptions?: number } = {},
): Promise<unknown[]> {
  const events: EngineEvent[] = [];
  for await (const ev of engine.generate(request)) events.push(ev);
  const done = events.find((ev) => ev.type === 'done');
  if (done?.type === 'done') seen.preemptions = done.preemptions;
  return events
    .filter((ev) => ev.type !== 'scheduled')
    .map((ev) => {
      if (ev.type === 'error') return { type: 'error', code: ev.error.code, message: ev.error.message };
      if (ev.type === 'done') return { type: 'done', usage: { ...ev.usage, cachedTokens: 0 } };
      return ev;
    });
}

/** Requests of every mode, each with fixed seeds where they sample; max_tokens counts the thinking budget too. */
export const MIXED: [string, string, DecodingParams][] = [
  ['greedy', 'what is 2+2?', { temperature: 0, max_tokens: 12, thinking: { mode: 'off' } }],
  [
    'sampled-n2',
    'tell me a story',
    { temperature: 0.9, top_p: 0.9, seed: 11, n: 2, max_tokens: 10, thinking: { mode: 'off' } },
  ],
  [
    'hard',
    'is b reachable from a?',
    { temperature: 0, max_tokens: 19, thinking: { mode: 'hard', max_tokens: 10, temperature: 0.7 }, seed: 5 },
  ],
  [
    'soft',
    'compute 12*7',
    { temperature: 0, max_tokens: 21, thinking: { mode: 'soft', max_tokens: 12, trace: true } },
  ],
  [
    'fuzzy-noise',
    'compute 3+4',
    {
      temperature: 0,
      max_tokens: 18,
      seed: 9,
      thinking: { mode: 'fuzzy', max_tokens: 9, noise: { type: 'gaussian', scale: 0.33 } },
    },
  ],
  [
    'latent',
    'path from a to d?',
    { temperature: 0, max_tokens: 15, thinking: { mode: 'latent', max_tokens: 6 } },
  ],
  [
    'superposed',
    'name three colours',
    { max_tokens: 12, superposition: { drafts: 3 }, thinking: { mode: 'soft', max_tokens: 5 } },
  ],
  [
    'stop',
    'say something',
    {
      temperature: 0.5,
      seed: 2,
      max_tokens: 16,
      stop: ['e'],
      logprobs: true,
      top_logprobs: 2,
      thinking: { mode: 'off' },
    },
  ],
];

/** Each MIXED request (events by name, as `collect` returns them) finished with its choices. */
export function assertEveryModeFinished(alone: ReadonlyMap<string, unknown[]>): void {
  assert.deepEqual([...alone.keys()].sort(), MIXED.map(([name]) => name).sort());
  const finishes = (name: string) =>
    alone.get(name)!.filter((e) => (e as { type: string }).type === 'finish');
  for (const [name, events] of alone) {
    const last = events[events.length - 1] as { type: string };
    assert.equal(last.type, 'done', `${name} ended with ${JSON.stringify(last)}`);
    assert.ok(finishes(name).length > 0, name);
  }
  assert.equal(finishes('superposed').length, 3, 'k = 3 superposed drafts are 3 choices');
  assert.equal(finishes('sampled-n2').length, 2, 'n = 2 gives 2 choices');
}

/**
 * Deep equality where numbers may differ by a relative 1e-4: a row's logits move in the last
 * float bits with the batch's shape, which shows in reported probabilities, never in token choices.
 */
export function assertSameEvents(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tol = 1e-4 * Math.max(1, Math.abs(expected)) + 1e-12;
    if (Math.abs(actual - expected) > tol && !(Number.isNaN(actual) && Number.isNaN(expected))) {
      throw new Error(`${path}: ${actual} vs ${expected}`);
    }
    return;
  }
  if (typeof expected !== 'object' || expected === null || typeof actual !== 'object' || actual === null) {
    if (actual !== expected)
      throw new Error(`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    return;
  }
  if (Array.isArray(expected) !== Array.isArray(actual)) throw new Error(`${path}: array vs object`);
  const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const k of keys) {
    assertSameEvents(
      (actual as Record<string, unknown>)[k],
      (expected as Record<string, unknown>)[k],
      `${path}.${k}`,
    );
  }
}
