import { z } from 'zod';
import { toolCallDeltaSchema, traceStepSchema, usageSchema } from '../chat-completions/schema.ts';

/**
 * The `/v1/stream` WebSocket protocol: JSON text messages, several requests multiplexed on one
 * socket by a client-chosen id. Documented in docs/websocket.md and in openapi.yaml
 * (`x-websocket`). These schemas validate client messages and describe server messages.
 */

const clientId = z.string().min(1).max(128).describe('client-chosen id, unique among its live requests');

export const responseCreateSchema = z
  .strictObject({
    type: z.literal('response.create'),
    id: clientId,
    request: z.record(z.string(), z.unknown()).describe('a chat completion body (`stream` is implied)'),
    traceparent: z
      .string()
      .max(256)
      .optional()
      .describe("W3C trace context of this request's parent span (default: the upgrade request's)"),
    tracestate: z.string().max(512).optional().describe('W3C tracestate accompanying `traceparent`'),
    stream_drafts: z
      .boolean()
      .optional()
      .describe('superposed decoding: send `response.drafts` with every draft after each step'),
  })
  .meta({ id: 'WsResponseCreate' });

export const responseCancelSchema = z
  .strictObject({ type: z.literal('response.cancel'), id: clientId })
  .meta({ id: 'WsResponseCancel' });

export const clientMessageSchema = z
  .discriminatedUnion('type', [responseCreateSchema, responseCancelSchema])
  .meta({ id: 'WsClientMessage' });
export type ClientMessage = z.infer<typeof clientMessageSchema>;

const errorObject = z.object({
  message: z.string(),
  type: z.string(),
  param: z.string().nullable(),
  code: z.string().nullable(),
});

const ms = () => z.number().min(0);

export const timingsSchema = z
  .object({
    queue_ms: ms().describe('waiting for admission'),
    prefill_ms: ms().describe('prompt prefill (after the queue)'),
    first_token_ms: ms().describe('from submission to the first generated token, thinking or answer'),
    total_ms: ms().describe('from submission to the last token'),
  })
  .meta({ id: 'WsTimings', description: "The engine's timings of a request, in ms from its submission." });

export const serverMessageSchema = z
  .discriminatedUnion('type', [
    z
      .object({
        type: z.literal('response.created'),
        id: z.string(),
        response_id: z.string().describe("the server's request id (chatcmpl-…)"),
        model: z.string(),
        created: z.number().int(),
        choices: z.number().int().describe('number of choices (n, or the superposed drafts)'),
        ignored_fields: z
          .array(z.string())
          .optional()
          .describe(
            "the request's fields the server ignored (HTTP's X-Reverie-Ignored-Fields); absent when none",
          ),
      })
      .meta({ id: 'WsResponseCreated' }),
    z
      .object({
        type: z.literal('response.reasoning.delta'),
        id: z.string(),
        index: z.number().int(),
        delta: z.string(),
        trace: traceStepSchema
          .optional()
          .describe('with thinking.trace: the step’s top-k mixture and entropy'),
      })
      .meta({ id: 'WsReasoningDelta' }),
    z
      .object({
        type: z.literal('response.output_text.delta'),
        id: z.string(),
        index: z.number().int().describe('the choice (draft) index'),
        delta: z.string().describe('answer text (empty when the step only extended tool calls)'),
        logprobs: z.array(z.unknown()).optional(),
        tool_calls: z
          .array(toolCallDeltaSchema)
          .optional()
          .describe('pieces of tool calls, as in the chat stream'),
      })
      .meta({ id: 'WsOutputTextDelta' }),
    z
      .object({
        type: z.literal('response.drafts'),
        id: z.string(),
        step: z.number().int().describe('answer positions decoded so far'),
        drafts: z.array(
          z.object({
            text: z.string(),
            score: z.number().describe('cumulative interpolated log score (higher is better)'),
            finished: z.boolean().describe('in the finished pool (ended with EOS)'),
          }),
        ),
      })
      .meta({
        id: 'WsDrafts',
        description: 'superposed decoding with stream_drafts: the live and finished drafts after a step',
      }),
    z
      .object({
        type: z.literal('response.completed'),
        id: z.string(),
        usage: usageSchema,
        finish_reasons: z.array(z.enum(['stop', 'length', 'tool_calls']).nullable()),
        timings: timingsSchema,
      })
      .meta({ id: 'WsResponseCompleted' }),
    z.object({ type: z.literal('response.cancelled'), id: z.string() }).meta({ id: 'WsResponseCancelled' }),
    z
      .object({ type: z.literal('error'), id: z.string().nullable(), error: errorObject })
      .meta({ id: 'WsError', description: 'id is null when the message could not be attributed' }),
  ])
  .meta({ id: 'WsServerMessage' });
export type ServerMessage = z.infer<typeof serverMessageSchema>;
