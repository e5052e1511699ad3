import type { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type {
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
 * (checked against the package's declared types, so a rename upstream is a compile error here,
 * without loading its 800 KB incubating module at run time: about 4 MB of heap), `reverie.*` for
 * what is ours.
 */

export const GEN_AI = {
  operation: 'gen_ai.operation.name' satisfies typeof ATTR_GEN_AI_OPERATION_NAME,
  provider: 'gen_ai.provider.name' satisfies typeof ATTR_GEN_AI_PROVIDER_NAME,
  requestModel: 'gen_ai.request.model' satisfies typeof ATTR_GEN_AI_REQUEST_MODEL,
  maxTokens: 'gen_ai.request.max_tokens' satisfies typeof ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  temperature: 'gen_ai.request.temperature' satisfies typeof ATTR_GEN_AI_REQUEST_TEMPERATURE,
  topP: 'gen_ai.request.top_p' satisfies typeof ATTR_GEN_AI_REQUEST_TOP_P,
  topK: 'gen_ai.request.top_k' satisfies typeof ATTR_GEN_AI_REQUEST_TOP_K,
  seed: 'gen_ai.request.seed' satisfies typeof ATTR_GEN_AI_REQUEST_SEED,
  presencePenalty: 'gen_ai.request.presence_penalty' satisfies typeof ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  frequencyPenalty: 'gen_ai.request.frequency_penalty' satisfies typeof ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  choiceCount: 'gen_ai.request.choice.count' satisfies typeof ATTR_GEN_AI_REQUEST_CHOICE_COUNT,
  stream: 'gen_ai.request.stream' satisfies typeof ATTR_GEN_AI_REQUEST_STREAM,
  responseId: 'gen_ai.response.id' satisfies typeof ATTR_GEN_AI_RESPONSE_ID,
  responseModel: 'gen_ai.response.model' satisfies typeof ATTR_GEN_AI_RESPONSE_MODEL,
  finishReasons: 'gen_ai.response.finish_reasons' satisfies typeof ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  timeToFirstChunk:
    'gen_ai.response.time_to_first_chunk' satisfies typeof ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  inputTokens: 'gen_ai.usage.input_tokens' satisfies typeof ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  outputTokens: 'gen_ai.usage.output_tokens' satisfies typeof ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  reasoningTokens:
    'gen_ai.usage.reasoning.output_tokens' satisfies typeof ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  cachedInputTokens:
    'gen_ai.usage.cache_read.input_tokens' satisfies typeof ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  errorType: 'error.type' satisfies typeof ATTR_ERROR_TYPE,
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
  requestDuration: 'gen_ai.server.request.duration' satisfies typeof METRIC_GEN_AI_SERVER_REQUEST_DURATION,
  timeToFirstToken:
    'gen_ai.server.time_to_first_token' satisfies typeof METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
  timePerOutputToken:
    'gen_ai.server.time_per_output_token' satisfies typeof METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
} as const;
