import * as ort from 'onnxruntime-node';
import {
  applyKvChanges,
  emptyResult,
  type RowStep,
  type Runner,
  type StepPlan,
  type StepResult,
} from './batch.ts';
import { type Device, openSession, type ResolvedDevice } from './execution-provider.ts';
import type { ModelConfig } from './hf-config.ts';
import { GROWTH_POSITIONS, type KvDtype, KvStore, kvBytesPerPosition } from './kv-store.ts';
import { IO } from './onnx/io.ts';
import { isDecodeRow, ResidentKv } from './resident-kv.ts';
import { type CostModel, isDense, planRuns } from './run-groups.ts';

export type { Device } from './execution-provider.ts';

export interface RunnerOptions {
  device?: Device;
  /** Intra-op threads for the CPU provider (default: ORT's choice, all cores). */
  threads?: number;
  /**
   * Bags of at least this many ids go through the graph's dense path (one p·E product) rather
   * than a gather; default: where the cost model says a gather costs more (see run-groups.ts).
   */
  denseFrom?: number;
  /** KV storage precision (default float32; float16 halves the bytes per position). */
  kvDtype?: KvDtype;
  /**
   * Keep the KV cache where the graph computed it while the decode batch is unchanged
   * (resident-kv.ts). Default: on for WebGPU, where the cache stays in GPU memory; off on the CPU,
   * where the binding would copy the whole cache out of every step (only tests turn it on there).
   */
  residentKv?: boolean;
}

/**
 * What one bag entry costs, in multiply-adds per hidden unit: the gather writes a fresh [K, D]
 * block, the weighting and the sum read it again, all memory-bound. Measured on the Qwen2.5-0.5B
 * shape (2 shared cores): about 6 µs per id against about 12 ms per dense vocabulary row in a
 * batch of 16 (100 ms alone, where p·E is bound by reading E once), so a bag is cheaper dense from
 * a few thousand ids; 32 × D per entry puts the switch at V / 32 (4,748 ids for Qwen's 151,936).
 */
const GATHER_COST_PER_ENTRY = 32;

/** Additive mask value: large enough to zero a softmax term, finite so fp32 sums stay finite. */
const MASKED = -1e9;

/** A growable scratch buffer handing out exact-size views, so steady-state steps allocate nothing. */
class Scratch<T extends Float32Array | BigInt64Array> {
  #buf: T;
  constructor(readonly make: (n: number) => T) {
    this.#buf = make(0);
  }
  view(n: number): T {
    if (this.#buf.length < n) this.#buf = this.make(Math.max(n, Math.ceil(this.#buf.length * 1.5)));
    return this.#buf.subarray(0, n) as T;
  }
}

/**
 * The ONNX Runtime runner: one batched forward per step, rows at different positions (prompt
 * chunks and single-token decode steps together), each carrying its own weighted-bag inputs. Owns
 * the ORT session, the KV store and every tensor; the engine exchanges plain `StepPlan`s and
 * `StepResult`s with it (the `Runner` interface, batch.ts).
 */
export class ModelRunner implements Runner {
  readonly kvBlockSize = GROWTH_POSITIONS;
  readonly kvBytesPerPosition: number;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly #kv: KvStore;
  readonly #session: ort.InferenceSession;
  readonly #cfg: ModelConfig;
  readonly #ids = new Scratch((n) => new BigInt64Array(n));
  readonly #weights = new Scratch((n) => new Float32Array(n));
  readonly #add = new Scratch((n) => new Float32Array(n));
  readonly #pos = new Scratch((n) => new BigInt64Array(n));
  readonly #mask = new Scratch((n) => new Float32Array(n));
  readonly #outIdx = new Scratch((n) => new BigInt64Array(n));
  readonly #dense = new Scratch((n) => new Float32Array(n));
  readonly #denseIdx = new Scratch((n) => new BigInt64Array(n));
  readonly #pastK: Scratch<Float32Array>[];
  readonly #pastV: Scratch<Float32Array>[];
  readonly #fetches: string[];
  /** What a step that keeps its cache resident fetches: the whole cache instead of the new positions. */
  readonly #residentFetches: string[];
  readonly #residentKv: boolean;
  #resident: ResidentKv | null = null;
  #residentSteps = 0;
  #kvSettles = 0;
  #forwardMs = 0;
  #runs = 0;
  readonly #costs: CostModel;

  private constructor(
    session: ort.InferenceSession,
    cfg: ModelConfig,
    opts: RunnerOptions,
    /** Where the session runs (`auto` resolved). */
    readonly device: ResolvedDevice = 'cpu',
    /** Why `auto` fell back to the CPU, if it did. */
    readonly deviceFallback?: string,
  ) {
    this.#session = session;
    this.#cfg = cfg;
    this.vocabSize = cfg.vocabSize;
    this.hiddenSize = cfg.hiddenSize;
    this.#kv = new KvStore(cfg, opts.kvDtype);
    this.kvBytesPerPosition = kvBytesPerPosition(cfg, opts.kvDtype);
    const denseFrom = opts.denseFrom;
    const f32 = (n: number) => new Float32Array(n);
    this.#pastK = Array.from({ length: cfg.numLayers }, () => new Scratch(f32));
    this.#pastV = Array.from({ length: cfg.numLayers }, () => new Scratch(f32));
    const { hiddenSize: D, intermediateSize: I, numHeads: H, numKvHeads: Hk, headDim: hd } = cfg;
    const bagEntryCost = GATHER_COST_PER_ENTRY * D;
    const denseCost = cfg.vocabSize * D;
    const positionCost = cfg.numLayers * (2 * D * H * hd + 2 * D * Hk * hd + 3 * D * I);
    this.#costs = {
      positionCost,
      bagEntryCost,
      denseCost,
      denseFrom: denseFrom ?? Math.ceil(denseCost / bagEntryCost),
      // An extra run reads every weight again (memory-bound at decode batch sizes): about one
      // position's multiply-adds, plus the ~0.2 ms fixed cost of a call.
      runCost: positionCost + 1e6,
    };
    this.#fetches = [IO.logits, IO.hidden];
    this.#residentFetches = [IO.logits, IO.hidden];
    for (let l = 0; l < cfg.numLayers; l++) {
      this.#fetches.push(IO.presentKey(l), IO.presentValue(l));
      this.#residentFetches.push(IO.cacheKey(l), IO.cacheValue(l));
    }
    this.#residentKv = opts.residentKv ?? device === 'webgpu';
  }

  /** Opens an ORT session on a converted graph (see graph-cache.ts). */
  static async open(modelPath: string, cfg: ModelConfig, opts: RunnerOptions = {}): Promise<ModelRunner> {
    const { session, device, fallback } = await openSession(modelPath, opts.device ?? 'cpu', (device) => ({
      executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      interOpNumThreads: 1,
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      logSeverityLevel: 3,
      ...(device === 'webgpu' &&
        (opts.residentKv ?? true) && { preferredOutputLocation: deviceOutputs(cfg) }),
    }));
    return new ModelRunner(session, cfg, opts, device, fallback);
  }

  get config(): ModelConfig {
    return this.#cfg;
  }

  /** Cumulative milliseconds inside `session.run` (engine overhead = step time / this). */
  get forwardMs(): number {
    return this.#forwardMs;
  }

  /** `session.run` calls so far (a step may take more than one: see run-groups.ts). */
  get runs(): number {
    return this.#runs;
  }

  kvLength(holder: number): number {
    return this.#kv.length(holder) + (this.#resident?.deviceLength(holder) ?? 0);
  }

  kvBytes(): number {
    const r = this.#resident;
    // The device cache is float32 and padded: every row holds `total` slots.
    const device = r ? r.seqs.length * r.total * kvBytesPerPosition(this.#cfg) : 0;
    return this.#kv.bytes() + device;
  }

  /** Steps that ran on the resident cache (the step that made it resident not counted). */
  get residentSteps(): number {
    return this.#residentSteps;
  }

  /** Times residency ended with a download into the host store. */
  get kvSettles(): number {
    return this.#kvSettles;
  }

  /** Whether the KV cache of the current decode batch is on the device now (tests, benches). */
  get kvResident(): boolean {
    return this.#resident !== null;
  }

  /**
   * The ORT feeds of a step's rows; with `resident`, the past is the device cache (its rows are
   * `rows`, one decode position each) instead of a gather from the host store.
   */
  #prepareFeeds(rows: readonly RowStep[], resident: ResidentKv | null = null): Record<string, ort.Tensor> {
    const { hiddenSize: D, numKvHeads: Hk, headDim: hd, numLayers } = this.#cfg;
    const B = rows.length;
    const V = this.#cfg.vocabSize;
    let S = 0;
    let K = 1;
    let P = 0;
    let M = 0;
    let N = 0;
    rows.forEach((r, b) => {
      if (r.count < 1) throw new Error(`runner: row for sequence ${r.seq} has no positions`);
      if (r.ids.length !== r.count * r.bagSize) throw new Error(`runner: row ${r.seq}: ids length mismatch`);
      S = Math.max(S, r.count);
      if (isDense(r, this.#costs)) N += r.count;
      else K = Math.max(K, r.bagSize);
      const past = this.#kv.length(r.seq);
      P = Math.max(P, past);
      M += r.allPositions ? r.count : 1;
      // A row's own positions bound it (a resident cache's padded slots do not: rotary is per row).
      const positions = (resident ? resident.length(b) : past) + r.count;
      if (positions > this.#cfg.maxPositions)
        throw new Error(`runner: ${positions} positions exceed the model's ${this.#cfg.maxPositions}`);
    });
    if (resident) P = resident.total;
    const T = P + S;
    const ids = this.#ids.view(B * S * K).fill(0n);
    const weights = this.#weights.view(B * S * K).fill(0);
    const add = this.#add.view(B * S * D).fill(0);
    const pos = this.#pos.view(B * S);
    const mask = this.#mask.view(B * S * T).fill(MASKED);
    const outIdx = this.#outIdx.view(M);
    const dense = this.#dense.view(N * V).fill(0);
    const denseIdx = this.#denseIdx.view(N);
    let m = 0;
    let n = 0;
    rows.forEach((r, b) => {
      const past = resident ? resident.length(b) : this.#kv.length(r.seq);
      const toDense = isDense(r, this.#costs);
      for (let s = 0; s < r.count; s++) {
        const src = s * r.bagSize;
        if (toDense) {
          // The bag becomes one vocabulary row; its sparse slots stay id 0 with weight 0.
          const row = n * V;
          for (let j = 0; j < r.bagSize; j++)
            dense[row + r.ids[src + j]!]! += r.weights ? r.weights[src + j]! : 1;
          denseIdx[n++] = BigInt(b * S + s);
          continue;
        }
        const dst = (b * S + s) * K;
        for (let j = 0; j < r.bagSize; j++) {
          ids[dst + j] = BigInt(r.ids[src + j]!);
          weights[dst + j] = r.weights ? r.weights[src + j]! : 1;
        }
      }
      if (r.add) add.set(r.add.subarray(0, r.count * D), b * S * D);
      for (let s = 0; s < S; s++) {
        // Padded positions reuse the row's next position and attend only to themselves: harmless, never all-masked.
        pos[b * S + s] = BigInt(s < r.count ? past + s : past);
        const rowMask = (b * S + s) * T;
        if (s < r.count) {
          if (resident) resident.maskPast(mask, rowMask, b);
          else mask.fill(0, rowMask, rowMask + past);
        }
        mask.fill(0, rowMask + P, rowMask + P + Math.min(s, r.count - 1) + 1);
        if (s >= r.count) mask[rowMask + P + s] = 0;
      }
      if (r.allPositions) for (let s = 0; s < r.count; s++) outIdx[m++] = BigInt(b * S + s);
      else outIdx[m++] = BigInt(b * S + r.count - 1);
    });
    const feeds: Record<string, ort.Tensor> = {
      [IO.inputIds]: new ort.Tensor('int64', ids, [B, S, K]),
      [IO.inputWeights]: new ort.Tensor('float32', weights, [B, S, K]),
      [IO.embedsAdd]: new ort.Tensor('float32', add, [B, S, D]),
      [IO.positionIds]: new ort.Tensor('int64', pos, [B, S]),
      [IO.attentionMask]: new ort.Tensor('float32', mask, [B, S, T]),
      [IO.outputIndex]: new ort.Tensor('int64', outIdx, [M]),
      [IO.denseWeights]: new ort.Tensor('float32', dense, [N, V]),
      [IO.denseIndex]: new ort.Tensor('int64', denseIdx, [N]),
    };
    if (resident) {
      for (let l = 0; l < numLayers; l++) {
        feeds[IO.pastKey(l)] = resident.keys[l]!;
        feeds[IO.pastValue(l)] = resident.values[l]!;
      }
      return feeds;
    }
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < numLayers; l++) {
      keys.push(this.#pastK[l]!.view(B * Hk * P * hd));
      values.push(this.#pastV[l]!.view(B * Hk * P * hd));
    }
    if (P > 0) {
      for (let b = 0; b < B; b++) this.#kv.gather(rows[b]!.seq, b, P, keys, values);
    }
    for (let l = 0; l < numLayers; l++) {
      feeds[IO.pastKey(l)] = new ort.Tensor('float32', keys[l]!, [B, Hk, P, hd]);
      feeds[IO.pastValue(l)] = new ort.Tensor('float32', values[l]!, [B, Hk, P, hd]);
    }
    return feeds;
  }

  /**
   * One step: the plan's KV changes, then one batched forward that appends each row's new
   * positions to its KV cache and returns logits and hidden states. Rows whose shapes would pad
   * each other wastefully run in separate `session.run` calls (run-groups.ts); the result is the
   * same as one run.
   */
  async step(plan: StepPlan): Promise<StepResult> {
    const resident = this.#resident;
    if (resident && !(resident.continues(plan) && resident.total < this.#cfg.maxPositions))
      await this.#settle();
    applyKvChanges(plan, this.#kv);
    const rows = plan.rows;
    if (rows.length === 0) return emptyResult(this.vocabSize, this.hiddenSize);
    if (this.#resident) return this.#runResident(rows, this.#resident);
    const groups = planRuns(rows, this.#costs);
    if (groups.length === 1) return this.#run(rows, this.#residentKv && rows.every(isDecodeRow));
    const parts: StepResult[] = [];
    for (const g of groups) parts.push(await this.#run(g.map((i) => rows[i]!)));
    return this.#merge(rows, groups, parts);
  }

  /** Puts the outputs of several runs back in the order of `rows`. */
  #merge(rows: readonly RowStep[], groups: number[][], parts: StepResult[]): StepResult {
    const { vocabSize: V, hiddenSize: D } = this.#cfg;
    const outputs = (r: RowStep) => (r.allPositions ? r.count : 1);
    const total = rows.reduce((n, r) => n + outputs(r), 0);
    const logits = new Float32Array(total * V);
    const hidden = new Float32Array(total * D);
    const offsets = new Int32Array(rows.length);
    let m = 0;
    rows.forEach((r, i) => {
      offsets[i] = m;
      m += outputs(r);
    });
    groups.forEach((g, p) => {
      const part = parts[p]!;
      g.forEach((row, j) => {
        const n = outputs(rows[row]!);
        const from = part.offsets[j]!;
        const to = offsets[row]!;
        logits.set(part.logits.subarray(from * V, (from + n) * V), to * V);
        hidden.set(part.hidden.subarray(from * D, (from + n) * D), to * D);
      });
    });
    return { logits, hidden, offsets, vocabSize: V, hiddenSize: D };
  }

  /**
   * One run from the host store. With `enterResident` (a decode batch), the whole cache it
   * computes stays where it is (on the device with WebGPU) and the next steps continue from it;
   * the new positions are not appended to the host store until the batch changes.
   */
  async #run(rows: readonly RowStep[], enterResident = false): Promise<StepResult> {
    const feeds = this.#prepareFeeds(rows);
    const S = feeds[IO.inputIds]!.dims[1]!;
    const t = performance.now();
    const out = await this.#session.run(feeds, enterResident ? this.#residentFetches : this.#fetches);
    this.#forwardMs += performance.now() - t;
    this.#runs++;
    if (enterResident) {
      const start = feeds[IO.pastKey(0)]!.dims[2]!;
      const layers = Array.from({ length: this.#cfg.numLayers }, (_, l) => l);
      this.#resident = new ResidentKv(
        rows.map((r) => r.seq),
        rows.map((r) => this.#kv.length(r.seq)),
        start,
        layers.map((l) => out[IO.cacheKey(l)]!),
        layers.map((l) => out[IO.cacheValue(l)]!),
      );
      return this.#result(rows, out);
    }
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let l = 0; l < this.#cfg.numLayers; l++) {
      keys.push(out[IO.presentKey(l)]!.data as Float32Array);
      values.push(out[IO.presentValue(l)]!.data as Float32Array);
    }
    rows.forEach((r, b) => {
      this.#kv.append(r.seq, b, S, r.count, keys, values);
    });
    return this.#result(rows, out);
  }

  /** A decode step on the resident cache: its past is the last step's whole-cache outputs. */
  async #runResident(rows: readonly RowStep[], resident: ResidentKv): Promise<StepResult> {
    const feeds = this.#prepareFeeds(rows, resident);
    const t = performance.now();
    const out = await this.#session.run(feeds, this.#residentFetches);
    this.#forwardMs += performance.now() - t;
    this.#runs++;
    this.#residentSteps++;
    resident.release();
    resident.keys = Array.from({ length: this.#cfg.numLayers }, (_, l) => out[IO.cacheKey(l)]!);
    resident.values = Array.from({ length: this.#cfg.numLayers }, (_, l) => out[IO.cacheValue(l)]!);
    resident.total++;
    return this.#result(rows, out);
  }

  /** Ends residency: the device positions are appended to the host store (one download). */
  async #settle(): Promise<void> {
    const resident = this.#resident!;
    this.#resident = null;
    this.#kvSettles++;
    const { keys, values, count } = await resident.download(this.#cfg.numKvHeads, this.#cfg.headDim);
    resident.seqs.forEach((seq, b) => {
      this.#kv.append(seq, b, count, count, keys, values);
    });
  }

  /** The step result of a run's logits and hidden states (one output per row unless allPositions). */
  #result(rows: readonly RowStep[], out: ort.InferenceSession.ReturnType): StepResult {
    const offsets = new Int32Array(rows.length);
    let m = 0;
    rows.forEach((r, b) => {
      offsets[b] = m;
      m += r.allPositions ? r.count : 1;
    });
    return {
      logits: out[IO.logits]!.data as Float32Array,
      hidden: out[IO.hidden]!.data as Float32Array,
      offsets,
      vocabSize: this.#cfg.vocabSize,
      hiddenSize: this.#cfg.hiddenSize,
    };
  }

  async close(): Promise<void> {
    this.#resident?.release();
    this.#resident = null;
    await this.#session.release();
  }
}

/** Output locations on WebGPU: the whole-cache outputs stay in GPU memory, the rest come back. */
function deviceOutputs(cfg: ModelConfig): Record<string, ort.Tensor.DataLocation> {
  const where: Record<string, ort.Tensor.DataLocation> = { [IO.logits]: 'cpu', [IO.hidden]: 'cpu' };
  for (let l = 0; l < cfg.numLayers; l++) {
    where[IO.presentKey(l)] = 'cpu';
    where[IO.presentValue(l)] = 'cpu';
    where[IO.cacheKey(l)] = 'gpu-buffer';
    where[IO.cacheValue(l)] = 'gpu-buffer';
  }
  return where;
}
