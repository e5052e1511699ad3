import { oneHot } from './bag.ts';
import type { SamplingConfig } from './params.ts';
import type { Rng } from './rng.ts';
import { NO_EDITS, TokenSampler } from './sampler.ts';
import type { Thought, ThoughtStrategy } from './thought.ts';
import type { StepOutput } from './types.ts';

/** Hard thinking: a discrete token drawn with the thinking temperature and truncation. */
export class HardThought implements ThoughtStrategy {
  readonly #sampler: TokenSampler;

  constructor(config: SamplingConfig, tokenizerVocabSize: number, rng: Rng) {
    // Thinking has no penalties or bias: those are answer parameters.
    this.#sampler = new TokenSampler({ config, edits: NO_EDITS, tokenizerVocabSize, rng });
  }

  think(out: StepOutput): Thought {
    const { id } = this.#sampler.sample(out.logits);
    return { shadowId: id, input: oneHot(id) };
  }
}
