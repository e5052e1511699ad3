import type * as ort from 'onnxruntime-node';
import type { RowStep, StepPlan } from './batch.ts';

/**
 * The KV cache kept where the graph computed it (the GPU's memory with WebGPU) while a decode
 * batch stays the same.
 *
 * Each step of the decoder graph outputs the whole cache it attended over (`cache_key_{l}`, past
 * and new, [B, kvH, T, hd]). A runner with a device-resident cache feeds those tensors straight
 * back as the next step's past, so no KV crosses to the host between steps: only the rows' logits
 * and hidden states come back. The batch is padded, so the device tensor has holes: row b's
 * positions are its `past[b]` positions taken from the host store when residency began, then the
 * slots `start…total` appended on the device since. The attention mask hides the holes and each
 * row's rotary position counts only its own positions.
 *
 * Residency holds while every step is one decode position for exactly the same sequences in the
 * same order, and the step's KV changes leave them alone. Anything else (a request joins or ends, a
 * prefill chunk, a copy out of a resident sequence) first settles: the device positions are
 * downloaded once and appended to the host store, and the step runs the ordinary way.
 */
export class ResidentKv {
  /** Slots of the device tensors (the `total` of [B, kvH, total, hd]). */
  total: number;
  /** `seqs` as a set: every step asks whether the plan touches one of them. */
  readonly #members: ReadonlySet<number>;

  constructor(
    /** The sequences, in row order. */
    readonly seqs: readonly number[],
    /** Each row's positions in the host store (slots 0…past[b] of its row). */
    readonly past: readonly number[],
    /** First device-only slot: the padded past length when residency began. */
    readonly start: number,
    /** `cache_key_{l}` of the last step, per layer. */
    public keys: ort.Tensor[],
    /** `cache_value_{l}` of the last step, per layer. */
    public values: ort.Tensor[],
  ) {
    this.total = start + 1;
    this.#members = new Set(seqs);
  }

  /** Positions of row `b` so far: host ones, then device ones. */
  length(b: number): number {
    return this.past[b]! + this.total - this.start;
  }

  /** Positions of sequence `seq` held on the device (0 if it is not resident). */
  deviceLength(seq: number): number {
    return this.#members.has(seq) ? this.total - this.start : 0;
  }

  /** Whether `plan` can run on the resident cache: same rows, one decode position each, KV untouched. */
  continues(plan: StepPlan): boolean {
    const rows = plan.rows;
    if (rows.length !== this.seqs.length) return false;
    for (let b = 0; b < rows.length; b++)
      if (!isDecodeRow(rows[b]!) || rows[b]!.seq !== this.seqs[b]) return false;
    const touched = this.#members;
    for (const c of plan.copies ?? []) if (touched.has(c.from) || touched.has(c.to)) return false;
    for (const c of plan.forks ?? []) if (touched.has(c.from) || touched.has(c.to)) return false;
    for (const h of plan.frees ?? []) if (touched.has(h)) return false;
    return true;
  }

  /**
   * Opens row `b`'s past in the attention-mask row at `at` (filled with the masked value): its host
   * positions and its device positions, not the holes between them.
   */
  maskPast(mask: Float32Array, at: number, b: number): void {
    mask.fill(0, at, at + this.past[b]!);
    mask.fill(0, at + this.start, at + this.total);
  }

  /**
   * Downloads the device positions (one transfer per tensor) as [B, kvH, total − start, hd] step
   * outputs, which the host store appends like any step's new positions, and releases the device
   * tensors.
   */
  async download(
    heads: number,
    headDim: number,
  ): Promise<{ keys: Float32Array[]; values: Float32Array[]; count: number }> {
    const count = this.total - this.start;
    const take = async (t: ort.Tensor): Promise<Float32Array> => {
      const all = (t.location === 'cpu' ? t.data : await t.getData(true)) as Float32Array;
      const out = new Float32Array(this.seqs.length * heads * count * headDim);
      for (let bh = 0; bh < this.seqs.length * heads; bh++) {
        const from = (bh * this.total + this.start) * headDim;
        out.set(all.subarray(from, from + count * headDim), bh * count * headDim);
      }
      return out;
    };
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < this.keys.length; l++) {
      keys.push(await take(this.keys[l]!));
      values.push(await take(this.values[l]!));
    }
    this.release();
    return { keys, values, count };
  }

  /** Releases the device tensors (a no-op for host ones). */
  release(): void {
    for (const t of [...this.keys, ...this.values]) if (t.location === 'gpu-buffer') t.dispose();
    this.keys = [];
    this.values = [];
  }
}

/** One decode position of one plain or bag input, its last output only. */
export function isDecodeRow(r: RowStep): boolean {
  return r.count === 1 && !r.allPositions;
}
