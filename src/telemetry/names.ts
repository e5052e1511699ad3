import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  ATTR_GEN_AI_REQUEST_SEED,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_K,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  METRIC_GEN_AI_SERVER_REQUEST_DURATION,
  METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
  METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
} from '@opentelemetry/semantic-conventions/incubating';

/**
 * Attribute and metric names: OpenTelemetry's GenAI semantic conventions where they have one
 * (imported, so a rename upstream is a compile error here), `reverie.*` for what is ours.
 */

export const GEN_AI = {
  operation: ATTR_GEN_AI_OPERATION_NAME,
  provider: ATTR_GEN_AI_PROVIDER_NAME,
  requestModel: ATTR_GEN_AI_REQUEST_MODEL,
  maxTokens: ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  temperature: ATTR_GEN_AI_REQUEST_TEMPERATURE,
  topP: ATTR_GEN_AI_REQUEST_TOP_P,
  topK: ATTR_GEN_AI_REQUEST_TOP_K,
  seed: ATTR_GEN_AI_REQUEST_SEED,
  presencePenalty: ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  frequencyPenalty: ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  choiceCount: ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  stream: ATTR_GEN_AI_REQUEST_STREAM,
  responseId: ATTR_GEN_AI_RESPONSE_ID,
  responseModel: ATTR_GEN_AI_RESPONSE_MODEL,
  finishReasons: ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  timeToFirstChunk: ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  inputTokens: ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  outputTokens: ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  reasoningTokens: ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  cachedInputTokens: ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  errorType: ATTR_ERROR_TYPE,
} as const;

/** `gen_ai.provider.name`: reverie serves its own checkpoints. */
export const PROVIDER = 'reverie';

export const REVERIE = {
  thinkingMode: 'reverie.thinking.mode',
  thinkingSteps: 'reverie.thinking.steps',
  drafts: 'reverie.superposition.drafts',
  transport: 'reverie.transport',
  queueTimeMs: 'reverie.queue_time_ms',
  prefillTimeMs: 'reverie.prefill_time_ms',
  timeToFirstTokenMs: 'reverie.time_to_first_token_ms',
  preempted: 'reverie.preempted',
  preemptions: 'reverie.preemptions',
} as const;

export const GEN_AI_METRICS = {
  requestDuration: METRIC_GEN_AI_SERVER_REQUEST_DURATION,
  timeToFirstToken: METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
  timePerOutputToken: METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
} as const;
