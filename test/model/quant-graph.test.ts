import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { rowLogits } from '../../src/model/batch.ts';
import { GraphBuilder } from '../../src/model/onnx/graph-builder.ts';
import { QuantizedWeights } from '../../src/model/onnx/quant-graph.ts';
import { writeModel } from '../../src/model/onnx/write-model.ts';
import { QUANT_DEFAULTS, type QuantSpec } from '../../src/model/quantization.ts';
import { type ReferenceInput, referenceForward } from '../../src/model/reference-forward.ts';
import { ModelRunner } from '../../src/model/runner.ts';
import type { TestModelOptions } from '../../src/model/test-model.ts';
import { dequantizedModel, roundTrip } from '../helpers/quantized.ts';
import { openTinyModel, TEST_MODELS_DIR, type TinyModel } from '../helpers/tiny-models.ts';

/**
 * Quantized graphs against TypeScript: each kernel's output against x·dequantize(W)ᵀ computed
 * here (exact for inputs the kernel's own activation quantization represents exactly), and whole
 * tiny models against the float64 reference forward run on the dequantized weights.
 */

const spec = (s: Partial<QuantSpec> & Pick<QuantSpec, 'weights'>): QuantSpec => ({ ...QUANT_DEFAULTS, ...s });

const KERNELS: [string, QuantSpec][] = [
  ['int8 (MatMulInteger, per-row activations)', spec({ weights: 'int8' })],
  ['int8 stored as uint8 (CPUs without VNNI)', spec({ weights: 'int8', unsignedInt8: true })],
  ['int8 through MatMulNBits', spec({ weights: 'int8', int8Kernel: 'matmul-nbits' })],
  ['int4 symmetric', spec({ weights: 'int4', zeroPoints: false })],
  ['int4 with zero points', spec({ weights: 'int4' })],
  ['int4 block 64', spec({ weights: 'int4', blockSize: 64 })],
];

describe('quantized matrices vs TypeScript dequantization', () => {
  const M = 3;
  const K = 128;
  const N = 40;
  const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.37) * (1 + (i % 3)));
  const bias = Float32Array.from({ length: N }, (_, i) => 0.5 - i * 0.05);
  // Integers in −127..127 with ±127 in every block of 32: both the per-row int8 quantization and
  // MatMulNBits's per-block one (accuracy level 4) represent them exactly, so what is left is float
  // rounding (MatMulNBits's 8-bit kernel folds the zero point in float: ~1e-4 relative). A wrong
  // code, scale, packing or bias shows as an error of the order of the values themselves.
  const x = Float32Array.from({ length: M * K }, (_, i) =>
    i % 32 === 5 ? (i % 64 === 5 ? 127 : -127) : Math.round(Math.cos(i * 0.9) * 120),
  );
  const ids = BigInt64Array.from([3n, 39n, 0n, 17n, 17n, 8n]); // [B=1, S=2, K=3]
  // Two vocabulary-wide mixtures over the N rows (the dense path's p).
  const P = 2;
  const p = Float32Array.from({ length: P * N }, (_, i) => ((i * 7) % 11) / 55);

  for (const [name, s] of KERNELS) {
    it(`${name}: x·Wᵀ + b, the rows W[ids] and the mixtures p·W match`, async () => {
      const g = new GraphBuilder();
      const xIn = g.input('x', 'float32', [1, M, K]);
      const idsIn = g.input('ids', 'int64', [1, 2, 3]);
      const pIn = g.input('p', 'float32', ['mixtures', N]);
      const q = new QuantizedWeights(g, s);
      g.op1(
        'Identity',
        [q.linear(xIn, 'w', { shape: [N, K], data: w }, { shape: [N], data: bias })],
        {},
        'y',
      );
      const table = q.matrix('w', { shape: [N, K], data: w });
      g.op1('Identity', [table.rows(idsIn)], {}, 'rows');
      g.op1('Identity', [table.mixture(pIn)], {}, 'mix');
      g.output('y', 'float32', [1, M, N]);
      g.output('rows', 'float32', [1, 2, 3, K]);
      g.output('mix', 'float32', ['mixtures', K]);
      const file = `${TEST_MODELS_DIR}/quant-op-${name.replace(/\W+/g, '-')}.onnx`;
      writeModel(g, file, name);
      const session = await ort.InferenceSession.create(file, {
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      const run = (mixtures: Float32Array, rows: number) =>
        session.run({
          x: new ort.Tensor('float32', x, [1, M, K]),
          ids: new ort.Tensor('int64', ids, [1, 2, 3]),
          p: new ort.Tensor('float32', mixtures, [rows, N]),
        });
      const out = await run(p, P);
      // No mixture in the run: nothing is dequantized, the product is empty.
      const none = await run(new Float32Array(0), 0);
      await session.release();
      assert.deepEqual(none.mix!.dims, [0, K]);
      const dq = roundTrip({ shape: [N, K], data: w }, s).data;
      const y = out.y!.data as Float32Array;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let want = bias[n]!;
          for (let k = 0; k < K; k++) want += x[m * K + k]! * dq[n * K + k]!;
          const got = y[m * N + n]!;
          assert.ok(
            Math.abs(got - want) <= 5e-4 * Math.max(1, Math.abs(want)),
            `y[${m}, ${n}] ${got} vs ${want}`,
          );
        }
      }
      const rows = out.rows!.data as Float32Array;
      ids.forEach((id, j) => {
        for (let k = 0; k < K; k++) {
          const want = dq[Number(id) * K + k]!;
          assert.ok(
            Math.abs(rows[j * K + k]! - want) <= 1e-6 * Math.max(1, Math.abs(want)),
            `row ${id}[${k}]`,
          );
        }
      });
      const mix = out.mix!.data as Float32Array;
      for (let r = 0; r < P; r++) {
        for (let k = 0; k < K; k++) {
          let want = 0;
          for (let n = 0; n < N; n++) want += p[r * N + n]! * dq[n * K + k]!;
          const got = mix[r * K + k]!;
          assert.ok(
            Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)),
            `mix[${r}, ${k}] ${got} vs ${want}`,
          );
        }
      }
    });
  }
});

/** Tokens of the prompt, then a soft-thinking style bag and a bag with an added embedding. */
const TOKENS = [5, 17, 200, 33, 99, 12, 7, 250, 3, 64, 128, 1];
function inputs(cfg: { hiddenSize: number }): ReferenceInput[] {
  const add = Float32Array.from({ length: cfg.hiddenSize }, (_, d) => Math.sin(d) * 0.5);
  return [
    ...TOKENS.map((id) => ({ ids: [id], weights: [1] })),
    { ids: [40, 41, 200], weights: [0.6, 0.3, 0.1] },
    { ids: [9, 250], weights: [0.5, 0.5], add },
  ];
}

interface Errors {
  /** max |graph − reference on the dequantized weights| / max |logit| (both paths of the bags) */
  vsDequantized: number;
  /** max |graph − float reference| / max |logit| */
  vsFloat: number;
  /** max |bags through the dense p·E input − the same bags gathered| / max |logit| */
  denseVsGather: number;
}

/** The logits of `steps` through `runner`: the plain tokens in one chunk, then each bag one step. */
async function run(runner: ModelRunner, steps: ReferenceInput[]): Promise<Float32Array[]> {
  const got: Float32Array[] = [];
  const prefill = await runner.step({
    rows: [{ seq: 1, count: TOKENS.length, bagSize: 1, ids: Int32Array.from(TOKENS), allPositions: true }],
  });
  for (let t = 0; t < TOKENS.length; t++) got.push(rowLogits(prefill, t));
  for (const inp of steps.slice(TOKENS.length)) {
    const r = await runner.step({
      rows: [
        {
          seq: 1,
          count: 1,
          bagSize: inp.ids.length,
          ids: Int32Array.from(inp.ids),
          weights: Float32Array.from(inp.weights),
          ...(inp.add ? { add: Float32Array.from(inp.add) } : {}),
        },
      ],
    });
    got.push(rowLogits(r, 0));
  }
  await runner.step({ frees: [1], rows: [] });
  return got;
}

async function compare(m: TinyModel, s: QuantSpec): Promise<Errors> {
  const steps = inputs(m.cfg);
  const floatRef = referenceForward(m.cfg, m.weights, steps);
  const dq = dequantizedModel(m.cfg, m.weights, s);
  const dqRef = referenceForward(dq.cfg, dq.weights, steps);
  const got = await run(m.runner, steps);
  // The same graph with every bag of 2+ ids fed as a vocabulary-wide mixture (the dense input).
  const denseRunner = await ModelRunner.open(m.modelPath, m.cfg, { threads: 1, denseFrom: 2 });
  const dense = await run(denseRunner, steps).finally(() => denseRunner.close());
  let scale = 0;
  let vsDequantized = 0;
  let vsFloat = 0;
  let denseVsGather = 0;
  got.forEach((row, t) => {
    for (let v = 0; v < row.length; v++) {
      scale = Math.max(scale, Math.abs(floatRef.logits[t]![v]!));
      vsDequantized = Math.max(
        vsDequantized,
        Math.abs(row[v]! - dqRef.logits[t]![v]!),
        Math.abs(dense[t]![v]! - dqRef.logits[t]![v]!),
      );
      vsFloat = Math.max(vsFloat, Math.abs(row[v]! - floatRef.logits[t]![v]!));
      denseVsGather = Math.max(denseVsGather, Math.abs(dense[t]![v]! - row[v]!));
    }
  });
  return {
    vsDequantized: vsDequantized / scale,
    vsFloat: vsFloat / scale,
    denseVsGather: denseVsGather / scale,
  };
}

/**
 * Model variants: tied Llama, untied Qwen2 (q/k/v biases), Qwen3 (q/k norms, head_dim 32 ≠
 * hidden / heads), Llama with attention and MLP biases, untied.
 */
const MODELS: [string, TestModelOptions][] = [
  ['llama', {}],
  ['qwen2-untied', { architecture: 'Qwen2ForCausalLM', tieEmbeddings: false, seed: 5 }],
  ['qwen3', { architecture: 'Qwen3ForCausalLM', headDim: 32, seed: 6 }],
  ['llama-biases-untied', { attentionBias: true, mlpBias: true, tieEmbeddings: false, seed: 8 }],
];

/**
 * Stated tolerances, as a fraction of the largest |logit| (tiny random models: every weight is
 * N(0, σ²), the hardest case for round-to-nearest). Against the float model: int8 within 3%,
 * int4 within 35%. Against the dequantized model, what is left is the kernels' own activation
 * quantization (int8 per row, MatMulNBits per block of 32): within 2%, and well below the
 * distance to the float model for int4.
 */
const TOLERANCE = {
  int8: { vsFloat: 0.03, vsDequantized: 0.02 },
  int4: { vsFloat: 0.35, vsDequantized: 0.02 },
};

/** Dense and gathered bags of one graph, as a fraction of the largest |logit|. */
const DENSE_TOLERANCE = 1e-3;

describe('quantized tiny models vs the float64 reference', () => {
  const opened: TinyModel[] = [];
  after(async () => {
    for (const m of opened) await m.runner.close();
  });
  const variants: [string, QuantSpec][] = [
    ['int8', spec({ weights: 'int8' })],
    ['int4', spec({ weights: 'int4' })],
    ['int4, float embedding', spec({ weights: 'int4', embedding: 'none' })],
    ['int4, float head', spec({ weights: 'int4', lmHead: 'none' })],
    ['int4, int4 head and embedding', spec({ weights: 'int4', lmHead: 'int4', embedding: 'int4' })],
    ['int8, int4 head, int8 embedding', spec({ weights: 'int8', lmHead: 'int4' })],
  ];
  for (const [model, options] of MODELS) {
    for (const [label, s] of variants) {
      it(`${model} ${label}: prompt and soft bags within the stated tolerance`, async (t) => {
        const m = await openTinyModel(`quant-${model}`, options, s);
        opened.push(m);
        const e = await compare(m, s);
        t.diagnostic(
          `vs dequantized ${e.vsDequantized.toFixed(4)}, vs float ${e.vsFloat.toFixed(4)}, ` +
            `dense vs gather ${e.denseVsGather.toExponential(2)}`,
        );
        // The coarsest precision anywhere in the model sets the tolerance.
        const tol = TOLERANCE[[s.weights, s.lmHead, s.embedding].includes('int4') ? 'int4' : 'int8'];
        assert.ok(e.vsFloat <= tol.vsFloat, `vs float ${e.vsFloat}`);
        assert.ok(e.vsDequantized <= tol.vsDequantized, `vs dequantized ${e.vsDequantized}`);
        if (s.weights === 'int4')
          assert.ok(e.vsDequantized < e.vsFloat / 4, 'the graph computes with these weights');
        // The dense p·E reads the same dequantized table as the gather: what differs is float
        // summation order (and, rarely, an int8 activation rounding it flips).
        assert.ok(e.denseVsGather <= DENSE_TOLERANCE, `dense vs gather ${e.denseVsGather}`);
      });
    }
  }

  it('every Linear, the head and the embedding of a quantized graph are quantized', async () => {
    const m = await openTinyModel('quant-llama', {}, spec({ weights: 'int4' }));
    opened.push(m);
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(m.modelPath));
    const FLOAT = onnxProto.onnx.TensorProto.DataType.FLOAT;
    const floatMatrices = new Set(
      model
        .graph!.initializer!.filter((i) => i.dataType === FLOAT && i.dims!.length === 2)
        .map((i) => i.name!),
    );
    const ops = model.graph!.node!.map((n) => n.opType!);
    const count = (op: string) => ops.filter((o) => o === op).length;
    assert.equal(count('MatMulNBits'), 7 * m.cfg.numLayers, 'int4: 7 Linear layers per layer');
    assert.equal(count('MatMulInteger'), 1, 'int8: the tied head');
    const readers = model.graph!.node!.filter((n) =>
      n.input!.includes('model.embed_tokens.weight.int8.codes'),
    );
    assert.deepEqual(
      readers.map((n) => n.opType).sort(),
      ['Gather', 'Gather', 'MatMulInteger'],
      'one table, three readers: the bag, the dense mixtures, the head',
    );
    // No float matrix is multiplied or gathered (cos/sin are computed from the positions).
    const floatReaders = model.graph!.node!.filter(
      (n) => ['MatMul', 'Gemm', 'Gather'].includes(n.opType!) && n.input!.some((i) => floatMatrices.has(i)),
    );
    assert.deepEqual(
      floatReaders.map((n) => n.name),
      [],
    );
  });
});

/**
 * What per-row activation quantization buys: a row's logits do not depend on the other rows of
 * its batch, even one whose activations are a thousand times larger (a per-tensor scale, as ORT's
 * DynamicQuantizeMatMul uses, would quantize this row's activations with that row's range). Float
 * kernels still round differently for other batch shapes, and an int8 code on a rounding boundary
 * may flip, so the bound is a small tolerance rather than bitwise equality.
 */
describe('a tied int4 table, as stored', () => {
  it('the head (MatMulNBits) and the embedding (GatherBlockQuantized) read one range of the data file', async () => {
    const m = await openTinyModel(
      'quant-llama',
      {},
      spec({ weights: 'int4', lmHead: 'int4', embedding: 'int4' }),
    );
    await m.runner.close();
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(m.modelPath));
    const where = (name: string) => {
      const init = model.graph!.initializer!.find((i) => i.name === name);
      assert.ok(init, name);
      return Object.fromEntries(init.externalData!.map((e) => [e.key, e.value]));
    };
    const matmul = where('model.embed_tokens.weight.int4.codes');
    const rows = where('model.embed_tokens.weight.int4.codes.rows');
    assert.equal(rows.offset, matmul.offset);
    assert.equal(rows.length, matmul.length);
  });
});

describe('quantized activations: a row does not depend on the rest of its batch', () => {
  const opened: TinyModel[] = [];
  after(async () => {
    for (const m of opened) await m.runner.close();
  });
  /** max |row alone − row batched beside a huge one| / max |logit| */
  async function batchEffect(s: QuantSpec): Promise<number> {
    const m = await openTinyModel('quant-llama', {}, s);
    opened.push(m);
    const row = (seq: number, add?: Float32Array) => ({
      seq,
      count: TOKENS.length,
      bagSize: 1,
      ids: Int32Array.from(TOKENS),
      allPositions: true,
      ...(add ? { add } : {}),
    });
    const alone = await m.runner.step({ rows: [row(1)] });
    // One huge entry per position: after every norm it stands out √D times over the others.
    const loud = Float32Array.from({ length: TOKENS.length * m.cfg.hiddenSize }, (_, i) =>
      i % m.cfg.hiddenSize === 7 ? 1000 : 0,
    );
    const batched = await m.runner.step({ rows: [row(2), row(3, loud)] });
    await m.runner.step({ frees: [1, 2, 3], rows: [] });
    let worst = 0;
    let scale = 0;
    for (let t = 0; t < TOKENS.length; t++) {
      const a = rowLogits(alone, t);
      const b = rowLogits(batched, t);
      for (let v = 0; v < a.length; v++) {
        scale = Math.max(scale, Math.abs(a[v]!));
        worst = Math.max(worst, Math.abs(a[v]! - b[v]!));
      }
    }
    return worst / scale;
  }

  for (const [label, s] of [
    ['int8 (served: per-row)', spec({ weights: 'int8' })],
    ['int4 (served: MatMulNBits, per block of a row)', spec({ weights: 'int4' })],
  ] as const) {
    it(`${label}: within 1e-3 of the row alone`, async (t) => {
      const effect = await batchEffect(s);
      t.diagnostic(`batch effect ${effect.toExponential(2)}`);
      assert.ok(effect <= 1e-3, `batch effect ${effect}`);
    });
  }

  it('per-tensor activations (DynamicQuantizeMatMul) miss that bound more than tenfold', async (t) => {
    const effect = await batchEffect(spec({ weights: 'int8', int8Kernel: 'dynamic-quantize-matmul' }));
    t.diagnostic(`batch effect ${effect.toExponential(2)}`);
    assert.ok(effect > 1e-2, `batch effect ${effect}`);
  });
});
