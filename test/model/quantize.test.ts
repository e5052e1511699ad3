import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dequantizeBlockwise,
  dequantizePerChannel,
  quantizeBlockwise,
  quantizePerChannel,
} from '../../src/model/onnx/quantize.ts';

/** Deterministic values with a spread of magnitudes (and exact zeros every 11th entry). */
function values(n: number, seed = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) =>
    i % 11 === 0 ? 0 : Math.sin(i * 0.731 + seed) * (1 + ((i * seed) % 5)),
  );
}

describe('block-wise quantizer (MatMulNBits layout)', () => {
  for (const bits of [4, 8] as const) {
    for (const zeroPoints of [false, true]) {
      it(`${bits}-bit ${zeroPoints ? 'asymmetric' : 'symmetric'}: every entry within half a step (clamped: one)`, () => {
        const rows = 5;
        const cols = 80; // 2.5 blocks of 32: the last block is padded
        const w = values(rows * cols, bits);
        const q = quantizeBlockwise(w, rows, cols, { bits, blockSize: 32, zeroPoints });
        assert.equal(q.blocksPerRow, 3);
        assert.equal(q.codes.length, rows * 3 * ((32 * bits) / 8));
        assert.equal(q.scales.length, rows * 3);
        assert.equal(q.zeroPoints?.length, zeroPoints ? rows * (bits === 4 ? 2 : 3) : undefined);
        const dq = dequantizeBlockwise(q);
        let clamped = 0;
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const step = Math.abs(q.scales[r * 3 + Math.floor(c / 32)]!);
            const err = Math.abs(dq[r * cols + c]! - w[r * cols + c]!);
            // Symmetric blocks clamp the far end of the side opposite their largest entry.
            const bound = err <= step / 2 + 1e-6 ? step / 2 : step;
            if (bound === step) clamped++;
            assert.ok(err <= bound + 1e-6, `(${r}, ${c}): error ${err} > ${bound}`);
          }
        }
        if (zeroPoints) assert.equal(clamped, 0, 'asymmetric blocks never clamp');
        else assert.ok(clamped <= rows * 3, 'at most one clamped entry per block here');
      });
    }
  }

  it('symmetric blocks map the largest magnitude exactly onto the lowest code', () => {
    const w = Float32Array.from({ length: 32 }, (_, i) => (i === 7 ? -3.5 : i / 20));
    const q = quantizeBlockwise(w, 1, 32, { bits: 4, blockSize: 32 });
    assert.equal(q.scales[0], Math.fround(3.5 / 8));
    assert.equal(q.codes[3]! >> 4, 0, 'entry 7 is the high nibble of byte 3, code 0 = −8 · scale');
    assert.equal(dequantizeBlockwise(q)[7], -3.5);
  });

  it('values on the grid round-trip exactly; zero stays exact with zero points', () => {
    const scale = 0.25;
    const w = Float32Array.from({ length: 64 }, (_, i) => ((i % 16) - 8) * scale);
    assert.deepEqual(dequantizeBlockwise(quantizeBlockwise(w, 2, 32, { bits: 4, blockSize: 32 })), w);
    const shifted = Float32Array.from({ length: 32 }, (_, i) => (i % 16) * 0.1 + 0.3);
    shifted[5] = 0;
    const dq = dequantizeBlockwise(
      quantizeBlockwise(shifted, 1, 32, { bits: 4, blockSize: 32, zeroPoints: true }),
    );
    assert.equal(dq[5], 0);
  });

  it('an all-zero block dequantizes to zeros', () => {
    const q = quantizeBlockwise(new Float32Array(64), 2, 32, { bits: 4, blockSize: 32 });
    assert.deepEqual(dequantizeBlockwise(q), new Float32Array(64));
  });

  it('refuses block sizes MatMulNBits cannot take and mismatched shapes', () => {
    assert.throws(
      () => quantizeBlockwise(new Float32Array(48), 1, 48, { bits: 4, blockSize: 48 }),
      /power of two/,
    );
    assert.throws(
      () => quantizeBlockwise(new Float32Array(8), 1, 8, { bits: 4, blockSize: 8 }),
      /power of two/,
    );
    assert.throws(
      () => quantizeBlockwise(new Float32Array(10), 2, 32, { bits: 4, blockSize: 32 }),
      /\[2, 32\]/,
    );
  });
});

describe('per-channel int8 quantizer (MatMulInteger weights)', () => {
  it('one symmetric scale per row; codes in −127..127; within half a step', () => {
    const rows = 7;
    const cols = 50;
    const w = values(rows * cols, 3);
    const q = quantizePerChannel(w, rows, cols);
    const dq = dequantizePerChannel(q);
    for (let r = 0; r < rows; r++) {
      let peak = 0;
      for (let c = 0; c < cols; c++) peak = Math.max(peak, Math.abs(w[r * cols + c]!));
      assert.equal(q.scales[r], Math.fround(peak / 127));
      for (let c = 0; c < cols; c++) {
        const code = q.codes[r * cols + c]!;
        assert.ok(code >= -127 && code <= 127);
        assert.ok(Math.abs(dq[r * cols + c]! - w[r * cols + c]!) <= q.scales[r]! / 2 + 1e-7);
      }
    }
  });

  it('transposed: the same codes, column-major, and the same dequantized matrix', () => {
    const rows = 7;
    const cols = 50;
    const w = values(rows * cols, 4);
    const q = quantizePerChannel(w, rows, cols);
    const t = quantizePerChannel(w, rows, cols, { transposed: true });
    assert.deepEqual(t.scales, q.scales);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) assert.equal(t.codes[c * rows + r], q.codes[r * cols + c]);
    assert.deepEqual(dequantizePerChannel(t), dequantizePerChannel(q));
  });
});
