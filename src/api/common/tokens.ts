import type { TokenLogprob } from '../../engine/types.ts';
import { byteToUnicode } from '../../model/byte-tokenizer.ts';
import type { TextTokenizer } from '../../model/tokenizer.ts';

/**
 * Token text for logprobs, OpenAI style: the token's decoded text and its UTF-8 bytes. Byte-level
 * vocabularies store pieces as GPT-2 byte-to-unicode characters; mapping them back gives the
 * exact bytes, also for a token that holds part of a multi-byte character.
 */

const UNICODE_TO_BYTE = new Map(byteToUnicode().map((ch, b) => [ch, b]));

export interface TokenText {
  token: string;
  bytes: number[];
}

/** Text and bytes of one token id. */
export function tokenText(tokenizer: TextTokenizer, id: number): TokenText {
  let piece: string;
  try {
    piece = tokenizer.tokenText(id);
  } catch {
    return { token: '', bytes: [] };
  }
  if (!tokenizer.isSpecial(id)) {
    const bytes: number[] = [];
    for (const ch of piece) {
      const b = UNICODE_TO_BYTE.get(ch);
      if (b === undefined) {
        const text = tokenizer.decode([id]);
        return { token: text, bytes: [...Buffer.from(text, 'utf8')] };
      }
      bytes.push(b);
    }
    return { token: Buffer.from(bytes).toString('utf8'), bytes };
  }
  return { token: piece, bytes: [...Buffer.from(piece, 'utf8')] };
}

/** OpenAI's `logprobs.content[i]` for chat. */
export function chatLogprob(tokenizer: TextTokenizer, lp: TokenLogprob) {
  return {
    ...tokenText(tokenizer, lp.id),
    logprob: lp.logprob,
    top_logprobs: lp.top_logprobs.map((t) => ({ ...tokenText(tokenizer, t.id), logprob: t.logprob })),
  };
}
