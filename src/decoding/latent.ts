import type { Thought, ThoughtStrategy } from './thought.ts';
import { argmax } from './top-k.ts';
import type { StepOutput } from './types.ts';

/**
 * Latent thinking (Coconut): the next input is the last hidden state itself, fed as the additive
 * part of an empty bag. Only for checkpoints trained to read it (`latent` among the manifest's modes).
 */
export class LatentThought implements ThoughtStrategy {
  readonly #vocab: number;

  constructor(tokenizerVocabSize: number) {
    this.#vocab = tokenizerVocabSize;
  }

  think(out: StepOutput): Thought {
    return {
      shadowId: argmax(out.logits, this.#vocab),
      // A copy: `out.hidden` is a view into the runner's buffer, overwritten by the next step.
      input: { ids: new Int32Array(0), weights: new Float32Array(0), add: Float32Array.from(out.hidden) },
    };
  }
}
