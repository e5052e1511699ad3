import type { ModelConfig } from './hf-config.ts';
import type { Tensor } from './safetensors.ts';

/**
 * A plain TypeScript Llama/Mistral/Qwen2/Qwen3 forward in float64 loops, written independently of
 * the ONNX builder so the two can check each other: one position at a time on a KV cache (the
 * reference runner, reference-runner.ts, serves it behind the engine's `Runner` interface). Slow;
 * for tests on tiny models only.
 */

/** One position's input: a weighted bag of ids plus an optional additive embedding. */
export interface ReferenceInput {
  ids: number[];
  weights: number[];
  add?: ArrayLike<number>;
}

export interface ReferenceOutput {
  /** logits[t] for every position t. */
  logits: Float64Array[];
  /** last-layer hidden state after the final norm, for every position. */
  hidden: Float64Array[];
}

/**
 * Rotary inverse frequencies and cos/sin scale written out again (not shared with the builder)
 * from HF's `_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
 * `_compute_llama3_parameters`, `_compute_yarn_parameters` and vLLM's static dynamic-NTK table,
 * so a mistake in one shows up as a mismatch.
 */
function rotary(cfg: ModelConfig): { invFreq: number[]; scale: number } {
  const d = cfg.headDim;
  const s = cfg.ropeScaling;
  let base = cfg.ropeTheta;
  if (s?.type === 'dynamic') {
    // vLLM: HF's NTK base for the longest sequence it serves, L = max_position_embeddings × factor,
    // i.e. base · (factor · L / max_position_embeddings − (factor − 1))^(d / (d − 2)).
    base *= (s.factor * s.factor - (s.factor - 1)) ** (d / (d - 2));
  }
  const plain: number[] = [];
  for (let i = 0; i < d; i += 2) plain.push(base ** (-i / d));
  if (!s || s.type === 'dynamic') return { invFreq: plain, scale: 1 };
  if (s.type === 'linear') return { invFreq: plain.map((f) => f / s.factor), scale: 1 };
  if (s.type === 'llama3') {
    const invFreq = plain.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > s.originalMaxPositions / s.lowFreqFactor) return f / s.factor;
      if (wavelen < s.originalMaxPositions / s.highFreqFactor) return f;
      const smooth =
        (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      return (1 - smooth) * (f / s.factor) + smooth * f;
    });
    return { invFreq, scale: 1 };
  }
  // YaRN: dimension pairs that turn more than beta_fast times over the original context keep
  // their frequency, those that turn fewer than beta_slow times are interpolated, a ramp between.
  const dimFor = (turns: number) =>
    (d * Math.log(s.originalMaxPositions / (turns * 2 * Math.PI))) / (2 * Math.log(cfg.ropeTheta));
  const round = (v: number, up: boolean) => (s.truncate ? (up ? Math.ceil(v) : Math.floor(v)) : v);
  const lo = Math.max(0, round(dimFor(s.betaFast), false));
  let hi = Math.min(d - 1, round(dimFor(s.betaSlow), true));
  if (hi === lo) hi += 0.001;
  const invFreq = plain.map((f, pair) => {
    const t = Math.min(Math.max((pair - lo) / (hi - lo), 0), 1); // 0: keep, 1: interpolate
    return f * (1 - t) + (f / s.factor) * t;
  });
  return { invFreq, scale: s.attentionFactor };
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (let i = 0; i < x.length; i++) ms += x[i]! * x[i]!;
  const inv = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

/** y = W x (+ b), W in HF layout [out, in]. */
function linear(x: Float64Array, w: Tensor, b?: Tensor): Float64Array {
  const [out, inn] = w.shape as [number, number];
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b.data[o]! : 0;
    const base = o * inn;
    for (let i = 0; i < inn; i++) s += w.data[base + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function applyRope(
  v: Float64Array,
  heads: number,
  hd: number,
  pos: number,
  rope: { invFreq: number[]; scale: number },
): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    const o = h * hd;
    for (let i = 0; i < half; i++) {
      const a = pos * rope.invFreq[i]!;
      const c = Math.cos(a) * rope.scale;
      const s = Math.sin(a) * rope.scale;
      const x1 = v[o + i]!;
      const x2 = v[o + i + half]!;
      v[o + i] = x1 * c - x2 * s;
      v[o + i + half] = x2 * c + x1 * s;
    }
  }
}

/** One layer's keys and values, one [kvHeads × headDim] array per cached position. */
export interface ReferenceLayerCache {
  keys: Float64Array[];
  values: Float64Array[];
}

/** A sequence's KV cache: one entry per layer. Position arrays are never written after they are cached. */
export type ReferenceCache = ReferenceLayerCache[];

/** The model's weights and shape, computing one position at a time on top of a KV cache. */
export class ReferenceModel {
  readonly #cfg: ModelConfig;
  readonly #weights: Map<string, Tensor>;
  readonly #rope: { invFreq: number[]; scale: number };

  constructor(cfg: ModelConfig, weights: Map<string, Tensor>) {
    this.#cfg = cfg;
    this.#weights = weights;
    this.#rope = rotary(cfg);
  }

  get config(): ModelConfig {
    return this.#cfg;
  }

  /** An empty cache for a new sequence. */
  emptyCache(): ReferenceCache {
    return Array.from({ length: this.#cfg.numLayers }, () => ({ keys: [], values: [] }));
  }

  #w(name: string): Tensor {
    const t = this.#weights.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t;
  }

  /**
   * The next position of a sequence: appends its keys and values to `cache` and returns its last
   * hidden state (after the final norm) and logits. Attention is causal over the cache.
   */
  position(input: ReferenceInput, cache: ReferenceCache): { hidden: Float64Array; logits: Float64Array } {
    const cfg = this.#cfg;
    const w = (name: string) => this.#w(name);
    const { hiddenSize: D, numHeads: H, numKvHeads: Hk, headDim: hd } = cfg;
    const group = H / Hk;
    const E = w('model.embed_tokens.weight');
    const pos = cache[0]?.keys.length ?? 0;
    let x = new Float64Array(D);
    input.ids.forEach((id, j) => {
      for (let d = 0; d < D; d++) x[d] += input.weights[j]! * E.data[id * D + d]!;
    });
    if (input.add) for (let d = 0; d < D; d++) x[d] += input.add[d]!;

    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `model.layers.${l}`;
      const bias = (n: string) => (cfg.qkvBias ? w(`${p}.self_attn.${n}.bias`) : undefined);
      const mlpBias = (n: string) => (cfg.mlpBias ? w(`${p}.mlp.${n}.bias`) : undefined);
      // Qwen3: each head of q and k is RMS-normalised (its own [head_dim] weight) before the rotary.
      const headNorm = (v: Float64Array, heads: number, name: string) => {
        if (!cfg.qkNorm) return v;
        const out = new Float64Array(v.length);
        for (let h = 0; h < heads; h++) {
          out.set(
            rmsNorm(
              v.subarray(h * hd, (h + 1) * hd),
              w(`${p}.self_attn.${name}.weight`).data,
              cfg.rmsNormEps,
            ),
            h * hd,
          );
        }
        return out;
      };
      const h = rmsNorm(x, w(`${p}.input_layernorm.weight`).data, cfg.rmsNormEps);
      const q = headNorm(linear(h, w(`${p}.self_attn.q_proj.weight`), bias('q_proj')), H, 'q_norm');
      const k = headNorm(linear(h, w(`${p}.self_attn.k_proj.weight`), bias('k_proj')), Hk, 'k_norm');
      applyRope(q, H, hd, pos, this.#rope);
      applyRope(k, Hk, hd, pos, this.#rope);
      const layer = cache[l]!;
      layer.keys.push(k);
      layer.values.push(linear(h, w(`${p}.self_attn.v_proj.weight`), bias('v_proj')));
      const ctx = new Float64Array(H * hd);
      for (let head = 0; head < H; head++) {
        const kvh = Math.floor(head / group);
        const scores = new Float64Array(pos + 1);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= pos; j++) {
          let sc = 0;
          for (let d = 0; d < hd; d++) sc += q[head * hd + d]! * layer.keys[j]![kvh * hd + d]!;
          scores[j] = sc / Math.sqrt(hd);
          max = Math.max(max, scores[j]!);
        }
        let sum = 0;
        for (let j = 0; j <= pos; j++) sum += scores[j] = Math.exp(scores[j]! - max);
        for (let j = 0; j <= pos; j++) {
          const a = scores[j]! / sum;
          for (let d = 0; d < hd; d++) ctx[head * hd + d] += a * layer.values[j]![kvh * hd + d]!;
        }
      }
      const attnOut = linear(
        ctx,
        w(`${p}.self_attn.o_proj.weight`),
        cfg.oBias ? w(`${p}.self_attn.o_proj.bias`) : undefined,
      );
      const x1 = x.map((v, i) => v + attnOut[i]!);
      const h2 = rmsNorm(x1, w(`${p}.post_attention_layernorm.weight`).data, cfg.rmsNormEps);
      const gate = linear(h2, w(`${p}.mlp.gate_proj.weight`), mlpBias('gate_proj'));
      const up = linear(h2, w(`${p}.mlp.up_proj.weight`), mlpBias('up_proj'));
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]!);
      const down = linear(act, w(`${p}.mlp.down_proj.weight`), mlpBias('down_proj'));
      x = x1.map((v, i) => v + down[i]!);
    }
    const head = cfg.tieEmbeddings ? E : (this.#weights.get('lm_head.weight') ?? E);
    const hidden = rmsNorm(x, w('model.norm.weight').data, cfg.rmsNormEps);
    return { hidden, logits: linear(hidden, head) };
  }
}

/** Forward of one whole sequence from scratch (causal attention over all its positions). */
export function referenceForward(
  cfg: ModelConfig,
  weights: Map<string, Tensor>,
  inputs: ReferenceInput[],
): ReferenceOutput {
  const model = new ReferenceModel(cfg, weights);
  const cache = model.emptyCache();
  const out: ReferenceOutput = { logits: [], hidden: [] };
  for (const input of inputs) {
    const { hidden, logits } = model.position(input, cache);
    out.hidden.push(hidden);
    out.logits.push(logits);
  }
  return out;
}
