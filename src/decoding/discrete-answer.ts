import { oneHot } from './bag.ts';
import { IncrementalDetokenizer } from './detokenizer.ts';
import { tokenLogprob } from './logprobs.ts';
import type { ResolvedDecodingParams } from './params.ts';
import type { Rng } from './rng.ts';
import { TokenSampler } from './sampler.ts';
import type { Scratch } from './scratch.ts';
import { StopStringMatcher } from './stop-strings.ts';
import { allowsOtherThan, allowToken, type TokenConstraint } from './token-constraint.ts';
import type { DecodeContext, DecodeEvent, DecodeResult, FinishReason, StepOutput } from './types.ts';

/**
 * The ids that end an answer: the model's EOS ids (unless ignore_eos) and the request's
 * stop_token_ids; and the ids min_tokens bans until it is reached (vLLM bans EOS and the stop
 * ids whether or not EOS is ignored).
 */
export function stopIds(
  ctx: DecodeContext,
  params: ResolvedDecodingParams,
): { stops: Set<number>; banned: number[] } {
  const stops = new Set(params.stopTokenIds);
  if (!params.ignoreEos) for (const id of ctx.eosIds) stops.add(id);
  return { stops, banned: [...new Set([...ctx.eosIds, ...params.stopTokenIds])] };
}

/**
 * The answer of one choice, one sampled token per step, with the request's own parameters. It
 * ends on a stop id (EOS or stop_token_ids), a stop string, or max_tokens (which counts the
 * thinking positions before the answer too, as OpenAI's max_completion_tokens counts reasoning);
 * min_tokens holds off all three stops until that many answer tokens exist.
 *
 * With a constraint (structured outputs) each step samples among the tokens its grammar allows,
 * so the text is always a prefix of a valid output, complete when the choice ends on a stop id
 * (the grammar's stop ids are the request's, see `stopIds`). The grammar outranks min_tokens:
 * where it can only end, its stop ids are allowed; where it allows nothing more (no stop id left:
 * ignore_eos without stop_token_ids) the answer ends there, finish reason stop.
 */
export class DiscreteAnswer {
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedDecodingParams;
  readonly #choice: number;
  readonly #usage: { reasoningTokens: number; thinkingPositions: number; thinkingSteps: number };
  readonly #scratch: Scratch;
  readonly #sampler: TokenSampler;
  readonly #text: IncrementalDetokenizer;
  readonly #stopText: StopStringMatcher;
  readonly #stops: Set<number>;
  readonly #banned: number[];
  /** The think-start marker, while the model may still open a think block by emitting it. */
  #thinkStart: number | null;
  readonly #constraint: TokenConstraint | null;
  #generated: number;
  /** Answer tokens allowed: max_tokens less the thinking positions before the answer. */
  readonly #limit: number;
  #finished = false;

  constructor(options: {
    ctx: DecodeContext;
    params: ResolvedDecodingParams;
    rng: Rng;
    choice: number;
    /** Prompt ids (repetition penalty). */
    promptIds: ArrayLike<number>;
    /** The thinking phase before this answer, for the usage report (zeros when none). */
    usage: { reasoningTokens: number; thinkingPositions: number; thinkingSteps: number };
    scratch: Scratch;
    /** The think-start id when the model may still open thinking itself (no thinking phase yet). */
    thinkStart?: number | null;
    /** Answer tokens generated before a thinking phase that the model opened (they count to max_tokens). */
    generated?: number;
    /** The choice's grammar; null: unconstrained. */
    constraint?: TokenConstraint | null;
  }) {
    const { ctx, params } = options;
    this.#ctx = ctx;
    this.#params = params;
    this.#choice = options.choice;
    this.#usage = options.usage;
    this.#scratch = options.scratch;
    this.#sampler = new TokenSampler({
      config: params.sampling,
      edits: params,
      tokenizerVocabSize: ctx.tokenizerVocabSize,
      rng: options.rng,
      promptIds: options.promptIds,
      scratch: options.scratch,
    });
    this.#text = new IncrementalDetokenizer(ctx.tokenizer, params.text);
    this.#stopText = new StopStringMatcher(params.stop, { include: params.includeStopStr });
    ({ stops: this.#stops, banned: this.#banned } = stopIds(ctx, params));
    this.#thinkStart = options.thinkStart ?? null;
    this.#generated = options.generated ?? 0;
    this.#limit = params.maxTokens - options.usage.thinkingPositions;
    this.#constraint = options.constraint ?? null;
  }

  /** Answer tokens generated so far. */
  get generated(): number {
    return this.#generated;
  }

  next(out: StepOutput): DecodeResult {
    if (this.#finished) return { input: null, events: [], finished: true };
    const vocab = this.#ctx.tokenizerVocabSize;
    const bitmask = this.#constraint?.nextTokenBitmask() ?? null;
    const early =
      this.#generated < this.#params.minTokens && (!bitmask || allowsOtherThan(bitmask, vocab, this.#banned));
    if (bitmask) {
      if (this.#thinkStart !== null) allowToken(bitmask, this.#thinkStart);
      // The grammar is complete and the request left it no stop id to end on.
      if (!allowsOtherThan(bitmask, vocab, [])) return this.#end('stop', this.#text.flush(), []);
    }
    const { id, processed } = this.#sampler.sample(out.logits, {
      bitmask,
      banned: early ? this.#banned : [],
    });
    if (id === this.#thinkStart) {
      // Qwen3 opens its own think block: the marker is a thinking position, not answer text.
      return { input: oneHot(id), events: [], finished: false, opensThinking: true };
    }
    if (this.#constraint && !this.#constraint.accept(id)) {
      throw new Error(`structured output: the grammar refused token ${id} it allowed`);
    }
    this.#generated++;
    if (this.#stops.has(id)) {
      const tail = this.#text.flush() + (this.#params.includeStopStr ? this.#stopTokenText(id) : '');
      return this.#end('stop', tail, []);
    }

    const content: DecodeEvent = { type: 'content', choice: this.#choice, text: '', tokenIds: [id] };
    if (this.#params.logprobs) {
      content.logprobs = [
        tokenLogprob(processed, id, this.#params.topLogprobs, this.#ctx.tokenizer, this.#scratch),
      ];
    }
    const delta = this.#text.push(id);
    // Whitespace before the model's own <think> is still no answer; anything else closes that door.
    if (/\S/.test(delta)) this.#thinkStart = null;
    const matched = this.#stopText.push(delta, this.#generated > this.#params.minTokens);
    content.text = matched.text;
    if (matched.stopped) return this.#close('stop', [content]);
    if (this.#generated >= this.#limit) return this.#end('length', this.#text.flush(), [content]);
    return { input: oneHot(id), events: [content], finished: false };
  }

  /** A stop token's own text, for include_stop_str_in_output (special tokens skipped as the request says). */
  #stopTokenText(id: number): string {
    return this.#ctx.tokenizer.decode([id], { skipSpecialTokens: this.#params.text.skipSpecialTokens });
  }

  /** Ends on a stop id or length: the detokenizer's and the stop matcher's held text still goes out. */
  #end(reason: FinishReason, tail: string, events: DecodeEvent[]): DecodeResult {
    const matched = this.#stopText.push(tail, this.#generated > this.#params.minTokens);
    const rest = matched.stopped ? matched.text : matched.text + this.#stopText.flush();
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
      usage: {
        reasoningTokens: this.#usage.reasoningTokens,
        completionTokens: this.#usage.thinkingPositions + this.#generated,
        thinkingSteps: this.#usage.thinkingSteps,
      },
    });
    return { input: null, events, finished: true };
  }
}
