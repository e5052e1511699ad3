/**
 * Grow-only scratch buffers for vocab-sized work. One process-wide instance is shared by every
 * decoder: `next()` is synchronous and JavaScript runs it on one thread, so no two decoders can
 * be inside a step at once, and 64 rows × 152k-entry buffers need not be allocated 64 times.
 * A buffer's contents are only valid until the next call that asks for the same slot.
 */
export class Scratch {
  #f32 = new Map<string, Float32Array>();
  #f64 = new Map<string, Float64Array>();
  #i32 = new Map<string, Int32Array>();

  /** A Float32Array view of length n for `slot` (contents unspecified). */
  float32(slot: string, n: number): Float32Array {
    return grow(this.#f32, slot, n, (m) => new Float32Array(m));
  }

  /** A Float64Array view of length n for `slot` (contents unspecified). */
  float64(slot: string, n: number): Float64Array {
    return grow(this.#f64, slot, n, (m) => new Float64Array(m));
  }

  /** An Int32Array view of length n for `slot` (contents unspecified). */
  int32(slot: string, n: number): Int32Array {
    return grow(this.#i32, slot, n, (m) => new Int32Array(m));
  }
}

function grow<T extends Float32Array | Float64Array | Int32Array>(
  pool: Map<string, T>,
  slot: string,
  n: number,
  make: (n: number) => T,
): T {
  let buf = pool.get(slot);
  if (!buf || buf.length < n) {
    buf = make(Math.max(n, buf ? buf.length * 2 : 0));
    pool.set(slot, buf);
  }
  return buf.subarray(0, n) as T;
}

/** The process-wide scratch space used by the decoders. */
export const sharedScratch = new Scratch();
