import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveSeed, Rng, randomSeed } from '../../src/decoding/rng.ts';

function draws(seed: number, n: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.next());
}

describe('Rng', () => {
  it('is reproducible per seed and differs between seeds', () => {
    assert.deepEqual(draws(42, 100), draws(42, 100));
    assert.notDeepEqual(draws(42, 100), draws(43, 100));
    // Seeds differing only in their high word also differ.
    assert.notDeepEqual(draws(1, 10), draws(1 + 2 ** 32, 10));
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const xs = draws(7, 200_000);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.002, `variance ${variance}`);
  });

  it('draws standard normals', () => {
    const rng = new Rng(3);
    const xs = Array.from({ length: 200_000 }, () => rng.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
  });

  it('draws gamma variates with mean = shape, also for tiny shapes (log space)', () => {
    const rng = new Rng(5);
    for (const shape of [0.3, 1, 4.5]) {
      const n = 100_000;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += Math.exp(rng.logGamma(shape));
      assert.ok(Math.abs(sum / n - shape) < 0.03 * shape, `shape ${shape}: mean ${sum / n}`);
    }
    const tiny = rng.logGamma(1e-12);
    assert.ok(Number.isFinite(tiny) && tiny < -100, `log Gamma(1e-12) = ${tiny}`);
  });

  it('derives distinct reproducible seeds per sample', () => {
    const seeds = Array.from({ length: 1000 }, (_, i) => deriveSeed(99, i));
    assert.equal(new Set(seeds).size, 1000);
    assert.equal(deriveSeed(99, 3), seeds[3]);
    assert.notEqual(deriveSeed(98, 3), seeds[3]);
    assert.ok(seeds.every((s) => Number.isSafeInteger(s) && s >= 0));
    assert.notEqual(randomSeed(), randomSeed());
  });
});
