/**
 * Conversions between float32 and the 16-bit float formats of checkpoints and graphs: IEEE half
 * (fp16) and bfloat16, both rounding to nearest even as PyTorch does.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** Converts a float32 array to half-precision bits. */
export function toHalfArray(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toHalf(data[i]!);
  return out;
}

/** float32 → bfloat16 bits (what `tensor.to(torch.bfloat16)` does). */
export function toBfloat16(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return 0x7fc0; // NaN
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

let halfTable: Float32Array | null = null;

/** All 65536 half-precision values as float32 (built once, 256 KiB): decoding is one lookup. */
export function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) halfTable[h] = sign * 2 ** -14 * (frac / 1024);
    else if (exp === 0x1f) halfTable[h] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else halfTable[h] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return halfTable;
}
