import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { Engine } from '../engine/types.ts';
import { GEN_AI, GEN_AI_METRICS } from './names.ts';

/**
 * Every instrument the server records, on one Meter. Engine gauges and totals are read from
 * `engine.stats()` when a reader collects (a scrape costs nothing between scrapes); batch shape is
 * recorded per engine step; request instruments are fed by RequestTelemetry. Two families:
 * OpenTelemetry's GenAI server metrics (`gen_ai.server.*`, attributes per the conventions) and
 * vLLM-style `reverie_*` names (what dashboards and autoscalers built for vLLM expect).
 */

/** GenAI conventions' advice, with finer buckets below 10 ms for small models on CPUs. */
const DURATION_BUCKETS = [
  0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const TPOT_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
  0.75, 1, 2.5,
];
const BATCH_ROWS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const STEP_TOKENS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];
/** vLLM's 1-2-5 buckets for token counts per request. */
const REQUEST_TOKENS_BUCKETS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000,
];

/** What one finished request contributes (all durations in seconds). */
export interface FinishedRequest {
  /** GenAI attributes: operation, provider, request and response model. */
  attributes: Attributes;
  model: string;
  durationS: number;
  queueS: number;
  ttftS: number | null;
  /** Mean gap between output positions after the first, per sequence; null with one position. */
  tpotS: number | null;
  promptTokens: number;
  cachedTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  thinkingMode: string;
  thinkingSteps: number;
  drafts: number;
  finishReasons: readonly string[];
}

export class ServerMetrics {
  readonly #duration: Histogram;
  readonly #ttft: Histogram;
  readonly #tpot: Histogram;
  readonly #promptTokens: Counter;
  readonly #cachedTokens: Counter;
  readonly #generationTokens: Counter;
  readonly #reasoningTokens: Counter;
  readonly #success: Counter;
  readonly #failure: Counter;
  readonly #requestsByMode: Counter;
  readonly #thinkingSteps: Counter;
  readonly #drafts: Counter;
  readonly #vllmTtft: Histogram;
  readonly #itl: Histogram;
  readonly #e2e: Histogram;
  readonly #queue: Histogram;
  readonly #requestPromptTokens: Histogram;
  readonly #requestGenerationTokens: Histogram;
  readonly #batchRows: Histogram;
  readonly #stepTokens: Histogram;
  readonly #unsubscribe: () => void;

  constructor(meter: Meter, engine: Engine) {
    const histogram = (name: string, description: string, unit: string, buckets: number[]) =>
      meter.createHistogram(name, { description, unit, advice: { explicitBucketBoundaries: buckets } });
    const counter = (name: string, description: string) => meter.createCounter(name, { description });
    const gauge = (name: string, description: string, read: () => number) =>
      meter.createObservableGauge(name, { description }).addCallback((r) => r.observe(read()));
    const total = (name: string, description: string, read: () => number) =>
      meter.createObservableCounter(name, { description }).addCallback((r) => r.observe(read()));

    // OpenTelemetry GenAI server metrics.
    this.#duration = histogram(
      GEN_AI_METRICS.requestDuration,
      'Time from request arrival to its last byte',
      's',
      DURATION_BUCKETS,
    );
    this.#ttft = histogram(
      GEN_AI_METRICS.timeToFirstToken,
      'Time from request arrival to the first generated token (thinking or answer)',
      's',
      TTFT_BUCKETS,
    );
    this.#tpot = histogram(
      GEN_AI_METRICS.timePerOutputToken,
      'Time per output position after the first, per sequence',
      's',
      TPOT_BUCKETS,
    );

    // Engine state, read at collection.
    gauge('reverie_num_requests_running', 'Requests in the running batch', () => engine.stats().running);
    gauge('reverie_num_requests_waiting', 'Requests waiting in the queue', () => engine.stats().waiting);
    gauge(
      'reverie_kv_cache_usage_perc',
      'KV cache held by requests / budget (0..1); idle prefix-cache blocks count as free',
      () => engine.stats().kvUsage,
    );
    gauge(
      'reverie_prefix_cache_usage_perc',
      'KV cache held by prefix-cache entries / budget (0..1), reclaimed on demand',
      () => engine.stats().prefixCacheUsage,
    );
    gauge('reverie_kv_cache_bytes', 'KV cache bytes in use', () => engine.stats().kvBytes);
    meter
      .createObservableGauge('reverie_kv_cache_budget_bytes', {
        description: 'KV cache budget of each model (configured, or derived at start from its configuration)',
      })
      .addCallback((r) => {
        for (const m of engine.models) r.observe(m.kvBudget.bytes, byModel(m.name));
      });
    gauge('reverie_engine_ready', '1 when the engine is ready', () =>
      engine.stats().state === 'ready' ? 1 : 0,
    );
    // Prometheus' standard process gauge: soak tests watch it for growth.
    gauge('process_resident_memory_bytes', 'Resident set size of the server process', () =>
      process.memoryUsage.rss(),
    );
    total('reverie_num_preemptions', 'Preemptions since start', () => engine.stats().preemptions);
    // Device-resident KV (WebGPU): steps that kept the cache on the GPU, and the downloads that ended a run of them.
    total(
      'reverie_kv_resident_steps',
      'Decode steps whose KV cache stayed on the device',
      () => engine.stats().kvResidentSteps,
    );
    total(
      'reverie_kv_settles',
      'Downloads of a device-resident KV cache to the host (the decode batch changed)',
      () => engine.stats().kvSettles,
    );
    meter
      .createObservableGauge('reverie_device_info', {
        description: 'Where each model runs (label device): 1',
      })
      .addCallback((r) => {
        for (const m of engine.models) r.observe(1, { ...byModel(m.name), device: m.device });
      });

    // Flow control: requests whose reader (SSE, WebSocket) stalled.
    gauge(
      'reverie_num_requests_paused',
      'Requests paused because their reader stalled (out of the batch, KV kept)',
      () => engine.stats().paused,
    );
    gauge(
      'reverie_stream_buffered_events',
      'Events waiting unread for their readers, all requests together',
      () => engine.stats().bufferedEvents,
    );
    total(
      'reverie_request_pauses',
      'Requests paused because their reader stalled',
      () => engine.stats().pauses,
    );
    meter
      .createObservableCounter('reverie_request_stall_outcomes', {
        description: 'How pauses ended: resumed (the reader drained) or cancelled (stalled past the timeout)',
      })
      .addCallback((r) => {
        const stats = engine.stats();
        r.observe(stats.resumes, { outcome: 'resumed' });
        r.observe(stats.stallCancels, { outcome: 'cancelled' });
      });
    total(
      'reverie_prefix_cache_queries',
      'Prefix cache lookups (blocks)',
      () => engine.stats().prefixCacheQueries,
    );
    total('reverie_prefix_cache_hits', 'Prefix cache hits (blocks)', () => engine.stats().prefixCacheHits);

    // Batch shape, per engine step.
    this.#batchRows = histogram(
      'reverie_batch_size',
      'Rows (sequences) per engine step',
      '',
      BATCH_ROWS_BUCKETS,
    );
    this.#stepTokens = histogram(
      'reverie_step_tokens',
      'Positions computed per engine step (decode rows + prefill chunks)',
      '',
      STEP_TOKENS_BUCKETS,
    );
    this.#unsubscribe = engine.onStep((step) => {
      this.#batchRows.record(step.rows);
      this.#stepTokens.record(step.positions);
    });

    // Requests, vLLM-style.
    this.#promptTokens = counter('reverie_prompt_tokens', 'Prompt tokens processed');
    this.#cachedTokens = counter(
      'reverie_prompt_tokens_cached',
      'Prompt tokens served from the prefix cache',
    );
    this.#generationTokens = counter('reverie_generation_tokens', 'Generated tokens (answer + reasoning)');
    this.#reasoningTokens = counter(
      'reverie_reasoning_tokens',
      'Reasoning tokens (inside think blocks, markers excluded, as vLLM counts them)',
    );
    this.#success = counter('reverie_request_success', 'Finished choices by finish reason');
    this.#failure = counter('reverie_request_failure', 'Failed requests by error type');
    this.#requestsByMode = counter(
      'reverie_requests',
      'Finished requests by thinking mode and answer decoding',
    );
    this.#thinkingSteps = counter('reverie_thinking_steps', 'Thinking steps (thoughts) by thinking mode');
    this.#drafts = counter('reverie_superposed_drafts', 'Drafts of finished superposed requests');
    this.#vllmTtft = histogram(
      'reverie_time_to_first_token_seconds',
      'Time to the first token',
      '',
      TTFT_BUCKETS,
    );
    this.#itl = histogram(
      'reverie_inter_token_latency_seconds',
      'Gap between streamed tokens',
      '',
      TPOT_BUCKETS,
    );
    this.#e2e = histogram('reverie_e2e_request_latency_seconds', 'Request latency', '', TTFT_BUCKETS);
    this.#queue = histogram(
      'reverie_request_queue_time_seconds',
      'Time in the waiting queue',
      '',
      TTFT_BUCKETS,
    );
    this.#requestPromptTokens = histogram(
      'reverie_request_prompt_tokens',
      'Prompt tokens per finished request',
      '',
      REQUEST_TOKENS_BUCKETS,
    );
    this.#requestGenerationTokens = histogram(
      'reverie_request_generation_tokens',
      'Generated tokens (answer + reasoning, all choices) per finished request',
      '',
      REQUEST_TOKENS_BUCKETS,
    );
  }

  interToken(model: string, seconds: number): void {
    this.#itl.record(seconds, byModel(model));
  }

  finished(r: FinishedRequest): void {
    const m = byModel(r.model);
    this.#duration.record(r.durationS, r.attributes);
    if (r.ttftS !== null) {
      this.#ttft.record(r.ttftS, r.attributes);
      this.#vllmTtft.record(r.ttftS, m);
    }
    if (r.tpotS !== null) this.#tpot.record(r.tpotS, r.attributes);
    this.#e2e.record(r.durationS, m);
    this.#queue.record(r.queueS, m);
    this.#promptTokens.add(r.promptTokens, m);
    this.#requestPromptTokens.record(r.promptTokens, m);
    this.#requestGenerationTokens.record(r.outputTokens, m);
    this.#cachedTokens.add(r.cachedTokens, m);
    this.#generationTokens.add(r.outputTokens, m);
    this.#reasoningTokens.add(r.reasoningTokens, m);
    for (const reason of r.finishReasons) this.#success.add(1, { ...m, finished_reason: reason });
    const answer = r.drafts > 0 ? 'superposed' : 'discrete';
    this.#requestsByMode.add(1, { ...m, thinking_mode: r.thinkingMode, answer_mode: answer });
    if (r.thinkingSteps > 0)
      this.#thinkingSteps.add(r.thinkingSteps, { ...m, thinking_mode: r.thinkingMode });
    if (r.drafts > 0) this.#drafts.add(r.drafts, m);
  }

  /** A request that failed (refused, invalid, cancelled, engine error). */
  failed(model: string | null, errorType: string, attributes: Attributes, durationS: number): void {
    this.#duration.record(durationS, { ...attributes, [GEN_AI.errorType]: errorType });
    this.#failure.add(1, { ...byModel(model ?? 'unknown'), error_type: errorType });
  }

  shutdown(): void {
    this.#unsubscribe();
  }
}

function byModel(model: string): Attributes {
  return { model_name: model };
}
