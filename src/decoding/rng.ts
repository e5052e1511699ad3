import { randomBytes } from 'node:crypto';

/**
 * Per-request random numbers: xoshiro128** (32-bit state words, so every operation stays in
 * V8's fast small-integer / Math.imul path), seeded through splitmix32. One `Rng` per decoder:
 * the same seed gives the same stream whatever else shares the batch.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** splitmix32 finaliser: a bijective avalanche on 32 bits, used for seeding and seed derivation. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Splits a safe integer (negative allowed) into its low and high 32-bit words. */
function words(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return [lo, hi];
}

/**
 * The seed of sample `index` of a request seeded with `seed` (n > 1 parallel samples, superposed
 * choices). Distinct indices give unrelated streams; the result is a non-negative safe integer.
 *
 * @example const rng = new Rng(deriveSeed(request.seed, choiceIndex));
 */
export function deriveSeed(seed: number, index: number): number {
  const [lo, hi] = words(seed);
  const a = mix32(lo ^ mix32(index));
  const b = mix32(hi ^ mix32(a ^ 0x6a09e667));
  // 21 + 32 bits keeps the result a safe integer.
  return (b & 0x1fffff) * TWO_POW_32 + a;
}

/** A fresh seed from the OS entropy pool, for requests that give none. */
export function randomSeed(): number {
  const b = randomBytes(8);
  return (b.readUInt32LE(4) & 0x1fffff) * TWO_POW_32 + b.readUInt32LE(0);
}

/** Seeded generator with uniform, normal and gamma variates. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  /** Box–Muller yields normals in pairs; the second waits here. */
  #spareNormal = Number.NaN;

  constructor(seed: number) {
    const [lo, hi] = words(seed);
    this.#s0 = mix32(lo);
    this.#s1 = mix32(this.#s0 ^ hi);
    this.#s2 = mix32(this.#s1 ^ 0x243f6a88);
    this.#s3 = mix32(this.#s2 ^ 0x85a308d3);
    // xoshiro must not start from the all-zero state.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Standard normal N(0, 1) (Box–Muller; the second value of each pair is cached). */
  normal(): number {
    if (!Number.isNaN(this.#spareNormal)) {
      const z = this.#spareNormal;
      this.#spareNormal = Number.NaN;
      return z;
    }
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * log of a Gamma(shape, 1) variate. Returned in log space because Dirichlet noise over a
   * soft-thinking distribution uses shapes α·p_i as small as 1e-12, whose gamma variates underflow
   * to 0 in linear space. Marsaglia–Tsang for shape ≥ 1; below 1 the boost
   * Gamma(a) = Gamma(a + 1) · U^(1/a).
   */
  logGamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) return this.logGamma(shape + 1) + Math.log(1 - this.next()) / shape;
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return Math.log(d * v);
    }
  }

  /** Standard Gumbel variate −log(−log U). */
  gumbel(): number {
    const u = 1 - this.next(); // (0, 1]
    // u = 1 would give −log(0) = +∞; nudge it just below 1.
    return -Math.log(-Math.log(u === 1 ? 1 - 2 ** -53 : u));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
