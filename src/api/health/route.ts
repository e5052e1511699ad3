import { Hono } from 'hono';
import type { ApiContext } from '../common/context.ts';

/** `GET /health`: 200 when the engine is ready, 503 while it loads, after it died or closed. */
export function healthRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  app.get('/health', (c) => {
    const { state } = ctx.engine.stats();
    return c.json({ status: state }, state === 'ready' ? 200 : 503);
  });
  return app;
}
