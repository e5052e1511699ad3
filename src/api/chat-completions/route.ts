import { Hono } from 'hono';
import type { ApiContext } from '../common/context.ts';
import { generationHandler } from '../common/route.ts';
import { chatChunks, chatCompletion, prepareChat } from './service.ts';

/** `POST /v1/chat/completions`: JSON, or SSE with `stream: true`. */
export function chatCompletionsRoutes(ctx: ApiContext): Hono {
  return new Hono().post(
    '/v1/chat/completions',
    generationHandler(ctx, {
      operation: 'chat',
      prepare: prepareChat,
      respond: chatCompletion,
      chunks: chatChunks,
    }),
  );
}
