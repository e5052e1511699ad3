/**
 * reverie's decoders. The engine needs only: `resolveDecodingParams` once per request,
 * `createDecoder` once per row (n per request), and `SequenceDecoder.next` once per step.
 */

export { buildNgramStore } from './ngram-build.ts';
export { interpolateNgrams } from './ngram-interpolate.ts';
export { NgramStore } from './ngram-store.ts';
export type {
  ColdStopParams,
  DecodingParams,
  NoiseParams,
  ResolvedDecodingParams,
  SuperpositionParams,
  ThinkingMode,
  ThinkingParams,
} from './params.ts';
export { type DecodingDefaults, DecodingParamsError, resolveDecodingParams } from './resolve-params.ts';
export { deriveSeed, Rng, randomSeed } from './rng.ts';
export { createDecoder, type DecoderOptions } from './sequence-decoder.ts';
export { BAG_DROPPED_MASS } from './soft-thinking.ts';
export { StructuredOutputCompiler } from './structured/grammar-compiler.ts';
export {
  checkStructuredOutput,
  type StructuredOutput,
  StructuredOutputError,
} from './structured/spec.ts';
export { grammarVocabulary } from './structured/vocabulary.ts';
export { applyTokenBitmask, type TokenConstraint } from './token-constraint.ts';
export type {
  BagInput,
  ChoiceUsage,
  DecodeContext,
  DecodeEvent,
  DecodeResult,
  DecodingTokenizer,
  DraftSnapshot,
  FinishReason,
  SequenceDecoder,
  StepOutput,
  StepTrace,
  TokenLogprob,
  TopLogprob,
} from './types.ts';
