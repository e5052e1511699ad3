import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Engine } from '../../engine/types.ts';

/**
 * Server metrics through OpenTelemetry: a MeterProvider whose only reader is a PrometheusExporter
 * that never starts its own HTTP server; `GET /metrics` serialises a collection on request.
 * Gauges read `engine.stats()` when collected; the API feeds counters and histograms as
 * requests stream (see instrument.ts). Names follow vLLM's with the `reverie_` prefix.
 */

/** Latency buckets in seconds (vLLM's TTFT buckets, roughly). */
const LATENCY_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const TOKEN_GAP_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
  0.75, 1, 2.5,
];

/** What the API records per request. */
export interface RequestMetrics {
  prompt(model: string, tokens: number, cached: number): void;
  generation(model: string, tokens: number, reasoning: number): void;
  firstToken(model: string, seconds: number): void;
  interToken(model: string, seconds: number): void;
  finished(model: string, seconds: number, queueSeconds: number, reasons: readonly string[]): void;
  failed(model: string, code: string): void;
}

/**
 * @example
 * const metrics = new ApiMetrics(engine);
 * app.get('/metrics', async (c) => c.text(await metrics.serialize()));
 */
export class ApiMetrics implements RequestMetrics {
  readonly #exporter: PrometheusExporter;
  readonly #provider: MeterProvider;
  readonly #serializer = new PrometheusSerializer(undefined, false);
  readonly #promptTokens: Counter;
  readonly #cachedTokens: Counter;
  readonly #generationTokens: Counter;
  readonly #reasoningTokens: Counter;
  readonly #success: Counter;
  readonly #failure: Counter;
  readonly #ttft: Histogram;
  readonly #itl: Histogram;
  readonly #e2e: Histogram;
  readonly #queue: Histogram;

  constructor(engine: Engine) {
    this.#exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    this.#provider = new MeterProvider({ readers: [this.#exporter] });
    const meter = this.#provider.getMeter('reverie');

    const gauge = (name: string, description: string, read: () => number) =>
      meter.createObservableGauge(name, { description }).addCallback((r) => r.observe(read()));
    gauge('reverie_num_requests_running', 'Requests in the running batch', () => engine.stats().running);
    gauge('reverie_num_requests_waiting', 'Requests waiting in the queue', () => engine.stats().waiting);
    gauge('reverie_kv_cache_usage_perc', 'KV cache in use / budget (0..1)', () => engine.stats().kvUsage);
    gauge('reverie_kv_cache_bytes', 'KV cache bytes in use', () => engine.stats().kvBytes);
    gauge('reverie_engine_ready', '1 when the engine is ready', () =>
      engine.stats().state === 'ready' ? 1 : 0,
    );
    const total = (name: string, description: string, read: () => number) =>
      meter.createObservableCounter(name, { description }).addCallback((r) => r.observe(read()));
    total('reverie_num_preemptions', 'Preemptions since start', () => engine.stats().preemptions);
    total(
      'reverie_prefix_cache_queries',
      'Prefix cache lookups (blocks)',
      () => engine.stats().prefixCacheQueries,
    );
    total('reverie_prefix_cache_hits', 'Prefix cache hits (blocks)', () => engine.stats().prefixCacheHits);

    this.#promptTokens = meter.createCounter('reverie_prompt_tokens', {
      description: 'Prompt tokens processed',
    });
    this.#cachedTokens = meter.createCounter('reverie_prompt_tokens_cached', {
      description: 'Prompt tokens served from the prefix cache',
    });
    this.#generationTokens = meter.createCounter('reverie_generation_tokens', {
      description: 'Generated tokens (answer + reasoning)',
    });
    this.#reasoningTokens = meter.createCounter('reverie_reasoning_tokens', {
      description: 'Generated reasoning (thinking) positions',
    });
    this.#success = meter.createCounter('reverie_request_success', {
      description: 'Finished choices by finish reason',
    });
    this.#failure = meter.createCounter('reverie_request_failure', {
      description: 'Failed requests by error code',
    });
    const histogram = (name: string, description: string, buckets: number[]) =>
      meter.createHistogram(name, { description, advice: { explicitBucketBoundaries: buckets } });
    this.#ttft = histogram('reverie_time_to_first_token_seconds', 'Time to the first token', LATENCY_BUCKETS);
    this.#itl = histogram(
      'reverie_inter_token_latency_seconds',
      'Gap between streamed tokens',
      TOKEN_GAP_BUCKETS,
    );
    this.#e2e = histogram('reverie_e2e_request_latency_seconds', 'Request latency', LATENCY_BUCKETS);
    this.#queue = histogram(
      'reverie_request_queue_time_seconds',
      'Time in the waiting queue',
      LATENCY_BUCKETS,
    );
  }

  prompt(model: string, tokens: number, cached: number): void {
    this.#promptTokens.add(tokens, attrs(model));
    this.#cachedTokens.add(cached, attrs(model));
  }

  generation(model: string, tokens: number, reasoning: number): void {
    this.#generationTokens.add(tokens, attrs(model));
    this.#reasoningTokens.add(reasoning, attrs(model));
  }

  firstToken(model: string, seconds: number): void {
    this.#ttft.record(seconds, attrs(model));
  }

  interToken(model: string, seconds: number): void {
    this.#itl.record(seconds, attrs(model));
  }

  finished(model: string, seconds: number, queueSeconds: number, reasons: readonly string[]): void {
    this.#e2e.record(seconds, attrs(model));
    this.#queue.record(queueSeconds, attrs(model));
    for (const reason of reasons) this.#success.add(1, { ...attrs(model), finished_reason: reason });
  }

  failed(model: string, code: string): void {
    this.#failure.add(1, { ...attrs(model), code });
  }

  /** Prometheus text exposition of every metric. */
  async serialize(): Promise<string> {
    const { resourceMetrics } = await this.#exporter.collect();
    return this.#serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}

function attrs(model: string): Attributes {
  return { model_name: model };
}
