import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Engine } from '../engine/types.ts';
import { type TelemetryConfig, telemetryConfigFromEnv } from './config.ts';
import { type GenAiOperation, nowMs, RequestTelemetry } from './request-telemetry.ts';
import { ServerMetrics } from './server-metrics.ts';
import { withVllmAliases } from './vllm-aliases.ts';

/**
 * The server's OpenTelemetry: a MeterProvider whose readers are the Prometheus exporter behind
 * `/metrics` (it never opens its own port) plus OTLP when configured, and a TracerProvider only
 * when some span exporter is configured. Providers are the server's own, not registered
 * globally: an embedding application keeps its own global OpenTelemetry setup.
 *
 * @example
 * const telemetry = new Telemetry(engine); // OTEL_* variables decide the exporters
 * const rt = telemetry.request('chat', request.headers);
 */

export interface TelemetryOptions {
  /** Default: from the OTEL_* environment variables. */
  config?: TelemetryConfig;
  /** Extra span exporters, each behind a SimpleSpanProcessor (tests: InMemorySpanExporter). */
  spanExporters?: SpanExporter[];
  /** Extra metric readers (tests). */
  metricReaders?: MetricReader[];
  serviceVersion?: string;
}

/** Reads W3C `traceparent`/`tracestate` from fetch Headers or a plain header record. */
type HeaderCarrier = Headers | Record<string, string | string[] | undefined>;
const headerGetter: TextMapGetter<HeaderCarrier> = {
  keys: (carrier) => (carrier instanceof Headers ? [...carrier.keys()] : Object.keys(carrier)),
  get: (carrier, key) => {
    if (carrier instanceof Headers) return carrier.get(key) ?? undefined;
    return carrier[key.toLowerCase()] ?? carrier[key];
  },
};

export class Telemetry {
  readonly tracer: Tracer | null;
  readonly metrics: ServerMetrics;
  readonly #meterProvider: MeterProvider;
  readonly #tracerProvider: BasicTracerProvider | null;
  readonly #prometheus: PrometheusExporter;
  readonly #serializer = new PrometheusSerializer(undefined, false);
  readonly #propagator = new W3CTraceContextPropagator();
  readonly #engine: Engine;

  constructor(engine: Engine, options: TelemetryOptions = {}) {
    this.#engine = engine;
    const config = options.config ?? telemetryConfigFromEnv();
    const resource = defaultResource()
      .merge(
        resourceFromAttributes({
          'service.name': 'reverie',
          ...(options.serviceVersion && { 'service.version': options.serviceVersion }),
        }),
      )
      // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our defaults.
      .merge(detectResources({ detectors: [envDetector] }));

    this.#prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const readers: MetricReader[] = [this.#prometheus, ...(options.metricReaders ?? [])];
    for (const name of config.metrics) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: name === 'otlp' ? new OTLPMetricExporter() : new ConsoleMetricExporter(),
          exportIntervalMillis: config.metricIntervalMs,
        }),
      );
    }
    this.#meterProvider = new MeterProvider({ resource, readers });
    this.metrics = new ServerMetrics(this.#meterProvider.getMeter('reverie'), engine);

    const processors: SpanProcessor[] = config.traces.map((name) =>
      name === 'otlp'
        ? new BatchSpanProcessor(new OTLPTraceExporter())
        : new SimpleSpanProcessor(new ConsoleSpanExporter()),
    );
    for (const exporter of options.spanExporters ?? []) processors.push(new SimpleSpanProcessor(exporter));
    // No exporter, no tracer: requests then skip every span operation.
    this.#tracerProvider =
      processors.length > 0 ? new BasicTracerProvider({ resource, spanProcessors: processors }) : null;
    this.tracer = this.#tracerProvider?.getTracer('reverie') ?? null;
  }

  /**
   * Starts one request's telemetry at its arrival; the span's parent is the caller's
   * `traceparent` when the headers carry one.
   */
  request(
    operation: GenAiOperation,
    headers: HeaderCarrier,
    attributes: Attributes = {},
    arrivedAt = nowMs(),
  ): RequestTelemetry {
    const parent: Context = this.tracer
      ? this.#propagator.extract(ROOT_CONTEXT, headers, headerGetter)
      : ROOT_CONTEXT;
    return new RequestTelemetry(this.metrics, this.tracer, operation, parent, attributes, arrivedAt);
  }

  /** Prometheus text exposition of every metric, with vLLM's names beside ours (`GET /metrics`). */
  async prometheus(): Promise<string> {
    const { resourceMetrics } = await this.#prometheus.collect();
    return withVllmAliases(
      this.#serializer.serialize(resourceMetrics),
      this.#engine.models.map((m) => m.name),
    );
  }

  /** Exports what is pending (spans, a last metric push). */
  async flush(): Promise<void> {
    await Promise.all([this.#tracerProvider?.forceFlush(), this.#meterProvider.forceFlush()]);
  }

  async shutdown(): Promise<void> {
    this.metrics.shutdown();
    await Promise.all([this.#tracerProvider?.shutdown(), this.#meterProvider.shutdown()]);
  }
}
