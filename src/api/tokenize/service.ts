import type { z } from 'zod';
import type { ModelInfo } from '../../engine/types.ts';
import type { ApiContext } from '../common/context.ts';
import { templateMessages } from '../common/messages.ts';
import { findModel, parseWith } from '../common/request.ts';
import { invalidRequest, toApiError } from '../errors.ts';
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

/** The chat prompt as text, as the chat endpoint renders it (or ending inside the last message). */
function renderChat(model: ModelInfo, body: z.infer<typeof tokenizeChatRequestSchema>): string {
  if (!model.chatTemplate) {
    throw invalidRequest(
      `The model ${model.name} has no chat template: tokenize a prompt instead`,
      'messages',
    );
  }
  const addGenerationPrompt = body.add_generation_prompt ?? true;
  const continueFinal = body.continue_final_message ?? false;
  if (addGenerationPrompt && continueFinal) {
    throw invalidRequest(
      'continue_final_message needs add_generation_prompt: false',
      'continue_final_message',
      'conflicting_parameters',
    );
  }
  const kwargs = body.chat_template_kwargs ?? {};
  const messages = templateMessages(body.messages);
  let text: string;
  try {
    text = model.chatTemplate.render(messages, {
      addGenerationPrompt,
      ...(typeof kwargs.enable_thinking === 'boolean' && { enableThinking: kwargs.enable_thinking }),
      variables: kwargs,
    });
  } catch (err) {
    throw toApiError(err);
  }
  if (!continueFinal) return text;
  // As Hugging Face's continue_final_message: cut after the last message's own text.
  const last = messages.at(-1)!.content;
  const at = last ? text.lastIndexOf(last) : -1;
  if (at < 0) {
    throw invalidRequest(
      'continue_final_message: the last message is empty or not found in the rendered prompt',
      'continue_final_message',
    );
  }
  return text.slice(0, at + last.length);
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
    const tokens = model.tokenizer.encode(renderChat(model, body), {
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
