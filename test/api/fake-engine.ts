import { kvBudget } from '../../src/engine/kv-budget.ts';
import { modelFacts } from '../../src/engine/model-facts.ts';
import { emptyWorkerStats } from '../../src/engine/protocol.ts';
import { resolveRequest } from '../../src/engine/resolve-request.ts';
import {
  type Engine,
  EngineError,
  type EngineEvent,
  type EngineStats,
  type GenerateRequest,
  type ModelInfo,
  type StepSample,
} from '../../src/engine/types.ts';
import { byteTokenizerConfigJson, byteTokenizerJson } from '../../src/model/byte-tokenizer.ts';
import { ChatTemplate } from '../../src/model/chat-template.ts';
import { type Manifest, manifestSchema } from '../../src/model/manifest.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

/**
 * A hand-written `Engine` that replays scripted events, for unit tests of the HTTP layer only
 * (validation, error mapping, SSE framing, WebSocket protocol). It uses the real byte-level
 * tokenizer and chat template; there is no model. Live tests use the real engine.
 */

/** A ModelInfo with reverie's byte-level tokenizer and template. */
export function byteModelInfo(name: string, manifest: Partial<Manifest> = {}, maxModelLen = 1024): ModelInfo {
  const tokenizerConfig = JSON.parse(byteTokenizerConfigJson()) as Record<string, unknown>;
  return modelInfo(name, JSON.parse(byteTokenizerJson()), tokenizerConfig, manifest, maxModelLen);
}

/** A ModelInfo around any tokenizer files (the chat template from tokenizer_config.json). */
export function modelInfo(
  name: string,
  tokenizerJson: object,
  tokenizerConfig: Record<string, unknown>,
  manifest: Partial<Manifest> = {},
  maxModelLen = 1024,
): ModelInfo {
  const tokenizer = new TextTokenizer(tokenizerJson, tokenizerConfig);
  const parsed = manifestSchema.parse({
    format: 'reverie-checkpoint/1',
    name,
    description: 'fake',
    architecture: 'LlamaForCausalLM',
    files: {},
    thinking: { start: '<think>', end: '</think>' },
    modes: ['discrete', 'hard', 'soft', 'fuzzy', 'superposed'],
    ...manifest,
  });
  return {
    name,
    root: `/models/${name}`,
    manifest: parsed,
    facts: modelFacts({ manifest: parsed, tokenizer, maxModelLen }),
    maxModelLen,
    quantization: 'none',
    device: 'cpu',
    kvBudget: kvBudget({
      maxNumSeqs: 4,
      maxModelLen,
      bytesPerPosition: 1024,
      blockSize: 16,
      models: 1,
      freeBytes: 2 ** 30,
    }),
    tokenizer,
    chatTemplate: ChatTemplate.fromTokenizerConfig(tokenizerConfig),
    created: 1_700_000_000,
  };
}

export type Script = (
  request: GenerateRequest,
  signal: AbortSignal | undefined,
) => AsyncIterable<EngineEvent>;

/** A ModelInfo with the byte tokenizer and a real family's chat template (8192 positions). */
export function byteModelWithTemplate(name: string, chatTemplate: string): ModelInfo {
  const tokenizerConfig = { ...JSON.parse(byteTokenizerConfigJson()), chat_template: chatTemplate };
  return modelInfo(name, JSON.parse(byteTokenizerJson()), tokenizerConfig, {}, 8192);
}

/**
 * Answers `text` in choice 0, three bytes a piece (tags and JSON arrive cut anywhere, as from a
 * real model), after thinking `thought` when given; `fail` ends it with an engine error instead
 * of a finish.
 */
export function answerScript(text: string, options: { thought?: string; fail?: boolean } = {}): Script {
  return async function* (request: GenerateRequest): AsyncIterable<EngineEvent> {
    yield { type: 'scheduled' };
    if (options.thought) yield { type: 'reasoning', choice: 0, text: options.thought, tokens: 1 };
    for (const piece of text.match(/[\s\S]{1,3}/g) ?? [])
      yield { type: 'content', choice: 0, text: piece, tokenIds: [...Buffer.from(piece)] };
    if (options.fail) {
      yield { type: 'error', error: new EngineError('internal_error', 'the runner failed') };
      return;
    }
    const tokens = Buffer.byteLength(text) + (options.thought ? 1 : 0);
    const reasoningTokens = options.thought ? 1 : 0;
    yield {
      type: 'finish',
      choice: 0,
      reason: 'stop',
      usage: { reasoningTokens, completionTokens: tokens, thinkingSteps: reasoningTokens },
    };
    yield {
      type: 'done',
      usage: {
        promptTokens: request.prompt.length,
        completionTokens: tokens,
        reasoningTokens,
        cachedTokens: 0,
      },
      timings: { queueMs: 1, prefillMs: 1, firstTokenMs: 1, totalMs: 1 },
      preemptions: 0,
    };
  };
}

/** Thinks "hm" (when the prompt opened a think block), answers "Hello world" in each choice. */
export async function* defaultScript(request: GenerateRequest): AsyncIterable<EngineEvent> {
  yield { type: 'scheduled' };
  const n = request.params.superposition?.drafts ?? request.params.n ?? 1;
  let reasoning = 0;
  if (request.startsInThinking && request.params.thinking?.mode !== 'off') {
    for (const [i, t] of ['h', 'm'].entries()) {
      reasoning++;
      yield {
        type: 'reasoning',
        choice: 0,
        text: t,
        ...(request.params.thinking?.trace && {
          trace: {
            shadowId: 104 + i * 5,
            shadowToken: t,
            top: [{ id: 104, token: 'h', p: 0.9, fed: 1 }],
            entropy: 0.5,
          },
        }),
      };
    }
  }
  for (let c = 0; c < n; c++) {
    for (const piece of ['Hello', ' world']) {
      const ids = [...Buffer.from(piece)];
      yield {
        type: 'content',
        choice: c,
        text: piece,
        tokenIds: ids,
        ...(request.params.logprobs && {
          logprobs: ids.map((id) => ({
            id,
            token: String.fromCharCode(id),
            logprob: -0.5,
            top_logprobs: [{ id, token: String.fromCharCode(id), logprob: -0.5 }].slice(
              0,
              request.params.top_logprobs ?? 0,
            ),
          })),
        }),
      };
    }
    yield {
      type: 'finish',
      choice: c,
      reason: 'stop',
      usage: { reasoningTokens: reasoning, completionTokens: 11 + reasoning, thinkingSteps: reasoning },
    };
  }
  yield {
    type: 'done',
    usage: {
      promptTokens: request.prompt.length,
      completionTokens: 11 * n + reasoning,
      reasoningTokens: reasoning,
      cachedTokens: 0,
    },
    timings: { queueMs: 1, prefillMs: 1, firstTokenMs: 2, totalMs: 3 },
    preemptions: 0,
  };
}

/** Scripted engine; records every request and cancellation. */
export class FakeEngine implements Engine {
  readonly models: ModelInfo[];
  readonly requests: GenerateRequest[] = [];
  readonly cancelled: string[] = [];
  state: EngineStats['state'] = 'ready';
  script: Script;
  /** Throws an EngineError to refuse a request at submission (as the real engine does). */
  admit: (request: GenerateRequest) => void = () => {};

  constructor(options: { models?: ModelInfo[]; script?: Script } = {}) {
    this.models = options.models ?? [byteModelInfo('tiny')];
    this.script = options.script ?? defaultScript;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  stats(): EngineStats {
    return {
      ...emptyWorkerStats(),
      state: this.state,
      kvUsage: 0.25,
      prefixCacheUsage: 0.125,
      kvBytes: 1024,
      paused: 0,
      bufferedEvents: 0,
      pauses: 0,
      resumes: 0,
      stallCancels: 0,
    };
  }

  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent> {
    if (this.state !== 'ready') throw new EngineError('unavailable', `the engine is ${this.state}`);
    const model = this.models.find((m) => m.name === request.model);
    if (!model)
      throw new EngineError('model_not_found', `the model ${request.model} does not exist`, 'model');
    // Refuses what the real engine refuses, with the same resolution of the parameters.
    resolveRequest(request, model.facts);
    this.admit(request);
    this.requests.push(request);
    const source = this.script(request, signal);
    // A live request is cancelled once, as by the real engine: by an abort or by its reader leaving.
    let live = true;
    const cancel = () => {
      if (!live) return;
      live = false;
      this.cancel(request.id);
    };
    const end = () => {
      live = false;
      signal?.removeEventListener('abort', cancel);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const ev of source) {
            if (signal?.aborted) {
              end();
              yield { type: 'error', error: new EngineError('cancelled', 'cancelled') };
              return;
            }
            if (ev.type === 'done' || ev.type === 'error') end();
            yield ev;
          }
        } finally {
          cancel();
        }
      },
    };
  }

  cancel(id: string): void {
    this.cancelled.push(id);
  }

  readonly #stepListeners = new Set<(step: StepSample) => void>();

  onStep(listener: (step: StepSample) => void): () => void {
    this.#stepListeners.add(listener);
    return () => this.#stepListeners.delete(listener);
  }

  /** Reports a step to the listeners, as the real engine does after each forward. */
  step(sample: StepSample): void {
    for (const listener of this.#stepListeners) listener(sample);
  }

  close(): Promise<void> {
    this.state = 'closed';
    return Promise.resolve();
  }

  destroy(): void {
    this.state = 'closed';
  }
}
