import { Hono } from 'hono';
import type { ApiContext } from '../common/context.ts';
import { generationHandler } from '../common/route.ts';
import { prepareResponse, RESPONSES_SSE, responseEvents, responseObject } from './service.ts';

/** `POST /v1/responses`: the response object, or its events over SSE with `stream: true`. */
export function responsesRoutes(ctx: ApiContext): Hono {
  return new Hono().post(
    '/v1/responses',
    generationHandler(ctx, {
      operation: 'chat',
      prepare: prepareResponse,
      respond: responseObject,
      chunks: responseEvents,
      sse: RESPONSES_SSE,
    }),
  );
}
