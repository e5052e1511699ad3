import { toHalfArray } from '../float-bits.ts';
import type { ModelConfig } from '../hf-config.ts';
import type { QuantSpec } from '../quantization.ts';
import { ropeAttentionScaling, ropeInvFreq } from '../rope.ts';
import type { Tensor } from '../safetensors.ts';
import { GraphBuilder, type InitializerSink } from './graph-builder.ts';
import { IO } from './io.ts';
import { type QuantizedMatrix, QuantizedWeights, quantizedVocab } from './quant-graph.ts';

/**
 * The reverie decoder graph: one contract for every decoding mode.
 *
 * Inputs (B rows, S new positions per row, right-padded; K bag entries; P past positions):
 * - `input_ids` int64 [B,S,K] and `input_weights` float [B,S,K]: embedding = Σ_k w·E[id]
 * - `inputs_embeds_add` float [B,S,D]: added to the bag embedding (noise, latent hidden state)
 * - `dense_weights` float [N,V] and `dense_index` int64 [N]: N positions (flat index b·S + s) whose
 *   input is a whole-vocabulary mixture p; their embedding gets p·E added, one dense product
 *   instead of a V-wide gather (N = 0 for most steps: then it costs nothing)
 * - `position_ids` int64 [B,S]: rotary positions (row's past length + offset); cos/sin are computed
 *   from them in the graph, so no table sized by the context length is stored
 * - `attention_mask` float [B,S,P+S]: additive (0 = attend, -1e9 = masked); covers past and new
 * - `past_key_{l}`, `past_value_{l}` float [B,KvH,P,hd]
 * - `output_index` int64 [M]: flat indices (b·S + s) of the positions whose logits/hidden to return
 *
 * Outputs: `logits` [M,V], `hidden` [M,D] (last layer, after the final norm), and
 * `present_key_{l}` / `present_value_{l}` [B,KvH,S,hd]: the keys/values of the NEW positions only.
 * The runner appends them to its own cache: the Node binding copies every fetched output, so a
 * full present tensor would cost a second copy of the whole cache each step.
 * `cache_key_{l}` / `cache_value_{l}` [B,KvH,P+S,hd]: past and new together (the Concat attention
 * reads anyway). Fetched only by a runner that keeps the cache on the device between steps
 * (`preferredOutputLocation: 'gpu-buffer'`), which feeds them back as the next step's past.
 *
 * Attention is written with standard ops (MatMul, Softmax, additive mask) rather than the
 * GroupQueryAttention contrib op: GQA cannot run a multi-token chunk on top of a cache in a
 * batch > 1, and continuous batching mixes prefill chunks with decode rows in one step.
 * See docs/attention.md for the measurements behind that choice.
 */

export type WeightDType = 'fp32' | 'fp16';

/**
 * `standard`: the serving graph (any mix of prefill chunks and decode rows per call).
 * `gqa`: ORT's GroupQueryAttention contrib op, kept only so `bench attention` can measure the
 * alternative; it takes `seqlens_k`/`total_sequence_length` instead of a mask, returns the full
 * present cache, and cannot run a multi-token chunk over a cache at batch > 1.
 */
export type AttentionDesign = 'standard' | 'gqa';

export interface DecoderGraphOptions {
  dtype: WeightDType;
  attention?: AttentionDesign;
  /** Quantized weights (fp32 graphs only); see quant-graph.ts. */
  quantization?: QuantSpec;
  /**
   * Output the whole cache (`cache_key_{l}`/`cache_value_{l}`) for device-resident KV (default
   * true); false builds the graph as before they existed, for `bench runtime --kv-path`.
   */
  cacheOutputs?: boolean;
  /** Called after each layer is built, for progress output. */
  onProgress?: (done: number, total: number) => void;
  /** Where large weights go as they are added (a ModelFile's sink), so the builder holds none. */
  sink?: InitializerSink | null;
}

/** Graph I/O names, shared with the runner (in their own module: the runner does not load the builder). */
export { IO };

/** The checkpoint's tensors by Hugging Face name; read on demand (a Map, or a WeightSource). */
export interface Weights {
  get(name: string): Tensor | undefined;
  has(name: string): boolean;
}

function need(weights: Weights, name: string): Tensor {
  const t = weights.get(name);
  if (!t) throw new Error(`weights: missing tensor ${name}`);
  return t;
}

/** Transposes a row-major [rows, cols] matrix (HF Linear [out, in] → MatMul [in, out]). */
function transpose2d(t: Tensor): Float32Array {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[base + c]!;
  }
  return out;
}

/** Builds the decoder graph for a Llama, Mistral, Qwen2 or Qwen3 checkpoint. */
export function buildDecoderGraph(
  cfg: ModelConfig,
  weights: Weights,
  opts: DecoderGraphOptions,
): GraphBuilder {
  const g = new GraphBuilder(opts.sink ?? null);
  const half = opts.dtype === 'fp16';
  const ft = half ? 'float16' : 'float32';
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const Hk = cfg.numKvHeads;
  const hd = cfg.headDim;
  const G = H / Hk;
  if (opts.quantization && half)
    throw new Error('quantized graphs are built with fp32 activations (--dtype fp32)');
  const quant = opts.quantization ? new QuantizedWeights(g, opts.quantization) : null;

  const weight = (name: string, data: Float32Array, dims: number[]) =>
    half
      ? g.initializer(name, 'float16', dims, toHalfArray(data))
      : g.initializer(name, 'float32', dims, data);
  const linear = (x: string, prefix: string, inDim: number, outDim: number, bias: boolean) => {
    const w = need(weights, `${prefix}.weight`);
    if (w.shape[0] !== outDim || w.shape[1] !== inDim) {
      throw new Error(`weights: ${prefix}.weight has shape [${w.shape}], expected [${outDim}, ${inDim}]`);
    }
    if (quant) return quant.linear(x, prefix, w, bias ? need(weights, `${prefix}.bias`) : undefined);
    let y = g.op1('MatMul', [x, weight(`${prefix}.weight_t`, transpose2d(w), [inDim, outDim])]);
    if (bias) y = g.op1('Add', [y, weight(`${prefix}.bias`, need(weights, `${prefix}.bias`).data, [outDim])]);
    return y;
  };
  // RMSNorm over the last axis, in float32 whatever the weight type (small cost, avoids fp16
  // overflow in x²). Also Qwen3's per-head q/k norm: the same op over [.., heads, head_dim].
  const rmsNorm = (x: string, name: string) => {
    const x32 = half ? g.op1('Cast', [x], { to: 1 }) : x;
    const ms = g.op1('ReduceMean', [g.op1('Mul', [x32, x32])], { axes: [-1], keepdims: 1 });
    const inv = g.op1('Reciprocal', [g.op1('Sqrt', [g.op1('Add', [ms, g.scalar(cfg.rmsNormEps)])])]);
    const normed = g.op1('Mul', [x32, inv]);
    const t = need(weights, name);
    const w = g.initializer(name, 'float32', t.shape, t.data);
    const y = g.op1('Mul', [normed, w]);
    return half ? g.op1('Cast', [y], { to: 10 }) : y;
  };

  // Inputs.
  const ids = g.input(IO.inputIds, 'int64', ['batch', 'seq', 'bag']);
  const bagW = g.input(IO.inputWeights, 'float32', ['batch', 'seq', 'bag']);
  const add = g.input(IO.embedsAdd, 'float32', ['batch', 'seq', D]);
  const pos = g.input(IO.positionIds, 'int64', ['batch', 'seq']);
  const gqa = opts.attention === 'gqa';
  const mask = gqa ? '' : g.input(IO.attentionMask, 'float32', ['batch', 'seq', 'total']);
  const seqlensK = gqa ? g.input('seqlens_k', 'int32', ['batch']) : '';
  const totalLen = gqa ? g.input('total_sequence_length', 'int32', []) : '';
  const outIdx = g.input(IO.outputIndex, 'int64', ['outputs']);
  const denseW = g.input(IO.denseWeights, 'float32', ['dense', cfg.vocabSize]);
  const denseIdx = g.input(IO.denseIndex, 'int64', ['dense']);

  // Embedding of the weighted bag: Σ_k w_k · E[id_k] (+ additive embedding), and the dense
  // mixtures p·E, both read from one table. Kept in float32.
  const vocab = vocabularyTables(g, cfg, weights, quant);
  const gathered = vocab.table ? vocab.table.rows(ids) : g.op1('Gather', [vocab.E, ids]); // [B,S,K,D]
  const wExp = g.op1('Unsqueeze', [bagW, g.ints([3])]); // [B,S,K,1]
  const bag = g.op1('ReduceSum', [g.op1('Mul', [gathered, wExp]), g.ints([2])], { keepdims: 0 });
  const mixed = vocab.table ? vocab.table.mixture(denseW) : g.op1('MatMul', [denseW, vocab.E]); // [N,D]
  let x = addDenseMixtures(g, g.op1('Add', [bag, add]), { mixed, denseIdx, D });
  if (half) x = g.op1('Cast', [x], { to: 10 });

  const { cos, sin } = rotaryCosSin(g, cfg, pos, half);
  const rope = (t: string) => {
    const [a, b] = g.op('Split', [t, g.ints([hd / 2, hd / 2])], { axis: -1 }, { numOutputs: 2 }) as [
      string,
      string,
    ];
    const rotated = g.op1('Concat', [g.op1('Neg', [b]), a], { axis: -1 });
    return g.op1('Add', [g.op1('Mul', [t, cos]), g.op1('Mul', [rotated, sin])]);
  };

  // The mask, repeated for the G query heads that share a KV head: [B,1,G*S,T].
  let maskG = '';
  if (!gqa) {
    maskG = g.op1('Unsqueeze', [mask, g.ints([1])]);
    if (G > 1) maskG = g.op1('Tile', [maskG, g.ints([1, 1, G, 1])]);
    if (half) maskG = g.op1('Cast', [maskG], { to: 10 });
  }
  const scale = g.scalar(1 / Math.sqrt(hd), ft);
  if (gqa && half) throw new Error('the gqa attention design is only built in fp32 (benchmark use)');

  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    let q = g.op1('Reshape', [
      linear(h, `${p}.self_attn.q_proj`, D, H * hd, cfg.qkvBias),
      g.ints([0, 0, H, hd]),
    ]);
    let k = g.op1('Reshape', [
      linear(h, `${p}.self_attn.k_proj`, D, Hk * hd, cfg.qkvBias),
      g.ints([0, 0, Hk, hd]),
    ]);
    if (cfg.qkNorm) {
      q = rmsNorm(q, `${p}.self_attn.q_norm.weight`);
      k = rmsNorm(k, `${p}.self_attn.k_norm.weight`);
    }
    const v = g.op1('Reshape', [
      linear(h, `${p}.self_attn.v_proj`, D, Hk * hd, cfg.qkvBias),
      g.ints([0, 0, Hk, hd]),
    ]);
    const pastK = g.input(IO.pastKey(l), 'float32', ['batch', Hk, 'past', hd]);
    const pastV = g.input(IO.pastValue(l), 'float32', ['batch', Hk, 'past', hd]);
    const merged = gqa
      ? gqaAttention(g, { q: rope(q), k: rope(k), v, pastK, pastV, seqlensK, totalLen, l, H, Hk, hd })
      : standardAttention(g, {
          ...{ q: rope(q), k: rope(k), v, pastK, pastV, maskG, scale, half, l, H, Hk, hd },
          cacheOutputs: opts.cacheOutputs ?? true,
        });
    x = g.op1('Add', [x, linear(merged, `${p}.self_attn.o_proj`, H * hd, D, cfg.oBias)]);

    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj`, D, cfg.intermediateSize, cfg.mlpBias);
    const up = linear(h2, `${p}.mlp.up_proj`, D, cfg.intermediateSize, cfg.mlpBias);
    const act = g.op1('Mul', [g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]), up]);
    x = g.op1('Add', [x, linear(act, `${p}.mlp.down_proj`, cfg.intermediateSize, D, cfg.mlpBias)]);
    opts.onProgress?.(l + 1, cfg.numLayers);
  }

  // Select the requested positions first, then normalise and project only those.
  const flat = g.op1('Reshape', [x, g.ints([-1, D])]);
  const picked = g.op1('Gather', [flat, outIdx], { axis: 0 });
  const normed = rmsNorm(picked, 'model.norm.weight');
  const hidden32 = half ? g.op1('Cast', [normed], { to: 1 }) : normed;
  g.op1('Identity', [hidden32], {}, IO.hidden);
  g.output(IO.hidden, 'float32', ['outputs', D]);
  let logits: string;
  if (vocab.head) {
    logits = vocab.head(normed, IO.logits);
  } else if (vocab.tied) {
    // Tied: Gemm with transB reads E in place, no transposed copy of the embedding.
    const lmIn = half ? g.op1('Cast', [normed], { to: 1 }) : normed;
    logits = g.op1('Gemm', [lmIn, vocab.E], { transB: 1 }, IO.logits);
  } else {
    const lm = need(weights, 'lm_head.weight');
    const lmW = weight('lm_head.weight', lm.data, [cfg.vocabSize, D]);
    const raw = g.op1('Gemm', [normed, lmW], { transB: 1 });
    logits = half ? g.op1('Cast', [raw], { to: 1 }, IO.logits) : g.op1('Identity', [raw], {}, IO.logits);
  }
  g.output(logits, 'float32', ['outputs', cfg.vocabSize]);
  return g;
}

/**
 * cos and sin [B,S,1,hd] of each position, computed from `position_ids` (HF rotate_half layout:
 * the half-dim frequencies repeated), in float32 as HF and vLLM compute them, times YaRN's
 * attention factor. Nothing is sized by the context length, so a 128k-position model's graph is
 * as small as a 2k one's.
 */
function rotaryCosSin(g: GraphBuilder, cfg: ModelConfig, pos: string, half: boolean) {
  const invFreq = g.initializer(
    'rope.inv_freq',
    'float32',
    [cfg.headDim / 2],
    Float32Array.from(ropeInvFreq(cfg)),
  );
  const posF = g.op1('Unsqueeze', [g.op1('Cast', [pos], { to: 1 }), g.ints([2])]); // [B,S,1]
  const freqs = g.op1('Mul', [posF, invFreq]); // [B,S,hd/2]
  const angles = g.op1('Concat', [freqs, freqs], { axis: -1 }); // [B,S,hd]
  const scale = ropeAttentionScaling(cfg);
  const finish = (t: string) => {
    let y = scale === 1 ? t : g.op1('Mul', [t, g.scalar(scale)]);
    y = g.op1('Unsqueeze', [y, g.ints([2])]); // [B,S,1,hd]: broadcast over heads
    return half ? g.op1('Cast', [y], { to: 10 }) : y;
  };
  return { cos: finish(g.op1('Cos', [angles])), sin: finish(g.op1('Sin', [angles])) };
}

/**
 * The input embedding's table: the float E, or a quantized one (`table`) whose dequantized rows
 * both the bag's Gather and the dense p·E product read; and the LM head, when quantized. `E` is ''
 * when no op reads the float table. The float tensor is read here and let go when this returns:
 * the builder keeps no copy of it (a sink has it, or a quantized table).
 */
function vocabularyTables(
  g: GraphBuilder,
  cfg: ModelConfig,
  weights: Weights,
  quant: QuantizedWeights | null,
): { E: string; tied: boolean; table?: QuantizedMatrix; head?: (x: string, output: string) => string } {
  const embed = need(weights, 'model.embed_tokens.weight');
  if (embed.shape[0] !== cfg.vocabSize || embed.shape[1] !== cfg.hiddenSize) {
    throw new Error(
      `weights: model.embed_tokens.weight has shape [${embed.shape}], expected [${cfg.vocabSize}, ${cfg.hiddenSize}]`,
    );
  }
  const tied = cfg.tieEmbeddings || !weights.has('lm_head.weight');
  const { table, head } = quant ? quantizedVocab(quant, weights, embed, tied) : {};
  // The float table, unless quantized tables replace it on every side that reads it.
  const E =
    table && (head || !tied)
      ? ''
      : g.initializer('model.embed_tokens.weight', 'float32', [cfg.vocabSize, cfg.hiddenSize], embed.data);
  return { E, tied, ...(table && { table }), ...(head && { head }) };
}

/**
 * Adds `mixed` (p·E [N,D]) to the positions `dense_index` names (flat b·S + s), p being their
 * `dense_weights` rows: a whole-vocabulary mixture as one [N,V]×[V,D] product, with ScatterND's
 * `add` reduction.
 */
function addDenseMixtures(
  g: GraphBuilder,
  x: string,
  a: { mixed: string; denseIdx: string; D: number },
): string {
  const { mixed } = a;
  const flat = g.op1('Reshape', [x, g.ints([-1, a.D])]);
  const at = g.op1('Unsqueeze', [a.denseIdx, g.ints([1])]); // [N,1]
  const scattered = g.op1('ScatterND', [flat, at, mixed], { reduction: 'add' });
  return g.op1('Reshape', [scattered, g.op1('Shape', [x])]);
}

interface AttentionArgs {
  q: string;
  k: string;
  v: string;
  pastK: string;
  pastV: string;
  l: number;
  H: number;
  Hk: number;
  hd: number;
}

/** Attention with standard ops; outputs the new positions' K/V as `present_*_{l}`. Returns [B,S,H·hd]. */
function standardAttention(
  g: GraphBuilder,
  a: AttentionArgs & { maskG: string; scale: string; half: boolean; cacheOutputs: boolean },
): string {
  const { H, Hk, hd, l, half, cacheOutputs } = a;
  const qT = g.op1('Transpose', [g.op1('Mul', [a.q, a.scale])], { perm: [0, 2, 1, 3] }); // [B,H,S,hd]
  const kNew = g.op1('Transpose', [a.k], { perm: [0, 2, 1, 3] }); // [B,Hk,S,hd]
  const vNew = g.op1('Transpose', [a.v], { perm: [0, 2, 1, 3] });
  const k32 = g.op1(half ? 'Cast' : 'Identity', [kNew], half ? { to: 1 } : {}, IO.presentKey(l));
  const v32 = g.op1(half ? 'Cast' : 'Identity', [vNew], half ? { to: 1 } : {}, IO.presentValue(l));
  g.output(IO.presentKey(l), 'float32', ['batch', Hk, 'seq', hd]);
  g.output(IO.presentValue(l), 'float32', ['batch', Hk, 'seq', hd]);
  // The whole cache after this step is an output too: a runner that keeps the KV on the device
  // (WebGPU) feeds it back as the next step's past; the CPU runner does not fetch it.
  const kAll = g.op1('Concat', [a.pastK, k32], { axis: 2 }, cacheOutputs ? IO.cacheKey(l) : undefined); // [B,Hk,T,hd]
  const vAll = g.op1('Concat', [a.pastV, v32], { axis: 2 }, cacheOutputs ? IO.cacheValue(l) : undefined);
  if (cacheOutputs) {
    g.output(IO.cacheKey(l), 'float32', ['batch', Hk, 'total', hd]);
    g.output(IO.cacheValue(l), 'float32', ['batch', Hk, 'total', hd]);
  }
  const kAllT = half ? g.op1('Cast', [kAll], { to: 10 }) : kAll;
  const vAllT = half ? g.op1('Cast', [vAll], { to: 10 }) : vAll;
  // Query heads h = kv·G + g sit next to each other, so [B,H,S,hd] → [B,Hk,G·S,hd] is a view.
  const qG = g.op1('Reshape', [qT, g.ints([0, Hk, -1, hd])]);
  const scores = g.op1('MatMul', [qG, g.op1('Transpose', [kAllT], { perm: [0, 1, 3, 2] })]); // [B,Hk,G·S,T]
  const probs = g.op1('Softmax', [g.op1('Add', [scores, a.maskG])], { axis: -1 });
  const ctx = g.op1('Reshape', [g.op1('MatMul', [probs, vAllT]), g.ints([0, H, -1, hd])]); // [B,H,S,hd]
  return g.op1('Reshape', [g.op1('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * hd])]);
}

/** Attention through com.microsoft.GroupQueryAttention (rotary applied before it); outputs the full present cache. */
function gqaAttention(g: GraphBuilder, a: AttentionArgs & { seqlensK: string; totalLen: string }): string {
  const { H, Hk, hd, l } = a;
  const flat = (t: string, heads: number) => g.op1('Reshape', [t, g.ints([0, 0, heads * hd])]);
  const [out] = g.op(
    'GroupQueryAttention',
    [flat(a.q, H), flat(a.k, Hk), flat(a.v, Hk), a.pastK, a.pastV, a.seqlensK, a.totalLen],
    { num_heads: H, kv_num_heads: Hk, scale: { float: 1 / Math.sqrt(hd) } },
    { domain: 'com.microsoft', outputs: [g.name('gqa'), IO.presentKey(l), IO.presentValue(l)] },
  );
  g.output(IO.presentKey(l), 'float32', ['batch', Hk, 'total', hd]);
  g.output(IO.presentValue(l), 'float32', ['batch', Hk, 'total', hd]);
  return out!;
}
