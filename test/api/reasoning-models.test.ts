import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareChat } from '../../src/api/chat-completions/service.ts';
import type { ApiContext } from '../../src/api/common/context.ts';
import { prepareCompletion } from '../../src/api/completions/service.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import type { EngineEvent, GenerateRequest } from '../../src/engine/types.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import type { Tensor } from '../../src/model/safetensors.ts';
import { writeHfModel } from '../helpers/hf-models.ts';
import { countReasoningTokens, deepseekR1Split, qwen3Split, type Split } from '../helpers/vllm-reasoning.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * The three ways a real reasoning model thinks, through the real engine and the HTTP API, chat
 * and completions, JSON and SSE, with soft thinking and a trace:
 * - DeepSeek-R1-Distill's template ends the prompt in `<think>\n` (the marker and whitespace);
 * - a raw completions prompt ends in `<think>` itself;
 * - Qwen3's template leaves the block closed and the model emits `<think>` as its first token
 *   (its weights are written to: a "\n" input makes `<think>` the next token).
 * Each answer's reasoning_content / content and reasoning_tokens are held against vLLM's qwen3 and
 * deepseek_r1 parsers applied to the whole generated text.
 */

const QWEN_NEWLINE = 198;
const QWEN_THINK = 151667;
const QWEN_THINK_END = 151668;
const R1_THINK = 151648;
const R1_THINK_END = 151649;

/** Weights with which the tiny untied Qwen3 answers "\n" with `<think>`, and nothing else with it. */
function thinkAfterNewline(w: Map<string, Tensor>): void {
  const E = w.get('model.embed_tokens.weight')!;
  const head = w.get('lm_head.weight')!;
  const D = E.shape[1]!;
  // Coordinate 0 of the residual stream carries "the input was \n" and nothing else writes it.
  for (let id = 0; id < E.shape[0]!; id++) {
    E.data[id * D] = id === QWEN_NEWLINE ? 30 : 0;
    head.data[id * D] = id === QWEN_THINK ? 60 : 0;
  }
  for (const [name, t] of w) {
    if (/o_proj\.weight$|down_proj\.weight$/.test(name)) t.data.fill(0, 0, t.shape[1]!); // row 0
    if (/o_proj\.bias$|down_proj\.bias$/.test(name)) t.data[0] = 0;
  }
  w.get('model.norm.weight')!.data[0] = 1;
}

interface Answer {
  reasoning: string | null;
  content: string;
  reasoningTokens: number;
  completionTokens: number;
  traceIds: number[];
}

/** The generated ids as vLLM would hold them: markers, thoughts and answer, from the engine's events. */
function generatedIds(events: EngineEvent[], markers: [number, number], opened: boolean): number[] {
  const ids: number[] = opened ? [] : [];
  const thoughts: number[] = [];
  const answer: number[] = [];
  for (const ev of events) {
    if (ev.type === 'reasoning' && ev.trace) thoughts.push(ev.trace.shadowId);
    if (ev.type === 'content') answer.push(...ev.tokenIds);
  }
  if (opened) ids.push(markers[0]);
  ids.push(...thoughts);
  if (thoughts.length > 0 || opened) ids.push(markers[1]);
  return [...ids, ...answer];
}

describe('reasoning models through the API (real engine, Qwen3 and R1-Distill layouts)', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-reasoning-'));
  let live: LiveServer;
  let ctx: ApiContext;
  const model = (name: string) => live.engine.models.find((m) => m.name === name)!;

  before(async () => {
    const qwen = join(root, 'qwen3-think');
    await writeHfModel(qwen, 'qwen3', { model: { tieEmbeddings: false }, editWeights: thinkAfterNewline });
    await writeManifest(qwen);
    const r1 = join(root, 'r1');
    await writeHfModel(r1, 'r1-qwen');
    await writeManifest(r1);
    live = await startLiveServer({ checkpointDirs: [qwen, r1] });
    ctx = { engine: live.engine, config: parseApiConfig({}), telemetry: null };
  });
  after(async () => {
    await live?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) =>
    fetch(`${live.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** The JSON answer and the same request streamed: both must say the same. */
  async function both(
    path: '/v1/chat/completions' | '/v1/completions',
    body: Record<string, unknown>,
  ): Promise<Answer> {
    // biome-ignore lint/suspicious/noExplicitAny: responses are read field by field, as a client would
    const json = (await (await post(path, body)).json()) as Record<string, any>;
    assert.ok(json.choices, JSON.stringify(json));
    const c = json.choices[0];
    const answer: Answer = {
      reasoning: path === '/v1/chat/completions' ? c.message.reasoning_content : c.reasoning_content,
      content: path === '/v1/chat/completions' ? c.message.content : c.text,
      reasoningTokens: json.usage.completion_tokens_details.reasoning_tokens,
      completionTokens: json.usage.completion_tokens,
      traceIds: (c.reasoning_trace ?? []).map((s: { id: number }) => s.id),
    };
    const sse = await (
      await post(path, { ...body, stream: true, stream_options: { include_usage: true } })
    ).text();
    let reasoning = '';
    let content = '';
    const traceIds: number[] = [];
    // biome-ignore lint/suspicious/noExplicitAny: the usage chunk is read field by field
    let usage: Record<string, any> | null = null;
    for (const line of sse.split('\n\n').filter(Boolean)) {
      assert.ok(line.startsWith('data: '), line);
      if (line === 'data: [DONE]') break;
      const chunk = JSON.parse(line.slice(6));
      usage = chunk.usage ?? usage;
      for (const ch of chunk.choices) {
        const d = path === '/v1/chat/completions' ? ch.delta : ch;
        reasoning += d.reasoning_content ?? '';
        content += (path === '/v1/chat/completions' ? d.content : d.text) ?? '';
        for (const s of ch.reasoning_trace ?? []) traceIds.push(s.id);
      }
    }
    assert.equal(reasoning, answer.reasoning ?? '', 'streamed reasoning = JSON reasoning');
    assert.equal(content, answer.content, 'streamed content = JSON content');
    assert.deepEqual(traceIds, answer.traceIds, 'streamed trace = JSON trace');
    assert.equal(usage?.completion_tokens_details.reasoning_tokens, answer.reasoningTokens);
    return answer;
  }

  /** The engine's events for the same request (deterministic: greedy answer, noiseless soft thoughts). */
  async function events(request: GenerateRequest): Promise<EngineEvent[]> {
    const out: EngineEvent[] = [];
    for await (const ev of live.engine.generate({ ...request, id: `${request.id}-ids` })) out.push(ev);
    return out;
  }

  /**
   * Runs the request on the engine for its ids, then holds reverie's split and count against
   * vLLM's parser (deepseek_r1 for the R1 model, qwen3 for Qwen3) on the whole generated text.
   * Returns the events.
   */
  async function agreesWithVllm(
    request: GenerateRequest,
    answer: Answer,
    opened: boolean,
  ): Promise<EngineEvent[]> {
    const m = model(request.model);
    const r1 = request.model === 'r1';
    const markers: [number, number] = r1 ? [R1_THINK, R1_THINK_END] : [QWEN_THINK, QWEN_THINK_END];
    const evs = await events(request);
    const ids = generatedIds(evs, markers, opened);
    const text = m.tokenizer.decode(ids, { skipSpecialTokens: true });
    const split: Split = r1 ? deepseekR1Split(text) : qwen3Split(text);
    assert.equal(
      answer.reasoning,
      split.reasoning === '' ? null : split.reasoning,
      `reasoning of ${JSON.stringify(text)}`,
    );
    assert.equal(answer.content, split.content ?? '');
    assert.equal(answer.reasoningTokens, countReasoningTokens(ids, markers[0], markers[1], !opened));
    assert.ok(answer.reasoningTokens > 0, 'it thought');
    if (opened)
      assert.ok(text.startsWith('<think>'), 'vLLM sees the generated <think> (not a special token)');
    return evs;
  }

  const soft = { mode: 'soft', max_tokens: 5, trace: true, trace_top_k: 3 };

  it('R1-Distill chat: the template ends in <think>\\n, so the prompt opens the block', async () => {
    const body = {
      model: 'r1',
      messages: [{ role: 'user', content: 'What is 17 times 23?' }],
      temperature: 0,
      max_tokens: 6,
      thinking: soft,
    };
    const prepared = await prepareChat(body, ctx);
    assert.ok(prepared.request.startsInThinking);
    assert.ok(model('r1').tokenizer.decode(prepared.request.prompt).endsWith('<｜Assistant｜><think>\n'));
    const answer = await both('/v1/chat/completions', body);
    assert.ok(answer.traceIds.length >= 1 && answer.traceIds.length <= 5);
    await agreesWithVllm(prepared.request, answer, false);
  });

  it("an assistant turn's reasoning (either name) reaches the template: Qwen3 renders it, R1-Distill drops it", async () => {
    const history = (field: 'reasoning' | 'reasoning_content') => [
      { role: 'user', content: 'Is 91 prime?' },
      { role: 'assistant', content: 'No.', [field]: 'Seven times thirteen.' },
    ];
    const render = async (name: string, field: 'reasoning' | 'reasoning_content') =>
      model(name).tokenizer.decode(
        (
          await prepareChat(
            { model: name, messages: history(field), add_generation_prompt: false, max_tokens: 1 },
            ctx,
          )
        ).request.prompt,
      );
    for (const field of ['reasoning', 'reasoning_content'] as const) {
      // Qwen3 keeps the reasoning of the turns after the last user message.
      assert.match(await render('qwen3-think', field), /<think>\nSeven times thirteen\.\n<\/think>\n\nNo\./);
      assert.ok(!(await render('r1', field)).includes('Seven'), 'R1-Distill strips earlier reasoning');
    }
  });

  for (const ending of ['<think>', '<think>\n']) {
    it(`completions: a raw prompt ending in ${JSON.stringify(ending)} thinks from the next position`, async () => {
      const body = {
        model: 'r1',
        prompt: `Q: 2+2?\nA: ${ending}`,
        temperature: 0,
        max_tokens: 5,
        thinking: soft,
      };
      const prepared = await prepareCompletion(body, ctx);
      assert.ok(prepared.request.startsInThinking);
      await agreesWithVllm(prepared.request, await both('/v1/completions', body), false);
    });
  }

  it('Qwen3 chat: the model emits <think> itself as its first token, then soft thinking applies', async () => {
    const body = {
      model: 'qwen3-think',
      messages: [{ role: 'user', content: 'Is 91 prime?' }],
      temperature: 0,
      max_tokens: 40,
      thinking: soft,
    };
    const prepared = await prepareChat(body, ctx);
    assert.ok(!prepared.request.startsInThinking, "Qwen3's template leaves the block to the model");
    assert.ok(
      model('qwen3-think').tokenizer.decode(prepared.request.prompt).endsWith('<|im_start|>assistant\n'),
    );
    const answer = await both('/v1/chat/completions', body);
    const evs = await agreesWithVllm(prepared.request, answer, true);
    const steps = evs.filter((e) => e.type === 'reasoning' && e.trace);
    assert.ok(steps.every((e) => e.type === 'reasoning' && e.trace!.top.length === 3));
    // <think>, thoughts, </think>, then the answer tokens.
    assert.ok(answer.completionTokens >= answer.reasoningTokens + 2 + 1);
  });

  it('completions: the model emits <think> after a token-id prompt (ending in "\\n", for these weights)', async () => {
    const question = model('qwen3-think').tokenizer.encode('Q: is 91 prime?', { specialTokens: true });
    const prompt = [...question, QWEN_NEWLINE];
    const body = { model: 'qwen3-think', prompt, temperature: 0, max_tokens: 5, thinking: soft };
    const prepared = await prepareCompletion(body, ctx);
    assert.ok(!prepared.request.startsInThinking);
    await agreesWithVllm(prepared.request, await both('/v1/completions', body), true);
  });

  it('Qwen3 chat with thinking off renders enable_thinking=false: no thinking, all content', async () => {
    for (const off of [{ thinking: { mode: 'off' } }, { chat_template_kwargs: { enable_thinking: false } }]) {
      const body = {
        model: 'qwen3-think',
        messages: [{ role: 'user', content: 'Is 91 prime?' }],
        temperature: 0,
        max_tokens: 4,
        ...off,
      };
      const prepared = await prepareChat(body, ctx);
      assert.ok(
        model('qwen3-think').tokenizer.decode(prepared.request.prompt).endsWith('<think>\n\n</think>\n\n'),
      );
      assert.equal(prepared.request.params.thinking?.mode, 'off');
      const answer = await both('/v1/chat/completions', body);
      assert.equal(answer.reasoning, null);
      assert.equal(answer.reasoningTokens, 0);
      assert.ok(answer.content.length > 0);
    }
  });
});
