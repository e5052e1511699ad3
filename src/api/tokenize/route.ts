import { Hono } from 'hono';
import { readJsonBody } from '../common/body.ts';
import type { ApiContext } from '../common/context.ts';
import { detokenize, tokenize } from './service.ts';

/** `POST /tokenize` and `POST /detokenize` (vLLM's paths, outside /v1). */
export function tokenizeRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  app.post('/tokenize', async (c) =>
    c.json(tokenize(await readJsonBody(c.req.raw, ctx.config.maxBodyBytes), ctx)),
  );
  app.post('/detokenize', async (c) =>
    c.json(detokenize(await readJsonBody(c.req.raw, ctx.config.maxBodyBytes), ctx)),
  );
  return app;
}
