import { CodedError, type ErrorCode } from '../errors.ts';
import type { ChatTemplate } from '../model/chat-template.ts';
import type { ResolvedDevice } from '../model/execution-provider.ts';
import type { Manifest } from '../model/manifest.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { KvBudget } from './kv-budget.ts';

/**
 * The engine's public face, as the API layer sees it. Nothing here knows HTTP or tensors: the
 * API renders and tokenizes prompts with `ModelInfo.tokenizer` / `chatTemplate`, submits token
 * ids with decoding parameters, and receives plain events.
 *
 * The decoding types (DecodingParams, DecodeEvent, ...) live in src/decoding/; they are imported
 * here by name so the API never needs to reach into the engine's internals.
 */

/** Request-level decoding parameters: see src/decoding/params.ts (`DecodingParams`). */
export type { DecodingParams } from '../decoding/params.ts';
/** Per-choice events produced by the decoders: see src/decoding/types.ts (`DecodeEvent`). */
export type {
  ChoiceUsage,
  DecodeEvent,
  DraftSnapshot,
  FinishReason,
  StepTrace,
  TokenLogprob,
} from '../decoding/types.ts';

import type { ModelFacts } from '../decoding/model-facts.ts';
import type { DecodingParams } from '../decoding/params.ts';
import type { DecodeEvent } from '../decoding/types.ts';

/** One served checkpoint. */
export interface ModelInfo {
  /** The id clients use in `model` (the manifest's name). */
  name: string;
  /** Where it was loaded from: the checkpoint folder (OpenAI-compatible servers' `root`). */
  root: string;
  manifest: Manifest;
  /** Maximum positions (prompt + thinking + answer) of one sequence. */
  maxModelLen: number;
  /** KV cache budget (configured, or derived at start: see src/engine/kv-budget.ts). */
  kvBudget: KvBudget;
  /** Tokenizer and chat template, for the API to render and count prompts. */
  tokenizer: TextTokenizer;
  chatTemplate: ChatTemplate | null;
  /** The weights the server runs: `none` (float), `int8` or `int4` (manifest or `--quantization`). */
  quantization: 'none' | 'int8' | 'int4';
  /** Where the model runs (`--device`, with `auto` resolved); `deviceFallback` says why `auto` chose the CPU. */
  device: ResolvedDevice;
  deviceFallback?: string;
  /** Unix seconds when the model was loaded (OpenAI's `created`). */
  created: number;
  /** What resolving a request against this model needs (vocabulary, modes, markers, length, defaults). */
  facts: ModelFacts;
}

/** What the API submits. */
export interface GenerateRequest {
  /** Caller-chosen id, unique among live requests (e.g. `chatcmpl-…`). */
  id: string;
  /** `ModelInfo.name`. */
  model: string;
  /** Prompt token ids (already rendered through the chat template and tokenized). */
  prompt: number[];
  /** True when the prompt ends inside the thinking block (it ends with the think-start marker). */
  startsInThinking: boolean;
  params: DecodingParams;
}

/** Token counts of a finished request (all choices together). */
export interface RequestUsage {
  promptTokens: number;
  /** Answer tokens plus reasoning tokens, over all choices (OpenAI counts reasoning as completion). */
  completionTokens: number;
  reasoningTokens: number;
  /** Prompt tokens served from the prefix cache. */
  cachedTokens: number;
}

/** Timings of a finished request, in milliseconds from submission. */
export interface RequestTimings {
  queueMs: number;
  prefillMs: number;
  /** Time to the first generated token (thinking or answer). */
  firstTokenMs: number;
  totalMs: number;
}

/** Engine events: the decoders' events plus the request's life cycle. */
export type EngineEvent =
  | DecodeEvent
  /** The request left the queue and its prefill started. */
  | { type: 'scheduled' }
  /** Every choice finished; the last event of a successful request. */
  | { type: 'done'; usage: RequestUsage; timings: RequestTimings; preemptions: number }
  /** The request failed; the last event of a failed request. */
  | { type: 'error'; error: EngineError };

/** The codes of the error catalogue (src/errors.ts) the engine uses. */
export type EngineErrorCode = Extract<
  ErrorCode,
  /** The request cannot be served as asked (a parameter, or a duplicate id). */
  | 'invalid_value'
  | 'unknown_parameter'
  /** Prompt, thinking budget and max_tokens exceed the model length. */
  | 'context_length_exceeded'
  /** A thinking mode or superposition the checkpoint cannot run. */
  | 'unsupported_mode'
  | 'model_not_found'
  /** The queue is full: retry later (HTTP 429 with Retry-After). */
  | 'overloaded'
  /** Cancelled (the client went away, or the server shut down). */
  | 'cancelled'
  /** The client stopped reading its events for longer than the stall timeout (flow control). */
  | 'slow_reader'
  /** The engine is not running (starting, closed or dead). */
  | 'unavailable'
  | 'internal_error'
>;

/** A coded engine error; the API maps codes to HTTP statuses through the one catalogue. */
export class EngineError extends CodedError {
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, param: string | null = null) {
    super(code, message, param);
    this.name = 'EngineError';
  }
}

/** One engine step that ran a forward pass: what the batch held (for batch-size metrics). */
export interface StepSample {
  /** Rows (sequences) in the step. */
  rows: number;
  /** Positions computed: one per decoding row, a chunk per prefilling row. */
  positions: number;
}

/** Flow control: requests whose reader stalled (see src/engine/flow-control.ts). */
export interface FlowStats {
  /** Requests paused now because their reader stalled (out of the batches, KV kept). */
  paused: number;
  /** Events waiting unread in the requests' channels, all requests together. */
  bufferedEvents: number;
  /** Since start: pauses, resumes after a pause, and requests cancelled after the stall timeout. */
  pauses: number;
  resumes: number;
  stallCancels: number;
}

/** A snapshot for /health and /metrics. */
export interface EngineStats extends FlowStats {
  state: 'starting' | 'ready' | 'dead' | 'closed';
  running: number;
  waiting: number;
  /**
   * KV cache held by requests / budget, 0..1. Prefix-cache entries are not counted: they are
   * evicted whenever a request needs their blocks (vLLM counts its idle cached blocks as free too).
   */
  kvUsage: number;
  /** KV cache held by prefix-cache entries / budget, 0..1. */
  prefixCacheUsage: number;
  kvBytes: number;
  preemptions: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  /** Prompt positions actually computed (prefix-cache hits skip theirs). */
  promptTokensComputed: number;
  /** Cumulative wall time of engine steps, and of the model's `session.run` inside them (ms). */
  stepTimeMs: number;
  forwardTimeMs: number;
  /** Steps whose KV cache stayed on the device (WebGPU; see src/model/resident-kv.ts), and downloads that ended such a run. */
  kvResidentSteps: number;
  kvSettles: number;
}

/**
 * The engine façade (a dispatcher, in undici's terms).
 *
 * @example
 * for await (const ev of engine.generate({ id, model, prompt, startsInThinking, params }, req.signal)) {
 *   if (ev.type === 'content') write(ev.text);
 * }
 */
export interface Engine {
  readonly models: readonly ModelInfo[];
  /** Resolves once every model is loaded; rejects if loading failed. */
  ready(): Promise<void>;
  stats(): EngineStats;
  /**
   * Submits a request. Admission problems (unknown model, invalid parameters, full queue, engine
   * not ready) throw an EngineError synchronously, before any event. Afterwards events arrive in
   * order and end with `done` or `error`; an abort of `signal` cancels the request and frees its
   * KV, and so does breaking out of the loop.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent>;
  /**
   * Calls `listener` for every step the engine runs (shortly after it ran: steps are reported with
   * the events they produced). Returns a function that removes the listener.
   */
  onStep(listener: (step: StepSample) => void): () => void;
  /** Cancels a live request by id (no-op when unknown). */
  cancel(id: string): void;
  /** Graceful: refuse new requests, finish running ones (up to `timeoutMs`), then stop. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
  /** Forceful: fail every live request and stop now. Idempotent. */
  destroy(): void;
}
