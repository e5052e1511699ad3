import { oneHot } from './bag.ts';
import { IncrementalDetokenizer } from './detokenizer.ts';
import { tokenLogprob } from './logprobs.ts';
import type { ResolvedDecodingParams } from './params.ts';
import type { Rng } from './rng.ts';
import { TokenSampler } from './sampler.ts';
import type { Scratch } from './scratch.ts';
import { StopStringMatcher } from './stop-strings.ts';
import type { TokenConstraint } from './token-constraint.ts';
import type { DecodeContext, DecodeEvent, DecodeResult, FinishReason, StepOutput } from './types.ts';

/**
 * The answer of one choice, one sampled token per step, with the request's own parameters. With a
 * constraint (structured outputs) each step samples among the tokens its grammar allows, so the
 * text is always a prefix of a valid output, and complete when the choice ends on a stop token.
 */
export class DiscreteAnswer {
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedDecodingParams;
  readonly #choice: number;
  readonly #reasoningTokens: number;
  readonly #scratch: Scratch;
  readonly #sampler: TokenSampler;
  readonly #text: IncrementalDetokenizer;
  readonly #stops: StopStringMatcher;
  readonly #eos: Set<number>;
  readonly #constraint: TokenConstraint | null;
  #generated = 0;
  #finished = false;

  constructor(options: {
    ctx: DecodeContext;
    params: ResolvedDecodingParams;
    rng: Rng;
    choice: number;
    /** Prompt ids (repetition penalty). */
    promptIds: ArrayLike<number>;
    /** Positions already spent thinking, for the usage report. */
    reasoningTokens: number;
    scratch: Scratch;
    /** The choice's grammar; null: unconstrained. */
    constraint?: TokenConstraint | null;
  }) {
    const { ctx, params } = options;
    this.#ctx = ctx;
    this.#params = params;
    this.#choice = options.choice;
    this.#reasoningTokens = options.reasoningTokens;
    this.#scratch = options.scratch;
    this.#sampler = new TokenSampler({
      config: params.sampling,
      edits: params,
      tokenizerVocabSize: ctx.tokenizerVocabSize,
      rng: options.rng,
      promptIds: options.promptIds,
      scratch: options.scratch,
    });
    this.#text = new IncrementalDetokenizer(ctx.tokenizer);
    this.#stops = new StopStringMatcher(params.stop);
    this.#eos = new Set(ctx.eosIds);
    this.#constraint = options.constraint ?? null;
  }

  next(out: StepOutput): DecodeResult {
    if (this.#finished) return { input: null, events: [], finished: true };
    const constraint = this.#constraint;
    const { id, processed } = this.#sampler.sample(out.logits, constraint?.nextTokenBitmask() ?? null);
    if (constraint && !constraint.accept(id)) {
      throw new Error(`structured output: the grammar refused token ${id} it allowed`);
    }
    this.#generated++;
    if (this.#eos.has(id)) return this.#end('stop', this.#text.flush(), []);

    const content: DecodeEvent = { type: 'content', choice: this.#choice, text: '', tokenIds: [id] };
    if (this.#params.logprobs) {
      content.logprobs = [
        tokenLogprob(processed, id, this.#params.topLogprobs, this.#ctx.tokenizer, this.#scratch),
      ];
    }
    const matched = this.#stops.push(this.#text.push(id));
    content.text = matched.text;
    if (matched.stopped) return this.#close('stop', [content]);
    if (this.#generated >= this.#params.maxTokens) return this.#end('length', this.#text.flush(), [content]);
    return { input: oneHot(id), events: [content], finished: false };
  }

  /** Ends on EOS or length: the detokenizer's and the stop matcher's held text still goes out. */
  #end(reason: FinishReason, tail: string, events: DecodeEvent[]): DecodeResult {
    const matched = this.#stops.push(tail);
    const rest = matched.stopped ? matched.text : matched.text + this.#stops.flush();
    if (rest) {
      const last = events.at(-1);
      if (last?.type === 'content') last.text += rest;
      else events.push({ type: 'content', choice: this.#choice, text: rest, tokenIds: [] });
    }
    return this.#close(matched.stopped ? 'stop' : reason, events);
  }

  #close(reason: FinishReason, events: DecodeEvent[]): DecodeResult {
    this.#finished = true;
    events.push({
      type: 'finish',
      choice: this.#choice,
      reason,
      usage: { reasoningTokens: this.#reasoningTokens, completionTokens: this.#generated },
    });
    return { input: null, events, finished: true };
  }
}
