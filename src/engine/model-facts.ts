import type { ModelFacts } from '../decoding/model-facts.ts';
import type { Manifest } from '../model/manifest.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';

/**
 * A served model's facts for resolving requests (src/decoding/model-facts.ts), from its manifest,
 * tokenizer and length. The engine makes them once per model on the main thread; the scripted
 * test engine makes them the same way.
 */
export function modelFacts(model: {
  manifest: Manifest;
  tokenizer: TextTokenizer;
  maxModelLen: number;
  /** The model's vocab (the logits' length), when it may be smaller than the tokenizer's. */
  vocabSize?: number;
}): ModelFacts {
  const { manifest, tokenizer } = model;
  const markerId = (s: string | undefined) => (s === undefined ? null : (tokenizer.idOf(s) ?? null));
  return {
    name: manifest.name,
    tokenizerVocabSize: Math.min(tokenizer.vocabSize, model.vocabSize ?? tokenizer.vocabSize),
    thinkStartId: markerId(manifest.thinking?.start),
    thinkEndId: markerId(manifest.thinking?.end),
    modes: manifest.modes,
    hasNgram: manifest.ngram !== null,
    maxModelLen: model.maxModelLen,
    defaults: manifest.defaults,
  };
}
