import { NgramStore } from '../decoding/ngram-store.ts';
import type { DecodeContext } from '../decoding/types.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { modelFacts } from './model-facts.ts';

/** Per-checkpoint facts every decoder of that model shares (the engine worker's; see DecodeContext). */
export function decodeContext(
  checkpoint: Checkpoint,
  tokenizer: TextTokenizer,
  embeddingRms: number,
  opts: { loadNgram: boolean; maxModelLen: number },
): DecodeContext {
  const { manifest, config } = checkpoint;
  return {
    ...modelFacts({ manifest, tokenizer, maxModelLen: opts.maxModelLen, vocabSize: config.vocabSize }),
    vocabSize: config.vocabSize,
    hiddenSize: config.hiddenSize,
    embeddingRms,
    eosIds: checkpoint.generation.eosTokenIds,
    tokenizer: {
      decode: (ids, options) => tokenizer.decode(ids, options),
      tokenText: (id) => tokenizer.tokenText(id),
      addedToken: (id) => tokenizer.addedToken(id),
    },
    ngram: opts.loadNgram && checkpoint.ngramFile ? NgramStore.load(checkpoint.ngramFile) : null,
  };
}
