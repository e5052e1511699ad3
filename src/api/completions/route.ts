import { Hono } from 'hono';
import type { ApiContext } from '../common/context.ts';
import { generationHandler } from '../common/route.ts';
import { completion, completionChunks, prepareCompletion } from './service.ts';

/** `POST /v1/completions`: JSON, or SSE with `stream: true`. */
export function completionsRoutes(ctx: ApiContext): Hono {
  return new Hono().post(
    '/v1/completions',
    generationHandler(ctx, {
      operation: 'text_completion',
      prepare: prepareCompletion,
      respond: completion,
      chunks: completionChunks,
    }),
  );
}
