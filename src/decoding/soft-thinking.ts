import { bagOf } from './bag.ts';
import { truncatedDistribution } from './distribution.ts';
import { dirichletReweight, gaussianVector, gumbelReweight } from './noise.ts';
import type { ResolvedNoise, SamplingConfig } from './params.ts';
import type { Rng } from './rng.ts';
import type { Scratch } from './scratch.ts';
import type { Thought, ThoughtStrategy } from './thought.ts';
import { argmax } from './top-k.ts';
import type { StepOutput } from './types.ts';

/**
 * Probability mass a soft token may drop for speed. Without truncation the paper mixes the WHOLE
 * vocabulary; we keep the most likely tokens until 1 − BAG_DROPPED_MASS of the mass is in the bag
 * and drop the rest (whole histogram bins of the least likely tokens, so possibly a little less).
 * The dropped mass is at most 1e-6 whatever the distribution, so after renormalisation the
 * embedding moves by at most 2e-6 · max‖E_i‖. One linear pass, no sort (distribution.ts).
 */
export const BAG_DROPPED_MASS = 1e-6;

/**
 * Soft and fuzzy thinking: the next input is the mixture p = softmax(logits / τ) over the
 * vocabulary (optionally truncated by top_k / top_p / min_p and renormalised), with optional
 * noise. The shadow token is the argmax, taken before any noise.
 */
export class SoftThought implements ThoughtStrategy {
  readonly #config: SamplingConfig;
  readonly #noise: ResolvedNoise | null;
  readonly #vocab: number;
  readonly #hiddenSize: number;
  readonly #embeddingRms: number;
  readonly #rng: Rng;
  readonly #scratch: Scratch;

  constructor(options: {
    config: SamplingConfig;
    noise: ResolvedNoise | null;
    tokenizerVocabSize: number;
    hiddenSize: number;
    embeddingRms: number;
    rng: Rng;
    scratch: Scratch;
  }) {
    this.#config = options.config;
    this.#noise = options.noise;
    this.#vocab = options.tokenizerVocabSize;
    this.#hiddenSize = options.hiddenSize;
    this.#embeddingRms = options.embeddingRms;
    this.#rng = options.rng;
    this.#scratch = options.scratch;
  }

  think(out: StepOutput): Thought {
    const n = this.#vocab;
    const c = truncatedDistribution(out.logits, n, this.#config, this.#scratch, BAG_DROPPED_MASS);
    const noise = this.#noise;
    if (noise?.type === 'dirichlet') dirichletReweight(c.probs, c.count, noise.alpha, this.#rng);
    if (noise?.type === 'gumbel') gumbelReweight(c.probs, c.count, noise.temperature, this.#rng);
    const input = bagOf(c.ids, c.probs, c.count);
    if (noise?.type === 'gaussian') {
      input.add = gaussianVector(this.#rng, this.#hiddenSize, noise.scale * this.#embeddingRms);
    }
    return { shadowId: argmax(out.logits, n), input };
  }
}
