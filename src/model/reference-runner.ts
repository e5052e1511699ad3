import { applyKvChanges, emptyResult, type Runner, type StepPlan, type StepResult } from './batch.ts';
import type { ModelConfig } from './hf-config.ts';
import { type ReferenceCache, ReferenceModel } from './reference-forward.ts';
import type { Tensor } from './safetensors.ts';

/**
 * The float64 reference forward (reference-forward.ts) behind the engine's `Runner` interface,
 * KV-cached: a second implementation of the runner boundary, written independently of the ONNX
 * graph, against which the runner conformance suite checks the ONNX runner (and the engine can
 * run on, slowly: tests on tiny models only).
 */
export class ReferenceRunner implements Runner {
  readonly kvBlockSize: number;
  /** Keys and values of every layer, float64. */
  readonly kvBytesPerPosition: number;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly #model: ReferenceModel;
  readonly #caches = new Map<number, ReferenceCache>();
  #forwardMs = 0;

  /** @param options.kvBlockSize positions per KV block the engine accounts in (default 16) */
  constructor(cfg: ModelConfig, weights: Map<string, Tensor>, options: { kvBlockSize?: number } = {}) {
    this.#model = new ReferenceModel(cfg, weights);
    this.kvBlockSize = options.kvBlockSize ?? 16;
    this.kvBytesPerPosition = 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim * 8;
    this.vocabSize = cfg.vocabSize;
    this.hiddenSize = cfg.hiddenSize;
  }

  get forwardMs(): number {
    return this.#forwardMs;
  }

  kvLength(holder: number): number {
    return this.#caches.get(holder)?.[0]?.keys.length ?? 0;
  }

  /** Distinct cached positions (a shared prefix counted once) × bytes per position. */
  kvBytes(): number {
    const seen = new Set<Float64Array>();
    for (const cache of this.#caches.values()) for (const k of cache[0]?.keys ?? []) seen.add(k);
    return seen.size * this.kvBytesPerPosition;
  }

  async step(plan: StepPlan): Promise<StepResult> {
    applyKvChanges(plan, {
      // Cached position arrays are never written again: a copy may share them, a fork may not.
      share: (from, to, length) =>
        this.#caches.set(
          to,
          this.#prefix(from, length, (a) => a),
        ),
      fork: (from, to, length) =>
        this.#caches.set(
          to,
          this.#prefix(from, length, (a) => a.slice()),
        ),
      free: (holder) => this.#caches.delete(holder),
    });
    const { rows } = plan;
    if (rows.length === 0) return emptyResult(this.vocabSize, this.hiddenSize);
    const started = performance.now();
    const offsets = new Int32Array(rows.length);
    const outputs: { hidden: Float64Array; logits: Float64Array }[] = [];
    rows.forEach((row, r) => {
      offsets[r] = outputs.length;
      let cache = this.#caches.get(row.seq);
      if (!cache) this.#caches.set(row.seq, (cache = this.#model.emptyCache()));
      for (let s = 0; s < row.count; s++) {
        const from = s * row.bagSize;
        const input = {
          ids: Array.from(row.ids.subarray(from, from + row.bagSize)),
          weights: row.weights
            ? Array.from(row.weights.subarray(from, from + row.bagSize))
            : Array(row.bagSize).fill(1),
          add: row.add?.subarray(s * this.hiddenSize, (s + 1) * this.hiddenSize),
        };
        const out = this.#model.position(input, cache);
        if (row.allPositions || s === row.count - 1) outputs.push(out);
      }
    });
    const logits = new Float32Array(outputs.length * this.vocabSize);
    const hidden = new Float32Array(outputs.length * this.hiddenSize);
    outputs.forEach((o, i) => {
      logits.set(o.logits, i * this.vocabSize);
      hidden.set(o.hidden, i * this.hiddenSize);
    });
    this.#forwardMs += performance.now() - started;
    return { logits, hidden, offsets, vocabSize: this.vocabSize, hiddenSize: this.hiddenSize };
  }

  async close(): Promise<void> {
    this.#caches.clear();
  }

  #prefix(from: number, length: number, copy: (a: Float64Array) => Float64Array): ReferenceCache {
    const source = this.#caches.get(from);
    if (!source) throw new Error(`reference runner: unknown KV holder ${from}`);
    if (length > this.kvLength(from))
      throw new Error(`reference runner: holder ${from} has ${this.kvLength(from)} positions, not ${length}`);
    return source.map((layer) => ({
      keys: layer.keys.slice(0, length).map(copy),
      values: layer.values.slice(0, length).map(copy),
    }));
  }
}
