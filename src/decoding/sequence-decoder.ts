import { oneHot } from './bag.ts';
import { DiscreteAnswer, stopIds } from './discrete-answer.ts';
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
import type { DecodeContext, DecodeEvent, DecodeResult, SequenceDecoder, StepOutput } from './types.ts';

/** Where a decoder starts. */
export interface DecoderOptions {
  /** The prompt ends inside an open think block (see `opensThinkBlock`). */
  startsInThinking: boolean;
  /** Index of this decoder's (first) choice: 0..n−1 for n samples; superposed uses k from here. */
  choiceIndex: number;
  /** Prompt ids: repetition penalty and n-gram contexts read them. */
  promptIds?: ArrayLike<number>;
  /** Scratch space; defaults to the process-wide one. */
  scratch?: Scratch;
  /**
   * This choice's structured-output constraint (params.structuredOutput compiled by the engine);
   * it governs the answer only: from the first position after `</think>`, or from the first
   * position when no block is open — there, while the model may still open one (no visible text
   * yet, thinking mode not 'off'), the think-start marker is allowed besides the grammar's tokens.
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

/** Thinking so far, for the usage report. */
interface ThinkingUsage {
  /** Thoughts (what reasoning_content holds). */
  reasoningTokens: number;
  /** Generated positions of the think block: thoughts plus the markers generated or forced. */
  thinkingPositions: number;
  /** Thoughts (thinking steps). */
  thinkingSteps: number;
}

const NO_THINKING: ThinkingUsage = { reasoningTokens: 0, thinkingPositions: 0, thinkingSteps: 0 };

/**
 * A request row's decoder: an optional thinking phase, then the answer (discrete or superposed).
 * Thinking starts where the prompt ends inside an open think block, or where the model emits the
 * think-start marker itself before any visible answer text (Qwen3 does, as its first token); the
 * request's thinking mode applies from the next position. Mode 'off' closes a block opened
 * either way at once (the end marker is the next input), like a template rendering
 * `<think></think>`.
 */
class ComposedDecoder implements SequenceDecoder {
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedDecodingParams;
  readonly #options: DecoderOptions;
  readonly #rng: Rng;
  readonly #scratch: Scratch;
  readonly #stops: ReadonlySet<number>;
  #thinking: ThinkingPhase | null = null;
  /** Thinking is open but mode 'off' closes it at the next call. */
  #closeAtOnce = false;
  #answer: AnswerPhase | null = null;
  /** The model may still open a think block by emitting the start marker. */
  #mayOpen: boolean;
  /** 1 when the model emitted the start marker itself (a generated thinking position). */
  #opened = 0;
  /** Answer tokens generated before the model opened its think block. */
  #lead = 0;

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
    this.#stops = stopIds(ctx, params).stops;
    const markers = ctx.thinkStartId !== null && ctx.thinkEndId !== null;
    this.#mayOpen = markers && !options.startsInThinking && !params.superposition;
    if (!options.startsInThinking) return;
    if (!markers) throw new DecodingParamsError('this checkpoint has no think markers');
    this.#openThinking();
  }

  #openThinking(): void {
    this.#mayOpen = false;
    if (this.#params.thinking.mode === 'off') {
      this.#closeAtOnce = true;
      return;
    }
    this.#thinking = new ThinkingPhase({
      ctx: this.#ctx,
      params: this.#params.thinking,
      strategy: thoughtStrategy(this.#params, this.#ctx, this.#rng, this.#scratch),
      endId: this.#ctx.thinkEndId!,
      choice: this.#options.choiceIndex,
      scratch: this.#scratch,
      text: this.#params.text,
      stops: this.#stops,
      startId: this.#ctx.thinkStartId,
    });
  }

  next(out: StepOutput): DecodeResult {
    const endId = this.#ctx.thinkEndId!;
    if (this.#closeAtOnce) {
      this.#closeAtOnce = false;
      const usage = { reasoningTokens: 0, thinkingPositions: this.#opened + 1, thinkingSteps: 0 };
      if (this.#spent(usage.thinkingPositions)) return this.#length([], usage);
      this.#answer = this.#startAnswer([endId], usage);
      return { input: oneHot(endId), events: [], finished: false };
    }
    if (this.#thinking) {
      const step = this.#thinking.next(out);
      const thought = this.#thinking.shadowIds;
      const reasoningTokens = this.#thinking.reasoningTokens;
      const usage = {
        reasoningTokens,
        thinkingPositions: this.#opened + thought.length + 1,
        thinkingSteps: thought.length,
      };
      if (step.stopped) {
        // EOS while thinking ends the choice: no answer, the EOS is its last generated position.
        const completionTokens = this.#opened + thought.length + 1 + this.#lead;
        const finish: DecodeEvent = {
          type: 'finish',
          choice: this.#options.choiceIndex,
          reason: 'stop',
          usage: { reasoningTokens, completionTokens, thinkingSteps: thought.length },
        };
        return { input: null, events: [...step.events, finish], finished: true };
      }
      if (step.ended) {
        this.#thinking = null;
        if (this.#spent(usage.thinkingPositions)) return this.#length(step.events, usage);
        this.#answer = this.#startAnswer([...thought, endId], usage);
      } else if (this.#spent(usage.thinkingPositions - 1)) {
        // max_tokens ran out inside the think block: the choice ends there (finish "length").
        return this.#length([...step.events, ...this.#thinking.flush()], {
          ...usage,
          thinkingPositions: usage.thinkingPositions - 1,
        });
      }
      return { input: step.input, events: step.events, finished: false };
    }
    this.#answer ??= this.#startAnswer([], NO_THINKING);
    const result = this.#answer.next(out);
    if (!result.opensThinking) return result;
    this.#lead = (this.#answer as DiscreteAnswer).generated;
    this.#opened = 1;
    this.#answer = null;
    if (this.#spent(1)) return this.#length(result.events, { ...NO_THINKING, thinkingPositions: 1 });
    this.#openThinking();
    return { input: result.input, events: result.events, finished: false };
  }

  /** Whether `thinkingPositions` and the answer tokens before them fill max_tokens. */
  #spent(thinkingPositions: number): boolean {
    return thinkingPositions + this.#lead >= this.#params.maxTokens;
  }

  /**
   * Ends the choice at max_tokens before its answer could start; superposed, every draft's choice
   * ends with it (the shared thinking is reported on the first, as the drafts report it).
   */
  #length(events: DecodeEvent[], usage: ThinkingUsage): DecodeResult {
    const first = this.#options.choiceIndex;
    const choices = this.#params.superposition?.drafts ?? 1;
    const finishes = Array.from(
      { length: choices },
      (_, i): DecodeEvent => ({
        type: 'finish',
        choice: first + i,
        reason: 'length',
        usage:
          i === 0
            ? {
                reasoningTokens: usage.reasoningTokens,
                completionTokens: usage.thinkingPositions + this.#lead,
                thinkingSteps: usage.thinkingSteps,
              }
            : { reasoningTokens: 0, completionTokens: 0, thinkingSteps: 0 },
      }),
    );
    return { input: null, events: [...events, ...finishes], finished: true };
  }

  /** The answer phase, given the ids fed since the prompt (for n-gram context) and the thinking usage. */
  #startAnswer(thinkingIds: number[], usage: ThinkingUsage): AnswerPhase {
    const promptIds = this.#options.promptIds ?? [];
    const common = {
      ctx: this.#ctx,
      params: this.#params,
      choice: this.#options.choiceIndex,
      usage,
      scratch: this.#scratch,
    };
    if (this.#params.superposition) {
      return new SuperposedAnswer({ ...common, contextIds: [...Array.from(promptIds), ...thinkingIds] });
    }
    const constraint = this.#options.constraint ?? null;
    // Under a grammar the marker is let through only where the request may think: with mode 'off'
    // the answer is constrained from its first token (unconstrained, 'off' closes the block at once).
    const thinkable = this.#mayOpen && !(constraint && this.#params.thinking.mode === 'off');
    return new DiscreteAnswer({
      ...common,
      rng: this.#rng,
      promptIds,
      thinkStart: thinkable ? this.#ctx.thinkStartId : null,
      generated: this.#lead,
      constraint,
    });
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
