import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import type { ModelInfo } from '../../src/engine/types.ts';
import { familyTokenizer } from '../helpers/hf-models.ts';
import { FakeEngine, modelInfo } from './fake-engine.ts';

/**
 * vLLM's template fields on chat requests, with Qwen3's and DeepSeek-R1-Distill's real tokenizers
 * and templates (the engine is scripted: these tests read the prompt the API submits).
 */

function qwenInfo(name: string, family: 'qwen3' | 'r1-qwen'): ModelInfo {
  const { tokenizer, config } = familyTokenizer(family);
  const architecture = family === 'qwen3' ? 'Qwen3ForCausalLM' : 'Qwen2ForCausalLM';
  return modelInfo(name, tokenizer, config, { architecture }, 4096);
}

const engine = new FakeEngine({ models: [qwenInfo('qwen3', 'qwen3'), qwenInfo('r1', 'r1-qwen')] });
const app = createApp({ engine });
const user = [{ role: 'user', content: 'Is 91 prime?' }];

async function submit(body: Record<string, unknown>) {
  const res = await app.request('/v1/chat/completions', {
    method: 'POST',
    body: JSON.stringify({ model: 'qwen3', messages: user, ...body }),
    headers: { 'content-type': 'application/json' },
  });
  const json = (await res.json()) as { error?: { param: string; message: string } };
  if (res.status !== 200) return { status: res.status, error: json.error! };
  const request = engine.requests.at(-1)!;
  const model = engine.models.find((m) => m.name === request.model)!;
  return { status: 200, prompt: model.tokenizer.decode(request.prompt), request };
}

describe('chat template fields (vLLM)', () => {
  it('Qwen3 by default: the block is left to the model, which opens it itself', async () => {
    const r = await submit({});
    assert.ok(r.prompt!.endsWith('<|im_start|>assistant\n'));
    assert.equal(r.request!.startsInThinking, false);
  });

  it('chat_template_kwargs reach the template; enable_thinking false means thinking mode off', async () => {
    const r = await submit({ chat_template_kwargs: { enable_thinking: false } });
    assert.ok(r.prompt!.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
    assert.equal(r.request!.params.thinking?.mode, 'off');
    assert.equal(r.request!.startsInThinking, false);
    // thinking.mode off renders the same prompt.
    assert.equal((await submit({ thinking: { mode: 'off' } })).prompt, r.prompt);
  });

  it('refuses enable_thinking contradicting thinking.mode, and kwargs the server sets itself', async () => {
    const contradiction = await submit({
      chat_template_kwargs: { enable_thinking: false },
      thinking: { mode: 'soft' },
    });
    assert.equal(contradiction.status, 400);
    assert.equal(contradiction.error!.param, 'chat_template_kwargs.enable_thinking');
    const reserved = await submit({ chat_template_kwargs: { messages: [] } });
    assert.equal(reserved.status, 400);
    assert.equal(reserved.error!.param, 'chat_template_kwargs.messages');
  });

  it('add_generation_prompt false ends the prompt after the last message', async () => {
    const r = await submit({ add_generation_prompt: false });
    assert.ok(r.prompt!.endsWith('Is 91 prime?<|im_end|>\n'));
  });

  it('continue_final_message continues the assistant message; an open thought continues thinking', async () => {
    const messages = [...user, { role: 'assistant', content: '<think>\nNinety-one is' }];
    const r = await submit({ messages, add_generation_prompt: false, continue_final_message: true });
    assert.ok(r.prompt!.endsWith('<think>\nNinety-one is'), JSON.stringify(r.prompt));
    assert.equal(r.request!.startsInThinking, true, 'the prompt ends inside an open think block');
    const plain = await submit({
      messages: [...user, { role: 'assistant', content: 'The answer is' }],
      add_generation_prompt: false,
      continue_final_message: true,
      thinking: { mode: 'off' },
    });
    assert.ok(plain.prompt!.endsWith('\n\nThe answer is'));
  });

  it('refuses continue_final_message with add_generation_prompt, or without an assistant message last', async () => {
    const both = await submit({ continue_final_message: true });
    assert.equal(both.status, 400);
    assert.equal(both.error!.param, 'continue_final_message');
    const noAssistant = await submit({ continue_final_message: true, add_generation_prompt: false });
    assert.equal(noAssistant.status, 400);
    assert.match(noAssistant.error!.message, /assistant message last/);
  });

  it('R1-Distill: the template ends in <think>\\n, detected on tokens as an open block', async () => {
    const r = await submit({ model: 'r1' });
    assert.ok(r.prompt!.endsWith('<｜Assistant｜><think>\n'));
    assert.equal(r.request!.startsInThinking, true);
  });

  it('tools and a tool-call history render exactly as Hugging Face renders the Qwen3 fixture', async () => {
    // The fixtures' calls carry arguments as objects (or JSON text); OpenAI clients send JSON text
    // and ids, which the API parses back into objects for the template, as vLLM does.
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'chat-templates');
    const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as Record<
      string,
      string
    >;
    const cases = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8')).cases as {
      name: string;
      tools?: unknown[];
      messages: {
        role: string;
        content: string | null;
        tool_calls?: { function: { name: string; arguments: unknown } }[];
      }[];
    }[];
    // (R1's template tests `content is none` for a turn of calls; vLLM, and so reverie, passes "",
    // which Qwen3's template needs: the R1 fixture is not reproduced through the API.)
    for (const [name, model] of [['qwen3 tools, a tool call and its response', 'qwen3']] as const) {
      const c = cases.find((x) => x.name === name)!;
      const messages = c.messages.map((m, i) => ({
        ...m,
        ...(m.tool_calls && {
          content: null, // as OpenAI clients send a turn of calls
          tool_calls: m.tool_calls.map((call, j) => ({
            id: `call_${j}`,
            type: 'function',
            function: {
              name: call.function.name,
              arguments:
                typeof call.function.arguments === 'string'
                  ? call.function.arguments
                  : JSON.stringify(call.function.arguments),
            },
          })),
        }),
        ...(m.role === 'tool' && { tool_call_id: `call_${i}` }),
      }));
      const r = await submit({ model, messages, ...(c.tools && { tools: c.tools, tool_choice: 'none' }) });
      assert.equal(r.status, 200, JSON.stringify(r.error));
      assert.equal(r.prompt, expected[name]);
    }
  });

  it('passes the new sampling fields through and refuses a stop token outside the vocabulary', async () => {
    const r = await submit({
      stop_token_ids: [151645],
      include_stop_str_in_output: true,
      min_tokens: 2,
      ignore_eos: true,
      skip_special_tokens: false,
      spaces_between_special_tokens: false,
    });
    const p = r.request!.params;
    assert.deepEqual(
      [
        p.stop_token_ids,
        p.include_stop_str_in_output,
        p.min_tokens,
        p.ignore_eos,
        p.skip_special_tokens,
        p.spaces_between_special_tokens,
      ],
      [[151645], true, 2, true, false, false],
    );
    const bad = await submit({ stop_token_ids: [999_999] });
    assert.equal(bad.status, 400);
    assert.equal(bad.error!.param, 'stop_token_ids');
  });
});
