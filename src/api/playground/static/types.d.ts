// Types for the page's JSDoc, taken from the server's own zod schemas: `npm run typecheck` checks
// the page against the protocol it speaks. Not served (only .html, .js, .css and .svg are).
import type { z } from 'zod';
import type { modelObjectSchema } from '../../models/schema.ts';
import type { ServerMessage } from '../../ws/protocol.ts';

export type { ServerMessage };
/** One entry of `GET /v1/models`. */
export type ModelEntry = z.infer<typeof modelObjectSchema>;
/** A server message of one type. */
export type Message<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
/** One traced thinking step (`trace` of `response.reasoning.delta`). */
export type TraceStep = NonNullable<Message<'response.reasoning.delta'>['trace']>;
