import type { Scratch } from './scratch.ts';
import { logSumExp, topK } from './top-k.ts';
import type { DecodingTokenizer, TokenLogprob } from './types.ts';

/**
 * Log-probabilities of emitted tokens: log-softmax of the logits after the request's edits
 * (bias, penalties; steps 1–4 of logits-processors.ts) and before temperature and truncation.
 * That is the distribution the request asked the model for, and it is the same whether the
 * request samples greedily or at T = 1, so two requests' numbers compare.
 */
export function tokenLogprob(
  processed: Float32Array,
  id: number,
  topLogprobs: number,
  tokenizer: DecodingTokenizer,
  scratch: Scratch,
): TokenLogprob {
  const n = processed.length;
  const lse = logSumExp(processed, n);
  const top: TokenLogprob['top_logprobs'] = [];
  if (topLogprobs > 0) {
    const ids = scratch.int32('top-logprobs', topLogprobs);
    const count = topK(processed, n, topLogprobs, ids);
    for (let j = 0; j < count; j++) {
      // A token a grammar forbids (−∞) is no alternative: the list is shorter, as when n < k.
      if (processed[ids[j]] === Number.NEGATIVE_INFINITY) break;
      top.push({ id: ids[j], token: tokenizer.tokenText(ids[j]), logprob: processed[ids[j]] - lse });
    }
  }
  return { id, token: tokenizer.tokenText(id), logprob: processed[id] - lse, top_logprobs: top };
}
