import { NgramStore } from '../decoding/ngram-store.ts';
import type { DecodeContext } from '../decoding/types.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';

/** Per-checkpoint facts every decoder of that model shares. */
export function decodeContext(
  checkpoint: Checkpoint,
  tokenizer: TextTokenizer,
  embeddingRms: number,
  opts: { loadNgram: boolean },
): DecodeContext {
  const { manifest, config } = checkpoint;
  const markerId = (s: string | undefined) => (s === undefined ? null : (tokenizer.idOf(s) ?? null));
  return {
    vocabSize: config.vocabSize,
    tokenizerVocabSize: Math.min(tokenizer.vocabSize, config.vocabSize),
    hiddenSize: config.hiddenSize,
    embeddingRms,
    eosIds: checkpoint.generation.eosTokenIds,
    thinkStartId: markerId(manifest.thinking?.start),
    thinkEndId: markerId(manifest.thinking?.end),
    supportsLatent: manifest.modes.includes('latent'),
    tokenizer: {
      decode: (ids, options) => tokenizer.decode(ids, options),
      tokenText: (id) => tokenizer.tokenText(id),
      addedToken: (id) => tokenizer.addedToken(id),
    },
    ngram: opts.loadNgram && checkpoint.ngramFile ? NgramStore.load(checkpoint.ngramFile) : null,
  };
}
