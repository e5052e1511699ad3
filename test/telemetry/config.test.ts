import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TelemetryConfigError, telemetryConfigFromEnv } from '../../src/telemetry/config.ts';

describe('telemetry configuration from OTEL_* variables', () => {
  it('exports nothing unless asked', () => {
    assert.deepEqual(telemetryConfigFromEnv({}), { traces: [], metrics: [], metricIntervalMs: 60_000 });
  });

  it('an OTLP endpoint turns on OTLP for traces and metrics', () => {
    const c = telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' });
    assert.deepEqual([c.traces, c.metrics], [['otlp'], ['otlp']]);
    const t = telemetryConfigFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' });
    assert.deepEqual([t.traces, t.metrics], [['otlp'], []]);
  });

  it('honours the exporter lists, none and the SDK switch', () => {
    const c = telemetryConfigFromEnv({
      OTEL_TRACES_EXPORTER: 'console, otlp',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
    });
    assert.deepEqual(c, { traces: ['console', 'otlp'], metrics: [], metricIntervalMs: 5000 });
    const none = telemetryConfigFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_TRACES_EXPORTER: 'none',
    });
    assert.deepEqual([none.traces, none.metrics], [[], ['otlp']]);
    const off = telemetryConfigFromEnv({
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    assert.deepEqual([off.traces, off.metrics], [[], []]);
  });

  it('refuses what it cannot honour, naming the variable', () => {
    assert.throws(
      () => telemetryConfigFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }),
      (e: Error) => e instanceof TelemetryConfigError && /OTEL_TRACES_EXPORTER.*zipkin/.test(e.message),
    );
    assert.throws(
      () => telemetryConfigFromEnv({ OTEL_METRIC_EXPORT_INTERVAL: 'soon' }),
      (e: Error) => e instanceof TelemetryConfigError && /OTEL_METRIC_EXPORT_INTERVAL/.test(e.message),
    );
  });
});
