import type { z } from 'zod';
import type { ModelInfo } from '../../engine/types.ts';
import { renderChatPrompt } from '../common/chat-prompt.ts';
import type { ApiContext } from '../common/context.ts';
import { thinkingModeFor } from '../common/decoding.ts';
import { findModel, parseWith } from '../common/request.ts';
import { invalidRequest } from '../errors.ts';
import {
  detokenizeRequestSchema,
  tokenizeChatRequestSchema,
  tokenizePromptRequestSchema,
  type tokenizeResponseSchema,
} from './schema.ts';

/** The request's model, or the default one (the first served). */
function modelOf(ctx: ApiContext, name: string | undefined): ModelInfo {
  return findModel(ctx.engine, name ?? ctx.engine.models[0]?.name ?? '');
}

/**
 * `POST /tokenize`: `{prompt}` or `{messages}` → ids, their count, the model length, and the pieces
 * when asked.
 * @throws ApiError 400, 404
 */
export function tokenize(raw: unknown, ctx: ApiContext): z.infer<typeof tokenizeResponseSchema> {
  const isChat = raw !== null && typeof raw === 'object' && 'messages' in raw;
  if (isChat) {
    const body = parseWith(tokenizeChatRequestSchema, raw);
    const model = modelOf(ctx, body.model);
    const text = renderChatPrompt(model, body, thinkingModeFor(body, model), 'tokenize a prompt instead');
    const tokens = model.tokenizer.encode(text, {
      specialTokens: true,
      addSpecialTokens: body.add_special_tokens ?? false,
    });
    return response(model, tokens, body.return_token_strs ?? false);
  }
  const body = parseWith(tokenizePromptRequestSchema, raw);
  const model = modelOf(ctx, body.model);
  const tokens = model.tokenizer.encode(body.prompt, {
    specialTokens: true,
    addSpecialTokens: body.add_special_tokens ?? true,
  });
  return response(model, tokens, body.return_token_strs ?? false);
}

function response(model: ModelInfo, tokens: number[], strs: boolean): z.infer<typeof tokenizeResponseSchema> {
  return {
    count: tokens.length,
    max_model_len: model.maxModelLen,
    tokens,
    token_strs: strs ? tokens.map((id) => model.tokenizer.tokenText(id)) : null,
  };
}

/**
 * `POST /detokenize`: ids → text (special tokens included, as vLLM).
 * @throws ApiError 400 for an id outside the vocabulary, 404
 */
export function detokenize(raw: unknown, ctx: ApiContext): { prompt: string } {
  const body = parseWith(detokenizeRequestSchema, raw);
  const model = modelOf(ctx, body.model);
  const bad = body.tokens.findIndex((id) => id >= model.tokenizer.vocabSize);
  if (bad >= 0) {
    throw invalidRequest(
      `tokens[${bad}] = ${body.tokens[bad]} is not in the vocabulary (${model.tokenizer.vocabSize} ids)`,
      `tokens[${bad}]`,
    );
  }
  return { prompt: model.tokenizer.decode(body.tokens) };
}
