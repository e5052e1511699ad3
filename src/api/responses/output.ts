import { randomBytes } from 'node:crypto';
import type { RequestUsage } from '../../engine/types.ts';
import type { ChunkMapper } from '../common/chunk-mapper.ts';
import type { ChoiceOutput, OutputAccumulator } from '../common/output.ts';
import type { PreparedResponse } from './service.ts';

/**
 * The Responses API's shapes from the request's one choice: the response object, and its stream
 * of events as OpenAI sends them (and the `openai` SDK's ResponseStream accumulates them): a
 * reasoning item while the model thinks (`reasoning_text` content, as vLLM emits it), then the
 * message item with one `output_text` part; every event numbered by `sequence_number`.
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
    text: { format: { type: 'text' as const } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: [],
    truncation: 'disabled' as const,
    usage: usage && responseUsage(usage),
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}

/** The whole response once the choice finished: a reasoning item when the model thought, then the message. */
export function responseJson(prepared: PreparedResponse, output: OutputAccumulator) {
  const c = output.choices[0]!;
  const status = statusOf(c);
  const items: object[] = [];
  // The thinking was complete unless max_output_tokens cut it before any answer.
  const thought = status === 'incomplete' && !c.content ? 'incomplete' : 'completed';
  if (c.reasoning) items.push(reasoningItem(itemId('rs'), c.reasoning, thought));
  items.push(messageItem(itemId('msg'), c.content, status));
  return { ...envelope(prepared, status, items, output.usage), output_text: c.content };
}

/** An item being streamed: its place in `output` and its text so far. */
interface OpenItem {
  id: string;
  index: number;
  text: string;
}

/** The events of one streamed response, in the order OpenAI's SDK expects them. */
export function responseEventMapper(prepared: PreparedResponse): ChunkMapper<object> {
  let sequence = 0;
  const event = <T extends { type: string }>(e: T) => ({ ...e, sequence_number: sequence++ });
  const items: object[] = [];
  let reasoning: OpenItem | null = null;
  let message: OpenItem | null = null;

  const open = (prefix: string, item: (id: string) => object, part: object): [OpenItem, object[]] => {
    const o = { id: itemId(prefix), index: items.length, text: '' };
    items.push(item(o.id));
    return [
      o,
      [
        event({ type: 'response.output_item.added', output_index: o.index, item: item(o.id) }),
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
    const m = message!;
    items[m.index] = messageItem(m.id, m.text, status);
    return [
      event({ type: 'response.output_text.done', ...where(m), text: m.text, logprobs: [] }),
      event({ type: 'response.content_part.done', ...where(m), part: textPart(m.text) }),
      event({ type: 'response.output_item.done', output_index: m.index, item: items[m.index] }),
    ];
  };

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
          if (!d.text || message) return [];
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
          if (!d.text) return [];
          const out = [...closeReasoning('completed'), ...openMessage()];
          message!.text += d.text;
          out.push(
            event({ type: 'response.output_text.delta', ...where(message!), delta: d.text, logprobs: [] }),
          );
          return out;
        }
        case 'finish': {
          const status = statusOf(output.choices[d.choice]!);
          return [...closeReasoning(status), ...openMessage(), ...closeMessage(status)];
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
  };
}
