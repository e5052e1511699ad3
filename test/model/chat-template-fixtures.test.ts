import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ChatMessage, ChatTemplate } from '../../src/model/chat-template.ts';
import { familyTokenizer, R1_TEMPLATE } from '../helpers/hf-models.ts';

/**
 * The real chat templates (Qwen3's, Llama 3's, DeepSeek-R1-Distill's), tools included, rendered by
 * reverie (@huggingface/jinja) and by Python's Jinja2 set up as Hugging Face's
 * `apply_chat_template` sets it up (test/fixtures/chat-templates/render.py wrote expected.json):
 * the two must agree to the byte.
 */

const DIR = join(import.meta.dirname, '..', 'fixtures', 'chat-templates');

interface Case {
  name: string;
  template: 'qwen3' | 'llama3' | 'r1-distill';
  messages: ChatMessage[];
  tools?: unknown[];
  kwargs?: Record<string, unknown>;
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
}

const spec = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] };
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, string>;

const templates = {
  qwen3: ChatTemplate.fromTokenizerConfig(familyTokenizer('qwen3').config),
  llama3: ChatTemplate.fromTokenizerConfig(familyTokenizer('llama3').config),
  'r1-distill': ChatTemplate.fromTokenizerConfig({
    ...familyTokenizer('r1-qwen').config,
    chat_template: R1_TEMPLATE,
  }),
};

describe('chat templates vs Hugging Face (Python Jinja2 fixtures)', () => {
  it('has a fixture for every case (re-run render.py after editing cases.json)', () => {
    assert.deepEqual(Object.keys(expected).sort(), spec.cases.map((c) => c.name).sort());
  });

  for (const c of spec.cases) {
    it(c.name, () => {
      const { enable_thinking: enable, ...variables } = c.kwargs ?? {};
      const text = templates[c.template].render(c.messages, {
        addGenerationPrompt: c.add_generation_prompt ?? true,
        continueFinalMessage: c.continue_final_message ?? false,
        ...(typeof enable === 'boolean' && { enableThinking: enable }),
        variables: { ...variables, ...(c.tools && { tools: c.tools }) },
      });
      assert.equal(text, expected[c.name]);
    });
  }
});
