import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantizationFromFlags } from '../../src/cli/model-commands.ts';

/** `reverie convert --quant …`: the manifest's `quantization` from the flags, or a clear error. */
describe('convert --quant flags', () => {
  it('no --quant keeps what the manifest says; --quant none clears it', () => {
    assert.equal(quantizationFromFlags({}), undefined);
    assert.equal(quantizationFromFlags({ quant: 'none' }), null);
  });

  it('--quant int4 takes the defaults; options override them', () => {
    assert.deepEqual(quantizationFromFlags({ quant: 'int4' }), {
      weights: 'int4',
      block_size: 32,
      zero_points: true,
      lm_head: 'int8',
      embedding: 'int8',
    });
    assert.deepEqual(
      quantizationFromFlags({
        quant: 'int4',
        'block-size': '64',
        symmetric: true,
        head: 'none',
        embedding: 'int4',
      }),
      { weights: 'int4', block_size: 64, zero_points: false, lm_head: 'none', embedding: 'int4' },
    );
    // Blocks are int4's: an int8 body with an int4 head takes them too.
    assert.equal(
      quantizationFromFlags({ quant: 'int8', head: 'int4', 'block-size': '128' })?.block_size,
      128,
    );
  });

  it('refuses what it cannot build, naming the flag', () => {
    const cases: [Parameters<typeof quantizationFromFlags>[0], RegExp][] = [
      [{ quant: 'int3' }, /--quant must be none, int8 or int4, not int3/],
      [{ 'block-size': '64' }, /--block-size needs --quant int8 or int4/],
      [{ quant: 'none', head: 'int8' }, /--head needs --quant/],
      [{ quant: 'int4', 'block-size': '48' }, /--block-size: block_size must be a power of two/],
      [{ quant: 'int4', 'block-size': '8' }, /--block-size/],
      [{ quant: 'int4', head: 'fp8' }, /--head: /],
      [{ quant: 'int8', symmetric: true }, /--symmetric is for int4 weights/],
      [{ quant: 'int8', 'block-size': '64' }, /--block-size is for int4 weights/],
    ];
    for (const [flags, message] of cases) assert.throws(() => quantizationFromFlags(flags), message);
  });
});
