import type { ModelFacts } from './model-facts.ts';
import type { NgramStore } from './ngram-store.ts';

/**
 * The contract between the engine and a row's decoder. The runner embeds each row's input as a
 * weighted bag of token ids plus an optional additive vector:
 *
 *     embedding = Σ_j weights[j] · E[ids[j]] + add
 *
 * Discrete tokens are a bag of one id with weight 1; a soft thought is the thinking distribution;
 * a superposed step is the drafts' last tokens; a latent thought is an empty bag plus the last
 * hidden state in `add`.
 */

/** One position's input. Arrays are owned by the receiver (the decoder never reuses them). */
export interface BagInput {
  ids: Int32Array;
  /** Same length as `ids`. */
  weights: Float32Array;
  /** Length hiddenSize; added to the embedding (noise, latent hidden state). */
  add?: Float32Array;
}

/**
 * The runner's output at a row's last position. Both are read-only views into the runner's batch
 * buffers, valid only during the `next()` call that receives them.
 */
export interface StepOutput {
  /** Raw logits, length = model vocab (may exceed the tokenizer's; those ids are never chosen). */
  logits: Float32Array;
  /** Last-layer hidden state after the final norm, length hiddenSize. */
  hidden: Float32Array;
}

/** What the decoders need from a tokenizer; the server's TextTokenizer satisfies it. */
export interface DecodingTokenizer {
  /**
   * Text of a token sequence (may end in U+FFFD while a multi-byte character is incomplete);
   * special tokens are left out when `skipSpecialTokens`.
   */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Display text of a single token (traces, top_logprobs). */
  tokenText(id: number): string;
  /** The content of an added token (special or not); undefined for an ordinary piece. */
  addedToken?(id: number): string | undefined;
}

/**
 * Per-checkpoint facts, built once by the engine worker and shared by every decoder: the facts
 * requests are resolved against, and what decoding needs besides.
 */
export interface DecodeContext extends ModelFacts {
  /** Logits length (the model's vocab, possibly padded). */
  vocabSize: number;
  hiddenSize: number;
  /** Root-mean-square of all entries of the input embedding matrix E (scales Gaussian noise). */
  embeddingRms: number;
  /** Tokens that end an answer. */
  eosIds: readonly number[];
  tokenizer: DecodingTokenizer;
  /** N-gram model for superposed decoding (the checkpoint's NgramStore); without one, α = 0. */
  ngram?: NgramModel | null;
}

/** What superposed decoding asks of an n-gram store (a benchmark wraps it to time the calls). */
export type NgramModel = Pick<NgramStore, 'interpolate'>;

/** Why a choice ended: 'stop' = EOS or a stop string, 'length' = max_tokens. */
export type FinishReason = 'stop' | 'length';

/** One alternative of `top_logprobs`. */
export interface TopLogprob {
  id: number;
  token: string;
  logprob: number;
}

/** Log-probability of one emitted token (OpenAI's `logprobs.content[i]`). */
export interface TokenLogprob extends TopLogprob {
  /** The `top_logprobs` most likely tokens at this step, most likely first. */
  top_logprobs: TopLogprob[];
}

/** One thinking step as seen from outside (`thinking.trace`). */
export interface StepTrace {
  /** The argmax ("shadow") token of the step: it forms the reasoning text. */
  shadowId: number;
  shadowToken: string;
  /**
   * The `trace_top_k` heaviest tokens of the step's thinking distribution. `p`: the weight in
   * softmax(logits / τ), before truncation and noise. `fed`: the weight in the bag the step feeds
   * as the next input, after truncation, renormalisation and Dirichlet/Gumbel noise (0 when
   * truncated away; Gaussian noise moves the embedding, not the weights; a latent thought feeds
   * no tokens, so 0).
   */
  top: { id: number; token: string; p: number; fed: number }[];
  /** Entropy (nats) of the model's full next-token distribution at temperature 1. */
  entropy: number;
}

/** A superposed draft as of the latest step. */
export interface DraftSnapshot {
  text: string;
  tokenIds: number[];
  /** Cumulative interpolated log score (higher is better). */
  score: number;
  finished: boolean;
}

/** Usage of one choice, reported when it finishes. */
export interface ChoiceUsage {
  /**
   * Tokens inside the think block, markers excluded: the tokens `reasoning_content` holds, as
   * vLLM's reasoning parsers count them.
   */
  reasoningTokens: number;
  /**
   * Every position this choice generated: answer tokens (a final EOS included), thoughts, and the
   * think markers the model emitted or was forced. Superposed drafts share one thinking phase:
   * the first draft reports it, the others only their own tokens.
   */
  completionTokens: number;
  /** Thinking steps taken (thoughts, markers excluded; shared by superposed drafts, reported once). */
  thinkingSteps: number;
}

/** Everything a decoder reports; every event names the choice (n > 1, superposed k drafts). */
export type DecodeEvent =
  | {
      type: 'reasoning';
      choice: number;
      text: string;
      trace?: StepTrace;
      /** Thinking positions since the previous reasoning event (running usage; absent: 0). */
      tokens?: number;
    }
  | {
      type: 'content';
      choice: number;
      /** Text safe to show now; it may lag the tokens (held back for a possible stop string). */
      text: string;
      /** Tokens generated this step (every sampled token is reported once, EOS excluded). */
      tokenIds: number[];
      logprobs?: TokenLogprob[];
    }
  | { type: 'drafts'; choice: number; drafts: DraftSnapshot[] }
  | { type: 'finish'; choice: number; reason: FinishReason; usage: ChoiceUsage };

/** What `SequenceDecoder.next` returns. */
export interface DecodeResult {
  /** The row's input at its next position; null once finished. */
  input: BagInput | null;
  events: DecodeEvent[];
  /** True when the sequence needs no more forward passes. */
  finished: boolean;
  /**
   * Between an answer phase and its composed decoder only: the answer sampled the think-start
   * marker before any visible text (`input` feeds it), so thinking begins at the next position.
   */
  opensThinking?: boolean;
}

/**
 * One row's decoder. The engine calls `next` once per step with the row's last-position output
 * (the first call receives the prompt's last logits) and feeds back the returned input; it never
 * needs to know the decoding mode.
 */
export interface SequenceDecoder {
  next(out: StepOutput): DecodeResult;
}
