import { randomBytes } from 'node:crypto';
import type { RequestUsage } from '../../engine/types.ts';
import type { ChunkMapper } from '../common/chunk-mapper.ts';
import { type ChoiceOutput, joinToolCalls, type OutputAccumulator } from '../common/output.ts';
import type { ApiError } from '../errors.ts';
import type { DeltaToolCall, ToolCall } from '../tool-calls/types.ts';
import type { PreparedResponse } from './service.ts';

/**
 * The Responses API's shapes from the request's one choice: the response object, and its stream
 * of events as OpenAI sends them (and the `openai` SDK's ResponseStream accumulates them): a
 * reasoning item while the model thinks (`reasoning_text` content, as vLLM emits it), the message
 * item with one `output_text` part when the model writes text, and a `function_call` item per
 * call (as vLLM orders them: reasoning, message, calls); every event numbered by `sequence_number`.
 */

const itemId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** The Responses API's `usage`. */
function responseUsage(usage: RequestUsage) {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

type Status = 'in_progress' | 'completed' | 'incomplete';

/** A choice's status: incomplete when max_output_tokens cut it. */
const statusOf = (c: ChoiceOutput): Status =>
  c.finishReason === null ? 'in_progress' : c.finishReason === 'length' ? 'incomplete' : 'completed';

const reasoningItem = (id: string, text: string, status: Status) => ({
  type: 'reasoning' as const,
  id,
  summary: [],
  content: [{ type: 'reasoning_text' as const, text }],
  status,
});

const textPart = (text: string) => ({ type: 'output_text' as const, text, annotations: [], logprobs: [] });

const messageItem = (id: string, text: string | null, status: Status) => ({
  type: 'message' as const,
  id,
  status,
  role: 'assistant' as const,
  content: text === null ? [] : [textPart(text)],
});

/** A call as a `function_call` item: `call_id` is the call's id, the one a function_call_output answers. */
const functionCallItem = (id: string, call: ToolCall, status: Status) => ({
  type: 'function_call' as const,
  id,
  call_id: call.id,
  name: call.function.name,
  arguments: call.function.arguments,
  status,
});

/** The response object around `output` (the request's settings echoed as OpenAI does). */
function envelope(prepared: PreparedResponse, status: Status, output: object[], usage: RequestUsage | null) {
  const b = prepared.body;
  return {
    id: prepared.request.id,
    object: 'response' as const,
    created_at: prepared.created,
    status,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' as const } : null,
    error: null,
    model: prepared.model.name,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: b.reasoning?.effort ?? null, summary: null },
    store: false as const,
    temperature: b.temperature ?? null,
    top_p: b.top_p ?? null,
    text: { format: b.text?.format ?? { type: 'text' as const } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    truncation: 'disabled' as const,
    usage: usage && responseUsage(usage),
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}

/**
 * The whole response once the choice finished: a reasoning item when the model thought, the
 * message when it wrote text (or called nothing), then its calls.
 */
export function responseJson(prepared: PreparedResponse, output: OutputAccumulator) {
  const c = output.choices[0]!;
  const status = statusOf(c);
  const items: object[] = [];
  // The thinking was complete unless max_output_tokens cut it before any answer.
  const thought =
    status === 'incomplete' && !c.content && c.toolCalls.length === 0 ? 'incomplete' : 'completed';
  if (c.reasoning) items.push(reasoningItem(itemId('rs'), c.reasoning, thought));
  const calls = joinToolCalls(c.toolCalls);
  if (c.content || calls.length === 0) items.push(messageItem(itemId('msg'), c.content, status));
  for (const call of calls) items.push(functionCallItem(itemId('fc'), call, status));
  return { ...envelope(prepared, status, items, output.usage), output_text: c.content };
}

/** An item being streamed: its place in `output` and its text so far. */
interface OpenItem {
  id: string;
  index: number;
  text: string;
}

/** A call being streamed: its item, and the call its pieces add up to. */
interface OpenCall {
  id: string;
  index: number;
  call: ToolCall;
}

/** What the event mapper adds to a ChunkMapper: the event that ends a failed stream. */
export interface ResponseEventMapper extends ChunkMapper<object> {
  /** OpenAI's `error` event, numbered after the events sent. */
  error(err: ApiError): object;
}

/** The events of one streamed response, in the order OpenAI's SDK expects them. */
export function responseEventMapper(prepared: PreparedResponse): ResponseEventMapper {
  let sequence = 0;
  const event = <T extends { type: string }>(e: T) => ({ ...e, sequence_number: sequence++ });
  const items: object[] = [];
  let reasoning: OpenItem | null = null;
  let message: OpenItem | null = null;
  const calls: OpenCall[] = [];

  const added = (o: { index: number }, item: object) => {
    items.push(item);
    return event({ type: 'response.output_item.added', output_index: o.index, item });
  };
  const open = (prefix: string, item: (id: string) => object, part: object): [OpenItem, object[]] => {
    const o = { id: itemId(prefix), index: items.length, text: '' };
    return [
      o,
      [
        added(o, item(o.id)),
        event({
          type: 'response.content_part.added',
          item_id: o.id,
          output_index: o.index,
          content_index: 0,
          part,
        }),
      ],
    ];
  };
  const where = (o: OpenItem) => ({ item_id: o.id, output_index: o.index, content_index: 0 });

  const closeReasoning = (status: Status): object[] => {
    if (!reasoning) return [];
    const r = reasoning;
    reasoning = null;
    const part = { type: 'reasoning_text', text: r.text };
    items[r.index] = reasoningItem(r.id, r.text, status);
    return [
      event({ type: 'response.reasoning_text.done', ...where(r), text: r.text }),
      event({ type: 'response.content_part.done', ...where(r), part }),
      event({ type: 'response.output_item.done', output_index: r.index, item: items[r.index] }),
    ];
  };
  const openMessage = (): object[] => {
    if (message) return [];
    const [o, events] = open('msg', (id) => messageItem(id, null, 'in_progress'), textPart(''));
    message = o;
    return events;
  };
  const closeMessage = (status: Status): object[] => {
    if (!message) return [];
    const m = message;
    items[m.index] = messageItem(m.id, m.text, status);
    return [
      event({ type: 'response.output_text.done', ...where(m), text: m.text, logprobs: [] }),
      event({ type: 'response.content_part.done', ...where(m), part: textPart(m.text) }),
      event({ type: 'response.output_item.done', output_index: m.index, item: items[m.index] }),
    ];
  };
  /** A piece of a call: its first opens a function_call item, the others extend its arguments. */
  const callPiece = (piece: DeltaToolCall): object[] => {
    const out: object[] = [];
    let c = calls[piece.index];
    if (!c) {
      c = {
        id: itemId('fc'),
        index: items.length,
        call: {
          id: piece.id ?? '',
          type: 'function',
          function: { name: piece.function?.name ?? '', arguments: '' },
        },
      };
      calls[piece.index] = c;
      out.push(added(c, functionCallItem(c.id, c.call, 'in_progress')));
    }
    const delta = piece.function?.arguments;
    if (delta) {
      c.call.function.arguments += delta;
      out.push(
        event({
          type: 'response.function_call_arguments.delta',
          item_id: c.id,
          output_index: c.index,
          delta,
        }),
      );
    }
    return out;
  };
  const closeCalls = (status: Status): object[] =>
    calls.flatMap((c) => {
      items[c.index] = functionCallItem(c.id, c.call, status);
      return [
        event({
          type: 'response.function_call_arguments.done',
          item_id: c.id,
          output_index: c.index,
          name: c.call.function.name,
          arguments: c.call.function.arguments,
        }),
        event({ type: 'response.output_item.done', output_index: c.index, item: items[c.index] }),
      ];
    });

  return {
    start: () => {
      const head = envelope(prepared, 'in_progress', [], null);
      return [
        event({ type: 'response.created', response: head }),
        event({ type: 'response.in_progress', response: head }),
      ];
    },
    map(d, output) {
      switch (d.type) {
        case 'reasoning': {
          if (!d.text || message || calls.length > 0) return [];
          const out: object[] = [];
          if (!reasoning) {
            const [o, events] = open(
              'rs',
              (id) => ({ type: 'reasoning', id, summary: [], content: [], status: 'in_progress' }),
              { type: 'reasoning_text', text: '' },
            );
            reasoning = o;
            out.push(...events);
          }
          reasoning.text += d.text;
          out.push(event({ type: 'response.reasoning_text.delta', ...where(reasoning), delta: d.text }));
          return out;
        }
        case 'content': {
          if (!d.text && !d.toolCalls?.length) return [];
          const out = closeReasoning('completed');
          if (d.text) {
            out.push(...openMessage());
            message!.text += d.text;
            out.push(
              event({ type: 'response.output_text.delta', ...where(message!), delta: d.text, logprobs: [] }),
            );
          }
          for (const piece of d.toolCalls ?? []) out.push(...callPiece(piece));
          return out;
        }
        case 'finish': {
          const status = statusOf(output.choices[d.choice]!);
          // Without text or calls the message is still there, empty (as the JSON has it).
          const empty = calls.length === 0 ? openMessage() : [];
          return [...closeReasoning(status), ...empty, ...closeMessage(status), ...closeCalls(status)];
        }
        case 'done': {
          const status = statusOf(output.choices[0]!);
          const response = envelope(prepared, status, items, d.usage);
          return [
            event({ type: status === 'incomplete' ? 'response.incomplete' : 'response.completed', response }),
          ];
        }
        default:
          return [];
      }
    },
    error(err) {
      const { message, type, param, code } = err.toJSON().error;
      return event({ type: 'error', code: code ?? type, message, param: param ?? null });
    },
  };
}
