import { oneHot } from './bag.ts';
import { IncrementalDetokenizer } from './detokenizer.ts';
import type { ResolvedThinking, TextOptions } from './params.ts';
import type { Scratch } from './scratch.ts';
import { entropy, traceStep } from './thinking-trace.ts';
import type { ThoughtStrategy } from './thought.ts';
import type { BagInput, DecodeContext, DecodeEvent, StepOutput } from './types.ts';

/** One call of the thinking phase. */
export interface ThinkingStep {
  input: BagInput;
  events: DecodeEvent[];
  /** True when `input` is the closing marker: the next output belongs to the answer. */
  ended: boolean;
  /** The thought was a stop id (EOS): the choice ends here, as in vLLM, with no answer. `input` is null. */
  stopped?: boolean;
}

/**
 * The thinking loop shared by every thinking mode. A mode only says how a step's output becomes
 * the next input (ThoughtStrategy); this class decides when thinking ends and reports it:
 *
 * - the shadow token is `</think>` → that marker is fed, one-hot;
 * - the budget (`max_tokens` thoughts) is spent → the marker is forced, one-hot;
 * - Cold Stop: entropy below the threshold for `patience` consecutive steps → the marker is
 *   forced at the `patience`-th such step;
 * - the shadow token is a stop id (EOS) → the whole choice stops, as vLLM stops a generation on
 *   EOS whether or not it is inside a think block.
 */
export class ThinkingPhase {
  /** Shadow tokens so far, one per thinking position (the reasoning text's ids, and any repeated start marker). */
  readonly shadowIds: number[] = [];
  /**
   * Thoughts counted as reasoning: a shadow token that is the start marker again is not counted
   * (vLLM's `count_reasoning_tokens` never counts one). As the first thought it is no reasoning
   * text either (vLLM's parsers strip the output's first `<think>`); later ones stay in the text,
   * as in vLLM's split.
   */
  reasoningTokens = 0;
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedThinking;
  readonly #strategy: ThoughtStrategy;
  readonly #endId: number;
  readonly #choice: number;
  readonly #scratch: Scratch;
  readonly #text: IncrementalDetokenizer;
  readonly #stops: ReadonlySet<number>;
  readonly #startId: number | null;
  #lowEntropySteps = 0;
  /** Thoughts not yet counted in a reasoning event's `tokens`. */
  #uncounted = 0;

  constructor(options: {
    ctx: DecodeContext;
    params: ResolvedThinking;
    strategy: ThoughtStrategy;
    endId: number;
    choice: number;
    scratch: Scratch;
    /** How the reasoning text is decoded (the request's skip_special_tokens). */
    text: TextOptions;
    /** Thoughts that end the whole choice (EOS, stop_token_ids). */
    stops: ReadonlySet<number>;
    /** The start marker, which is no reasoning text when the model repeats it. */
    startId: number | null;
  }) {
    this.#ctx = options.ctx;
    this.#params = options.params;
    this.#strategy = options.strategy;
    this.#endId = options.endId;
    this.#choice = options.choice;
    this.#scratch = options.scratch;
    this.#text = new IncrementalDetokenizer(options.ctx.tokenizer, options.text);
    this.#stops = options.stops;
    this.#startId = options.startId;
  }

  /** Positions spent thinking so far. */
  get positions(): number {
    return this.shadowIds.length;
  }

  next(out: StepOutput): ThinkingStep {
    if (this.shadowIds.length >= this.#params.maxTokens) return this.#end();
    const n = this.#ctx.tokenizerVocabSize;
    const { coldStop, trace } = this.#params;
    const h = coldStop || trace ? entropy(out.logits, n) : Number.NaN;
    if (coldStop) {
      this.#lowEntropySteps = h < coldStop.entropyBelow ? this.#lowEntropySteps + 1 : 0;
      if (this.#lowEntropySteps >= coldStop.patience) return this.#end();
    }
    const thought = this.#strategy.think(out);
    if (thought.shadowId === this.#endId) return this.#end();
    if (this.#stops.has(thought.shadowId)) return { ...this.#end(), stopped: true };
    const marker = thought.shadowId === this.#startId;
    if (!marker) this.reasoningTokens++;
    const text = marker && this.shadowIds.length === 0 ? '' : this.#text.push(thought.shadowId);
    this.shadowIds.push(thought.shadowId);
    this.#uncounted++;
    const events: DecodeEvent[] = [];
    if (text || trace) {
      const event: DecodeEvent = { type: 'reasoning', choice: this.#choice, text, tokens: this.#uncounted };
      this.#uncounted = 0;
      if (trace) {
        event.trace = traceStep({
          logits: out.logits,
          n,
          temperature: this.#params.sampling.temperature,
          k: this.#params.traceTopK,
          shadowId: thought.shadowId,
          entropy: h,
          fed: thought.input,
          tokenizer: this.#ctx.tokenizer,
          scratch: this.#scratch,
        });
      }
      events.push(event);
    }
    return { input: thought.input, events, ended: false };
  }

  /** The reasoning text the detokenizer still holds, as events (when thinking ends, however it ends). */
  flush(): DecodeEvent[] {
    const rest = this.#text.flush();
    if (!rest) return [];
    const tokens = this.#uncounted;
    this.#uncounted = 0;
    return [{ type: 'reasoning', choice: this.#choice, text: rest, ...(tokens && { tokens }) }];
  }

  #end(): ThinkingStep {
    return { input: oneHot(this.#endId), events: this.flush(), ended: true };
  }
}
