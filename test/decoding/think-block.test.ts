import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { opensThinkBlock } from '../../src/decoding/think-block.ts';

const START = 151667;
const END = 151668;
const NL = 198;
const NLNL = 271;

describe('opensThinkBlock (on token ids, as vLLM reads a prompt)', () => {
  it('is true for a prompt ending in the marker, the marker and whitespace, or an open thought', () => {
    assert.ok(opensThinkBlock([1, 2, START], START, END));
    assert.ok(opensThinkBlock([1, 2, START, NL], START, END), 'DeepSeek-R1: <think>\\n');
    assert.ok(opensThinkBlock([1, START, NLNL, 77, 78], START, END), 'a prefilled partial thought');
  });
  it('is false for a closed block, no block, or a model without markers', () => {
    assert.ok(
      !opensThinkBlock([1, START, NLNL, END, NLNL], START, END),
      "Qwen3's enable_thinking=false block",
    );
    assert.ok(!opensThinkBlock([START, 5, END, 9, START, 6, END], START, END));
    assert.ok(!opensThinkBlock([1, 2, 3], START, END));
    assert.ok(!opensThinkBlock([1, START], null, END));
  });
});
