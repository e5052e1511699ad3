/**
 * Weight-only round-to-nearest quantizers, in the layouts onnxruntime's kernels read.
 *
 * Both work on a matrix in Hugging Face `Linear` layout, [rows = out features, cols = in
 * features] row-major, and each has an exact inverse (`dequantize*`): the graph tests compare ORT
 * with a TypeScript forward over the dequantized weights, so a wrong code, scale or packing shows
 * up as a mismatch instead of as a slightly worse model.
 */

/** Weight quantization a converted graph uses; `none` keeps float weights. */
export type Quantization = 'none' | 'int8' | 'int4';

/**
 * A matrix quantized block-wise along its rows (the reduction axis K of `y = W x`), in
 * com.microsoft.MatMulNBits's layout: codes [rows, blocksPerRow, blockSize·bits/8] packed
 * low-nibble first, scales [rows, blocksPerRow], and optional zero points packed the same way as
 * the codes ([rows, ceil(blocksPerRow·bits/8)]). Without zero points ORT uses 2^(bits−1).
 *
 * Dequantized value: (code − zeroPoint) · scale. The last block of a row is padded with the
 * zero-point code (a row of length not a multiple of the block size dequantizes its padding to 0).
 */
export interface BlockQuantized {
  bits: 4 | 8;
  blockSize: number;
  rows: number;
  cols: number;
  blocksPerRow: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array | null;
}

export interface BlockQuantizeOptions {
  bits: 4 | 8;
  /** A power of two ≥ 16 (MatMulNBits's rule). */
  blockSize: number;
  /** Asymmetric blocks (min/max with a zero point) instead of symmetric ones (|max| only). */
  zeroPoints?: boolean;
}

/**
 * Quantizes one block w[start, end) into `codes` (padded with the zero point); returns the
 * float32 scale and the zero point.
 */
function quantizeBlock(
  w: Float32Array,
  start: number,
  end: number,
  bits: 4 | 8,
  asymmetric: boolean,
  codes: Uint8Array,
): { scale: number; zp: number } {
  const levels = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  let scale: number;
  let zp: number;
  if (asymmetric) {
    let lo = 0;
    let hi = 0;
    for (let c = start; c < end; c++) {
      const v = w[c]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    scale = (hi - lo) / levels;
    zp = scale === 0 ? mid : Math.min(levels, Math.max(0, Math.round(-lo / scale)));
  } else {
    let peak = 0;
    for (let c = start; c < end; c++) if (Math.abs(w[c]!) > Math.abs(peak)) peak = w[c]!;
    scale = peak === 0 ? 0 : peak / -mid;
    zp = mid;
  }
  // The scale is stored as float32: quantize against the value the kernel will multiply by.
  scale = Math.fround(scale);
  const inv = scale === 0 ? 0 : 1 / scale;
  codes.fill(zp);
  for (let c = start; c < end; c++)
    codes[c - start] = Math.min(levels, Math.max(0, Math.round(w[c]! * inv) + zp));
  return { scale, zp };
}

/**
 * Quantizes `w` ([rows, cols] row-major) block-wise. Symmetric blocks map the entry of largest
 * magnitude m to the most negative code, scale = m / −2^(bits−1), so all 2^bits codes are used
 * (the convention of llama.cpp's Q4_0 and of ORT's own block quantizer); the price is that an
 * entry of the other sign beyond 2^(bits−1) − ½ steps is clamped (error up to one step). Asymmetric
 * blocks span [min(x, 0), max(x, 0)] with 2^bits − 1 steps and a rounded zero point, so 0 stays
 * exact.
 */
export function quantizeBlockwise(
  w: Float32Array,
  rows: number,
  cols: number,
  opts: BlockQuantizeOptions,
): BlockQuantized {
  const { bits, blockSize } = opts;
  if (bits !== 4 && bits !== 8) throw new Error(`quantize: bits must be 4 or 8, not ${bits}`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
    throw new Error(`quantize: block size must be a power of two ≥ 16, not ${blockSize}`);
  if (w.length !== rows * cols)
    throw new Error(`quantize: ${w.length} values for a [${rows}, ${cols}] matrix`);
  const blocksPerRow = Math.ceil(cols / blockSize);
  const blob = (blockSize * bits) / 8;
  const zpBytes = Math.ceil((blocksPerRow * bits) / 8);
  const codes = new Uint8Array(rows * blocksPerRow * blob);
  const scales = new Float32Array(rows * blocksPerRow);
  const zeroPoints = opts.zeroPoints ? new Uint8Array(rows * zpBytes) : null;
  const block = new Uint8Array(blockSize);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let b = 0; b < blocksPerRow; b++) {
      const start = row + b * blockSize;
      const end = row + Math.min((b + 1) * blockSize, cols);
      const { scale, zp } = quantizeBlock(w, start, end, bits, !!zeroPoints, block);
      const at = (r * blocksPerRow + b) * blob;
      if (bits === 8) codes.set(block, at);
      else for (let i = 0; i < blob; i++) codes[at + i] = block[2 * i]! | (block[2 * i + 1]! << 4);
      scales[r * blocksPerRow + b] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[r * zpBytes + b] = zp;
        else zeroPoints[r * zpBytes + (b >> 1)]! |= zp << (4 * (b & 1));
      }
    }
  }
  return { bits, blockSize, rows, cols, blocksPerRow, codes, scales, zeroPoints };
}

/** The code and zero point of entry (r, c): the exact inverse of the packing above. */
function blockEntry(q: BlockQuantized, r: number, c: number): number {
  const b = Math.floor(c / q.blockSize);
  const i = c % q.blockSize;
  const blob = (q.blockSize * q.bits) / 8;
  const at = (r * q.blocksPerRow + b) * blob;
  const mid = 1 << (q.bits - 1);
  if (q.bits === 8) {
    const zp = q.zeroPoints ? q.zeroPoints[r * q.blocksPerRow + b]! : mid;
    return q.codes[at + i]! - zp;
  }
  const code = (q.codes[at + (i >> 1)]! >> (4 * (i & 1))) & 0xf;
  const zpBytes = Math.ceil(q.blocksPerRow / 2);
  const zp = q.zeroPoints ? (q.zeroPoints[r * zpBytes + (b >> 1)]! >> (4 * (b & 1))) & 0xf : mid;
  return code - zp;
}

/** The float matrix [rows, cols] a block-quantized one stands for (what the kernels compute with). */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  for (let r = 0; r < q.rows; r++) {
    for (let c = 0; c < q.cols; c++) {
      out[r * q.cols + c] = blockEntry(q, r, c) * q.scales[r * q.blocksPerRow + Math.floor(c / q.blockSize)]!;
    }
  }
  return out;
}

/** A matrix quantized to int8 with one symmetric scale per row (per output channel). */
export interface ChannelQuantized {
  rows: number;
  cols: number;
  /**
   * In −127..127 (−128 is never used, so the range is symmetric): [rows, cols] row-major, or with
   * `transposed` [cols, rows] (the layout MatMulInteger reads: it has no transB).
   */
  codes: Int8Array;
  transposed: boolean;
  /** [rows]: max |row| / 127. */
  scales: Float32Array;
}

/**
 * Quantizes `w` ([rows, cols] row-major) to int8, one symmetric scale per row. `transposed` writes
 * the codes column-major at once, so no second copy of them is made to transpose.
 */
export function quantizePerChannel(
  w: Float32Array,
  rows: number,
  cols: number,
  { transposed = false }: { transposed?: boolean } = {},
): ChannelQuantized {
  if (w.length !== rows * cols)
    throw new Error(`quantize: ${w.length} values for a [${rows}, ${cols}] matrix`);
  const codes = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  const [rowStride, colStride] = transposed ? [1, rows] : [cols, 1];
  for (let r = 0; r < rows; r++) {
    let peak = 0;
    for (let c = 0; c < cols; c++) peak = Math.max(peak, Math.abs(w[r * cols + c]!));
    const scale = Math.fround(peak / 127);
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let c = 0; c < cols; c++) codes[r * rowStride + c * colStride] = Math.round(w[r * cols + c]! * inv);
    scales[r] = scale;
  }
  return { rows, cols, codes, transposed, scales };
}

/** The float matrix [rows, cols] (row-major) a per-channel int8 one stands for. */
export function dequantizePerChannel(q: ChannelQuantized): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  const [rowStride, colStride] = q.transposed ? [1, q.rows] : [q.cols, 1];
  for (let r = 0; r < q.rows; r++)
    for (let c = 0; c < q.cols; c++)
      out[r * q.cols + c] = q.codes[r * rowStride + c * colStride]! * q.scales[r]!;
  return out;
}
