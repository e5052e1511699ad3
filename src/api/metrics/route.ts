import { Hono } from 'hono';
import type { Telemetry } from '../../telemetry/telemetry.ts';

/** `GET /metrics`: Prometheus text exposition of the server's OpenTelemetry metrics. */
export function metricsRoutes(telemetry: Telemetry): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.body(await telemetry.prometheus(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  return app;
}
