import { oneHot } from './bag.ts';
import { DiscreteAnswer } from './discrete-answer.ts';
import { HardThought } from './hard-thinking.ts';
import { LatentThought } from './latent.ts';
import type { ResolvedDecodingParams } from './params.ts';
import { DecodingParamsError } from './resolve-params.ts';
import { deriveSeed, Rng } from './rng.ts';
import { type Scratch, sharedScratch } from './scratch.ts';
import { SoftThought } from './soft-thinking.ts';
import { SuperposedAnswer } from './superposed.ts';
import { ThinkingPhase } from './thinking-phase.ts';
import type { ThoughtStrategy } from './thought.ts';
import type { TokenConstraint } from './token-constraint.ts';
import type { DecodeContext, DecodeResult, SequenceDecoder, StepOutput } from './types.ts';

/** Where a decoder starts. */
export interface DecoderOptions {
  /** The prompt ends inside `<think>` (the chat template opened the thinking block). */
  startsInThinking: boolean;
  /** Index of this decoder's (first) choice: 0..n−1 for n samples; superposed uses k from here. */
  choiceIndex: number;
  /** Prompt ids: repetition penalty and n-gram contexts read them. */
  promptIds?: ArrayLike<number>;
  /** Scratch space; defaults to the process-wide one. */
  scratch?: Scratch;
  /**
   * This choice's structured-output constraint (params.structuredOutput compiled by the engine);
   * it governs the answer only, from the first position after `</think>`.
   */
  constraint?: TokenConstraint | null;
}

/** Either answer strategy; both speak the SequenceDecoder protocol. */
type AnswerPhase = SequenceDecoder;

function thoughtStrategy(
  params: ResolvedDecodingParams,
  ctx: DecodeContext,
  rng: Rng,
  scratch: Scratch,
): ThoughtStrategy {
  const t = params.thinking;
  switch (t.mode) {
    case 'hard':
      return new HardThought(t.sampling, ctx.tokenizerVocabSize, rng);
    case 'soft':
    case 'fuzzy':
      return new SoftThought({
        config: t.sampling,
        noise: t.noise,
        tokenizerVocabSize: ctx.tokenizerVocabSize,
        hiddenSize: ctx.hiddenSize,
        embeddingRms: ctx.embeddingRms,
        rng,
        scratch,
      });
    case 'latent':
      return new LatentThought(ctx.tokenizerVocabSize);
    default:
      throw new DecodingParamsError(`no thought strategy for thinking mode ${t.mode}`);
  }
}

/**
 * A request row's decoder: an optional thinking phase, then the answer (discrete or superposed).
 * Thinking mode 'off' with a prompt that opened `<think>` closes it at once (the marker is the
 * first input), like a template rendering `<think></think>`.
 */
class ComposedDecoder implements SequenceDecoder {
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedDecodingParams;
  readonly #options: DecoderOptions;
  readonly #rng: Rng;
  readonly #scratch: Scratch;
  #thinking: ThinkingPhase | null = null;
  /** Thinking is open but mode 'off' closes it at the first call. */
  #closeAtOnce = false;
  #answer: AnswerPhase | null = null;

  constructor(params: ResolvedDecodingParams, ctx: DecodeContext, options: DecoderOptions) {
    this.#ctx = ctx;
    this.#params = params;
    this.#options = options;
    this.#rng = new Rng(deriveSeed(params.seed, options.choiceIndex));
    this.#scratch = options.scratch ?? sharedScratch;
    if (params.structuredOutput && !options.constraint) {
      throw new DecodingParamsError(
        'structured_output needs its compiled constraint (the engine compiles it)',
      );
    }
    if (!options.startsInThinking) return;
    if (ctx.thinkEndId === null) throw new DecodingParamsError('this checkpoint has no think markers');
    if (params.thinking.mode === 'off') {
      this.#closeAtOnce = true;
      return;
    }
    this.#thinking = new ThinkingPhase({
      ctx,
      params: params.thinking,
      strategy: thoughtStrategy(params, ctx, this.#rng, this.#scratch),
      endId: ctx.thinkEndId,
      choice: options.choiceIndex,
      scratch: this.#scratch,
    });
  }

  next(out: StepOutput): DecodeResult {
    if (this.#closeAtOnce) {
      this.#closeAtOnce = false;
      this.#answer = this.#startAnswer([this.#ctx.thinkEndId!], 1);
      return { input: oneHot(this.#ctx.thinkEndId!), events: [], finished: false };
    }
    if (this.#thinking) {
      const step = this.#thinking.next(out);
      if (step.ended) {
        const thought = this.#thinking.shadowIds;
        this.#answer = this.#startAnswer([...thought, this.#ctx.thinkEndId!], thought.length + 1);
        this.#thinking = null;
      }
      return { input: step.input, events: step.events, finished: false };
    }
    this.#answer ??= this.#startAnswer([], 0);
    return this.#answer.next(out);
  }

  /** The answer phase, given the ids fed since the prompt (for n-gram context) and their count. */
  #startAnswer(thinkingIds: number[], reasoningTokens: number): AnswerPhase {
    const promptIds = this.#options.promptIds ?? [];
    const common = {
      ctx: this.#ctx,
      params: this.#params,
      choice: this.#options.choiceIndex,
      reasoningTokens,
      scratch: this.#scratch,
    };
    if (this.#params.superposition) {
      return new SuperposedAnswer({ ...common, contextIds: [...Array.from(promptIds), ...thinkingIds] });
    }
    return new DiscreteAnswer({ ...common, rng: this.#rng, promptIds, constraint: this.#options.constraint });
  }
}

/**
 * Creates the decoder of one row. For a request with n samples, call it n times with
 * choiceIndex 0..n−1: each gets its own RNG stream, deriveSeed(params.seed, choiceIndex), so a
 * seeded request reproduces whatever else shares the batch.
 *
 * @throws DecodingParamsError when the checkpoint cannot run the requested modes.
 * @example
 * const params = resolveDecodingParams(body, ctx, manifest.defaults);
 * const decoders = Array.from({ length: params.n }, (_, i) =>
 *   createDecoder(params, ctx, { startsInThinking: true, choiceIndex: i, promptIds }));
 */
export function createDecoder(
  params: ResolvedDecodingParams,
  ctx: DecodeContext,
  options: DecoderOptions,
): SequenceDecoder {
  return new ComposedDecoder(params, ctx, options);
}
