import { z } from 'zod';

/**
 * Which exporters to run, from OpenTelemetry's standard environment variables. Nothing is
 * exported unless asked: tracing stays off (a null tracer, no per-request span work) until
 * `OTEL_TRACES_EXPORTER` names an exporter or an OTLP endpoint is set; metrics are always
 * served on `/metrics` (Prometheus) and pushed over OTLP only when asked the same way. The OTLP
 * exporters read their own variables (endpoint, headers, timeout, protocol) themselves.
 */

export type SignalExporter = 'otlp' | 'console';

export interface TelemetryConfig {
  traces: SignalExporter[];
  metrics: SignalExporter[];
  /** OTEL_METRIC_EXPORT_INTERVAL: milliseconds between OTLP metric pushes. */
  metricIntervalMs: number;
}

const envSchema = z.object({
  OTEL_SDK_DISABLED: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.string().optional(),
  OTEL_METRICS_EXPORTER: z.string().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: z.string().optional(),
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().positive().default(60_000),
});

/** Thrown for a variable we cannot honour; `reverie serve` stops with its message. */
export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';
}

function exporters(
  variable: string,
  raw: string | undefined,
  endpointSet: boolean,
  accepted: readonly string[],
): SignalExporter[] {
  if (raw === undefined || raw.trim() === '') return endpointSet ? ['otlp'] : [];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!accepted.includes(name)) {
      throw new TelemetryConfigError(
        `${variable}="${raw}": "${name}" is not supported (use ${accepted.join(', ')})`,
      );
    }
  }
  if (names.includes('none')) return [];
  return names.filter((n): n is SignalExporter => n === 'otlp' || n === 'console');
}

/**
 * @example telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })
 *   // → { traces: ['otlp'], metrics: ['otlp'], metricIntervalMs: 60000 }
 */
export function telemetryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TelemetryConfigError(`${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  if (e.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    return { traces: [], metrics: [], metricIntervalMs: e.OTEL_METRIC_EXPORT_INTERVAL };
  }
  const generic = Boolean(e.OTEL_EXPORTER_OTLP_ENDPOINT);
  return {
    traces: exporters(
      'OTEL_TRACES_EXPORTER',
      e.OTEL_TRACES_EXPORTER,
      generic || Boolean(e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
      ['otlp', 'console', 'none'],
    ),
    // `prometheus` is accepted and always on: it is what `/metrics` serves.
    metrics: exporters(
      'OTEL_METRICS_EXPORTER',
      e.OTEL_METRICS_EXPORTER,
      generic || Boolean(e.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
      ['otlp', 'console', 'prometheus', 'none'],
    ),
    metricIntervalMs: e.OTEL_METRIC_EXPORT_INTERVAL,
  };
}
