import { Hono } from 'hono';
import type { ApiMetrics } from './metrics.ts';

/** `GET /metrics`: Prometheus text exposition. */
export function metricsRoutes(metrics: ApiMetrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.body(await metrics.serialize(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  return app;
}
