import type { BagInput, StepOutput } from './types.ts';

/** One thinking step: the token that forms the reasoning text and what the model reads next. */
export interface Thought {
  /** The "shadow" token: argmax for soft/fuzzy/latent, the sampled token for hard. */
  shadowId: number;
  input: BagInput;
}

/** How one thinking mode turns a step's output into the next input (hard, soft, latent). */
export interface ThoughtStrategy {
  think(out: StepOutput): Thought;
}
