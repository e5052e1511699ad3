import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chatChunkMapper } from '../../src/api/chat-completions/output.ts';
import type { PreparedChat } from '../../src/api/chat-completions/service.ts';
import { type ChunkMapper, mapChunks } from '../../src/api/common/chunk-mapper.ts';
import { Generation } from '../../src/api/common/generation.ts';
import { OutputAccumulator, type OutputDelta } from '../../src/api/common/output.ts';
import { hermesToolParser } from '../../src/api/tool-calls/hermes.ts';
import type { EngineEvent } from '../../src/engine/types.ts';
import { EngineError } from '../../src/engine/types.ts';
import { byteModelInfo } from './fake-engine.ts';

/**
 * The one output path: the per-choice accumulator, a content stream plugged into it (a tool-call
 * parser), the chunk mappers over it, and the Generation that feeds it from engine events.
 */

const usage = { reasoningTokens: 1, completionTokens: 3, thinkingSteps: 1 };
const done: EngineEvent = {
  type: 'done',
  usage: { promptTokens: 4, completionTokens: 6, reasoningTokens: 1, cachedTokens: 0 },
  timings: { queueMs: 1, prefillMs: 1, firstTokenMs: 1, totalMs: 2 },
  preemptions: 0,
};

const content = (choice: number, text: string): EngineEvent => ({
  type: 'content',
  choice,
  text,
  tokenIds: [...Buffer.from(text)],
});

async function* replay(events: EngineEvent[]): AsyncGenerator<EngineEvent> {
  yield* events;
}

describe('output accumulator', () => {
  it('keeps each choice and reports only what a client may see', () => {
    const out = new OutputAccumulator({ choices: 2, shareReasoning: true });
    const deltas: OutputDelta[] = [];
    for (const ev of [
      { type: 'scheduled' },
      { type: 'reasoning', choice: 0, text: 'hm' },
      { type: 'reasoning', choice: 0, text: '' },
      content(0, 'Hi'),
      { ...content(1, ''), tokenIds: [255] },
      content(1, 'Yo'),
      { type: 'drafts', choice: 0, drafts: [] },
      { type: 'finish', choice: 0, reason: 'stop', usage },
      { type: 'finish', choice: 1, reason: 'length', usage },
      done,
    ] as EngineEvent[])
      deltas.push(...out.push(ev));
    assert.deepEqual(
      deltas.map((d) => d.type),
      ['reasoning', 'content', 'content', 'drafts', 'finish', 'finish', 'done'],
      'nothing for scheduled, empty reasoning or an incomplete character',
    );
    assert.equal((deltas[3] as { step: number }).step, 1);
    assert.deepEqual(
      out.choices.map((c) => [c.content, c.reasoning, c.finishReason, c.tokenIds.length]),
      [
        ['Hi', 'hm', 'stop', 2],
        ['Yo', 'hm', 'length', 3],
      ],
      'superposed drafts share the reasoning of choice 0',
    );
    assert.ok(out.done);
  });

  it('runs answer text through a content stream: a tool-call parser holds markup back and emits calls', () => {
    const out = new OutputAccumulator({
      choices: 1,
      shareReasoning: false,
      contentStream: () => hermesToolParser.stream(),
    });
    const deltas = [
      content(0, 'Sure. <tool_'),
      content(0, 'call>\n{"name": "f", "arguments": {"x": 1}}'),
      content(0, '\n</tool_call>'),
      { type: 'finish', choice: 0, reason: 'stop', usage } as EngineEvent,
    ].flatMap((ev) => out.push(ev));
    const shown = deltas.flatMap((d) => (d.type === 'content' ? [d.text] : []));
    assert.equal(shown.join(''), 'Sure. ', 'the tag never shows as text');
    const calls = deltas.flatMap((d) => (d.type === 'content' ? (d.toolCalls ?? []) : []));
    assert.equal(calls[0]?.function?.name, 'f');
    assert.equal(
      calls.map((c) => c.function?.arguments ?? '').join(''),
      '{"x": 1}',
      'the arguments arrive as pieces that concatenate',
    );
    assert.equal(out.choices[0]!.content, 'Sure. ');
    assert.equal(out.choices[0]!.toolCalls.length, calls.length);
  });
});

describe('chunk mappers over a generation', () => {
  const prepared = {
    body: { stream: true, stream_options: { include_usage: true } },
    model: byteModelInfo('tiny'),
    request: { id: 'chatcmpl-1' },
    choices: 1,
    superposed: false,
    created: 1,
  } as unknown as PreparedChat;

  it('renders chat chunks from the deltas, in order, with the usage chunk last', async () => {
    const output = new OutputAccumulator({ choices: 1, shareReasoning: false });
    const generation = new Generation(
      replay([
        content(0, 'Hel'),
        content(0, 'lo'),
        { type: 'finish', choice: 0, reason: 'stop', usage },
        done,
      ]),
      null,
      output,
    );
    const chunks = [] as { choices: { delta: { content?: string }; finish_reason: string | null }[] }[];
    for await (const c of mapChunks(generation, chatChunkMapper(prepared))) chunks.push(c as never);
    assert.deepEqual(
      chunks.map((c) => c.choices[0]?.delta.content ?? c.choices[0]?.finish_reason ?? 'usage'),
      ['', 'Hel', 'lo', 'stop', 'usage'],
    );
    assert.equal(output.choices[0]!.content, 'Hello', 'the accumulator the JSON response reads');
  });

  it('lets another protocol map the same deltas, and ends with the request error', async () => {
    const events: EngineEvent[] = [
      content(0, 'a'),
      { type: 'error', error: new EngineError('internal_error', 'the runner failed') },
    ];
    // A protocol of its own (as the Responses API will be): one line per text delta.
    const lines: ChunkMapper<string> = {
      map: (d) => (d.type === 'content' ? [`text ${d.text}`] : []),
    };
    const generation = new Generation(
      replay(events),
      null,
      new OutputAccumulator({ choices: 1, shareReasoning: false }),
    );
    const seen: string[] = [];
    await assert.rejects(
      async () => {
        for await (const line of mapChunks(generation, lines)) seen.push(line);
      },
      (e: { status?: number; code?: string }) => e.status === 500 && e.code === 'internal_error',
    );
    assert.deepEqual(seen, ['text a']);
  });
});
