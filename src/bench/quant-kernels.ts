import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../model/onnx/graph-builder.ts';
import { QuantizedWeights } from '../model/onnx/quant-graph.ts';
import { writeModel } from '../model/onnx/write-model.ts';
import { QUANT_DEFAULTS, type QuantSpec } from '../model/quantization.ts';
import { QWEN05B_SHAPE } from '../model/test-model.ts';
import { benchModelDir } from './runtime.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `bench kernels`: the Linear layers alone, to choose the integer kernels. A stack of `layers`
 * blocks with Qwen2.5-0.5B's seven Linear shapes (q, k, v, o, gate, up, down; a residual and a
 * SiLU gate between them, no attention) is built once per kernel and timed at 1, 8 and 512 rows,
 * each graph in turn (interleaved, medians). The quantized variants are emitted by the serving
 * code (QuantizedWeights); `acc0` variants only lower MatMulNBits's accuracy_level to 0 (dequantize
 * to float inside the kernel instead of quantizing the activation to int8).
 */

interface Variant {
  about: string;
  spec: QuantSpec | null;
  /** MatMulNBits accuracy_level (4 unless said). */
  accuracyLevel?: number;
}

const int8 = { ...QUANT_DEFAULTS, weights: 'int8' as const };
const int4 = { ...QUANT_DEFAULTS, weights: 'int4' as const };

/** Keys as `bench runtime --quant` names its graphs. */
export const KERNEL_VARIANTS: Record<string, Variant> = {
  fp32: { about: 'MatMul', spec: null },
  int8: { about: 'MatMulInteger u8×s8, per-row activations (served)', spec: int8 },
  'int8-u8u8': { about: 'MatMulInteger u8×u8 (CPUs without VNNI)', spec: { ...int8, unsignedInt8: true } },
  'int8-dqmm': {
    about: 'DynamicQuantizeMatMul, per-tensor activations',
    spec: { ...int8, int8Kernel: 'dynamic-quantize-matmul' },
  },
  'int8-nbits': { about: 'MatMulNBits 8-bit, block 32', spec: { ...int8, int8Kernel: 'matmul-nbits' } },
  'int8-nbits-b128': {
    about: 'MatMulNBits 8-bit, block 128',
    spec: { ...int8, int8Kernel: 'matmul-nbits', blockSize: 128 },
  },
  int4: { about: 'MatMulNBits block 32, zero points, accuracy 4 (served)', spec: int4 },
  'int4-sym': { about: 'MatMulNBits block 32, symmetric', spec: { ...int4, zeroPoints: false } },
  'int4-acc0': { about: 'MatMulNBits block 32, accuracy 0', spec: int4, accuracyLevel: 0 },
  'int4-b128': { about: 'MatMulNBits block 128', spec: { ...int4, blockSize: 128 } },
};

export interface KernelRow {
  variant: string;
  /** Median ms of one run at 1, 8 and 512 rows. */
  ms: Record<number, number>;
}

const ROWS = [1, 8, 512];

function normal(seed: number): () => number {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
}

/** Writes the stack for one variant (same random weights for every variant) and returns its path. */
function buildStack(name: string, v: Variant, layers: number): string {
  const { hiddenSize: D, intermediateSize: I, numKvHeads, headDim, numHeads } = QWEN05B_SHAPE;
  const g = new GraphBuilder();
  const q = v.spec ? new QuantizedWeights(g, v.spec) : null;
  const rand = normal(7);
  let n = 0;
  const linear = (x: string, inDim: number, outDim: number) => {
    const w = Float32Array.from({ length: inDim * outDim }, () => rand() / Math.sqrt(inDim));
    const label = `w${n++}`;
    if (q) return q.linear(x, label, { shape: [outDim, inDim], data: w });
    const t = new Float32Array(inDim * outDim);
    for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) t[i * outDim + o] = w[o * inDim + i]!;
    return g.op1('MatMul', [x, g.initializer(label, 'float32', [inDim, outDim], t)]);
  };
  let x = g.input('x', 'float32', ['rows', D]);
  for (let l = 0; l < layers; l++) {
    const attn = linear(x, D, numHeads * headDim);
    const kv = g.op1('Add', [linear(x, D, numKvHeads * headDim), linear(x, D, numKvHeads * headDim)]);
    const kvSum = g.op1('ReduceSum', [kv, g.ints([-1])], { keepdims: 1 });
    const h = g.op1('Add', [x, g.op1('Add', [linear(attn, numHeads * headDim, D), kvSum])]);
    const gate = linear(h, D, I);
    const act = g.op1('Mul', [g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]), linear(h, D, I)]);
    // Scaled so activations stay O(1) through the stack.
    x = g.op1('Mul', [g.op1('Add', [h, linear(act, I, D)]), g.scalar(0.3)]);
  }
  g.op1('Identity', [x], {}, 'y');
  g.output('y', 'float32', ['rows', D]);
  if (v.accuracyLevel !== undefined)
    for (const node of g.nodes)
      for (const a of node.attribute ?? []) if (a.name === 'accuracy_level') a.i = v.accuracyLevel;
  const dir = benchModelDir('kernels');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-L${layers}.onnx`);
  writeModel(g, file, name);
  return file;
}

export async function benchKernels(opts: {
  layers?: number;
  reps?: number;
  variants?: string[];
  log: (s: string) => void;
}): Promise<KernelRow[]> {
  const layers = opts.layers ?? 8;
  const names = opts.variants ?? Object.keys(KERNEL_VARIANTS);
  const sessions: ort.InferenceSession[] = [];
  for (const name of names) {
    const v = KERNEL_VARIANTS[name];
    if (!v)
      throw new Error(`unknown kernel variant ${name}; known: ${Object.keys(KERNEL_VARIANTS).join(', ')}`);
    opts.log(`  building ${name} (${layers} layers)`);
    sessions.push(
      await ort.InferenceSession.create(buildStack(name, v, layers), {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: 1,
        logSeverityLevel: 3,
      }),
    );
  }
  const ms: Record<number, number>[] = names.map(() => ({}));
  const rand = normal(11);
  for (const rows of ROWS) {
    opts.log(`  ${rows} rows`);
    const x = Float32Array.from({ length: rows * QWEN05B_SHAPE.hiddenSize }, rand);
    const feeds = { x: new ort.Tensor('float32', x, [rows, QWEN05B_SHAPE.hiddenSize]) };
    const reps = opts.reps ?? (rows >= 256 ? 3 : 15);
    const times: number[][] = names.map(() => []);
    for (let i = -1; i < reps; i++) {
      for (let k = 0; k < sessions.length; k++) {
        const j = (i + 1 + k) % sessions.length; // a different variant first each round
        const t = nowMs();
        await sessions[j]!.run(feeds);
        if (i >= 0) times[j]!.push(nowMs() - t);
      }
    }
    names.forEach((_, j) => {
      ms[j]![rows] = median(times[j]!);
    });
  }
  for (const s of sessions) await s.release();
  return names.map((variant, j) => ({ variant, ms: ms[j]! }));
}

export function formatKernels(rows: KernelRow[]): string {
  const base = rows.find((r) => r.variant === 'fp32');
  return table(
    ['variant', 'kernel', ...ROWS.map((m) => `${m} rows ms (speed-up)`)],
    rows.map((r) => [
      r.variant,
      KERNEL_VARIANTS[r.variant]?.about ?? '',
      ...ROWS.map((m) => `${r.ms[m]!.toFixed(2)}${base ? ` (×${(base.ms[m]! / r.ms[m]!).toFixed(2)})` : ''}`),
    ]),
  );
}
