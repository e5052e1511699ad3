import { Hono } from 'hono';
import type { ApiContext } from '../common/context.ts';
import { findModel } from '../common/request.ts';
import { modelObject } from './service.ts';

/** `GET /v1/models` (the default model first) and `GET /v1/models/:id`. */
export function modelsRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  app.get('/v1/models', (c) => c.json({ object: 'list', data: ctx.engine.models.map(modelObject) }));
  app.get('/v1/models/:id{.+}', (c) => c.json(modelObject(findModel(ctx.engine, c.req.param('id')))));
  return app;
}
