import { drawCandidate, drawFromSoftmax, truncatedDistribution } from './distribution.ts';
import { type LogitEdits, PenaltyState, processLogits, type StepMask } from './logits-processors.ts';
import type { SamplingConfig } from './params.ts';
import type { Rng } from './rng.ts';
import { type Scratch, sharedScratch } from './scratch.ts';
import { argmax } from './top-k.ts';

/** A sampled token and the logits it was drawn from (for logprobs; valid until the next call). */
export interface SampledToken {
  id: number;
  /** Logits after steps 1–4 of the transform order, length tokenizerVocabSize. */
  processed: Float32Array;
}

/**
 * Discrete sampling for one choice: the transform order of logits-processors.ts, then a draw.
 * Greedy (T = 0 or top_k = 1) is an argmax over the processed logits with no softmax at all.
 */
export class TokenSampler {
  readonly penalties: PenaltyState;
  readonly #config: SamplingConfig;
  readonly #edits: LogitEdits;
  readonly #vocab: number;
  readonly #rng: Rng;
  readonly #scratch: Scratch;

  constructor(options: {
    config: SamplingConfig;
    edits: LogitEdits;
    tokenizerVocabSize: number;
    rng: Rng;
    promptIds?: ArrayLike<number>;
    scratch?: Scratch;
  }) {
    this.#config = options.config;
    this.#edits = options.edits;
    this.#vocab = options.tokenizerVocabSize;
    this.#rng = options.rng;
    this.#scratch = options.scratch ?? sharedScratch;
    this.penalties = new PenaltyState(options.promptIds ?? [], options.edits.repetitionPenalty !== 1);
  }

  /** Whether this sampler always takes the argmax. */
  get isGreedy(): boolean {
    return this.#config.temperature === 0 || this.#config.topK === 1;
  }

  /**
   * Draws the next token from raw logits and records it in the penalty history.
   * @param mask this step's forbidden ids: a grammar's bitmask (structured outputs), min_tokens' stop ids
   */
  sample(rawLogits: Float32Array, mask: StepMask = {}): SampledToken {
    const processed = processLogits(rawLogits, this.#vocab, this.#edits, this.penalties, this.#scratch, mask);
    const id = this.isGreedy ? argmax(processed, this.#vocab) : this.#draw(processed);
    this.penalties.record(id);
    return { id, processed };
  }

  /** A draw at T > 0; plain temperature sampling skips building a candidate list. */
  #draw(processed: Float32Array): number {
    const c = this.#config;
    const u = this.#rng.next();
    if (c.topK === 0 && c.topP === 1 && c.minP === 0) {
      return drawFromSoftmax(processed, this.#vocab, c.temperature, u, this.#scratch);
    }
    return drawCandidate(truncatedDistribution(processed, this.#vocab, c, this.#scratch), u);
  }
}

/** Edits that change nothing (thinking samples with its own temperature and truncation only). */
export const NO_EDITS: LogitEdits = {
  logitBias: new Map(),
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
};
