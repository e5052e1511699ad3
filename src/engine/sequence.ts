import type { BagInput, SequenceDecoder } from '../decoding/types.ts';

/**
 * One row of the engine: a prompt plus every input fed after it. The whole input history is
 * kept, so a preempted sequence is recomputed from its real inputs (soft mixtures, superposed
 * bags, latent vectors), never re-prefilled from token ids.
 */
export class Sequence {
  /** Positions whose KV is in the cache. */
  computed = 0;
  /** `paused`: its reader stalled (flow control); out of the batches until it resumes. */
  status: 'waiting' | 'running' | 'paused' | 'finished' = 'waiting';
  /** Prompt positions served from the prefix cache at the last admission. */
  cachedTokens = 0;
  /** Inputs after the prompt, in order; the last one may not be computed yet. */
  readonly generated: BagInput[] = [];

  constructor(
    /** KV holder id (positive; prefix-cache entries use negative ids). */
    readonly id: number,
    /** Request this row serves; shared by the n samples of a request. */
    readonly requestId: string,
    /** Admission order: preemption takes the newest first. */
    readonly arrival: number,
    readonly promptIds: Int32Array,
    public decoder: SequenceDecoder | null,
  ) {}

  /** Total positions: prompt plus generated inputs. */
  get length(): number {
    return this.promptIds.length + this.generated.length;
  }

  /** Positions still to compute. */
  get pending(): number {
    return this.length - this.computed;
  }
}
