import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byteTokenizerConfigJson } from '../../src/model/byte-tokenizer.ts';
import type { ChatTemplateErrorCode } from '../../src/model/chat-template.ts';
import { ChatTemplate, ChatTemplateError } from '../../src/model/chat-template.ts';

const isCode = (code: ChatTemplateErrorCode) => (e: unknown) =>
  e instanceof ChatTemplateError && e.code === code;

describe('ChatTemplate with the byte tokenizer ChatML template', () => {
  const template = ChatTemplate.fromTokenizerConfig(JSON.parse(byteTokenizerConfigJson()));
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Is 7 prime?' },
  ];
  const conversation = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nIs 7 prime?<|im_end|>\n';

  it('opens a think block in the generation prompt', () => {
    assert.equal(template.render(messages), `${conversation}<|im_start|>assistant\n<think>`);
  });

  it('renders an empty think block when thinking is off', () => {
    const prompt = template.render(messages, { enableThinking: false });
    assert.equal(prompt, `${conversation}<|im_start|>assistant\n<think></think>`);
  });

  it('renders no generation prompt when not asked', () => {
    const history = [...messages, { role: 'assistant', content: 'Yes.' }];
    const text = template.render(history, { addGenerationPrompt: false });
    assert.equal(text, `${conversation}<|im_start|>assistant\nYes.<|im_end|>\n`);
  });

  it('rejects a role the template refuses, with its reason', () => {
    assert.throws(
      () => template.render([{ role: 'tool', content: '42' }]),
      (e: unknown) => isCode('template_rejected')(e) && /unsupported role: tool/.test((e as Error).message),
    );
  });
});

describe('ChatTemplate.fromTokenizerConfig', () => {
  it('passes bos and eos tokens, plain or as AddedToken objects', () => {
    const config = {
      bos_token: { content: '<s>', lstrip: false },
      eos_token: '</s>',
      chat_template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}',
    };
    const text = ChatTemplate.fromTokenizerConfig(config).render([{ role: 'user', content: 'hi' }]);
    assert.equal(text, '<s>hi</s>');
  });

  it('picks a named template from a list', () => {
    const config = {
      chat_template: [
        { name: 'default', template: 'D' },
        { name: 'tool_use', template: 'T{{ tools | length }}' },
      ],
    };
    assert.equal(ChatTemplate.fromTokenizerConfig(config).render([]), 'D');
    const toolUse = ChatTemplate.fromTokenizerConfig(config, 'tool_use');
    assert.equal(toolUse.render([], { variables: { tools: [1, 2] } }), 'T2');
    assert.throws(() => ChatTemplate.fromTokenizerConfig(config, 'rag'), isCode('missing_template'));
  });

  it('reports a missing template', () => {
    assert.throws(() => ChatTemplate.fromTokenizerConfig({ eos_token: '</s>' }), isCode('missing_template'));
  });

  it('reports a template that does not parse at load time', () => {
    assert.throws(
      () => ChatTemplate.fromTokenizerConfig({ chat_template: '{% for m in messages %}' }),
      isCode('template_syntax'),
    );
  });

  it('reports other render failures apart from rejections', () => {
    const template = ChatTemplate.fromTokenizerConfig({ chat_template: '{{ messages[0].content.upper() }}' });
    assert.throws(
      () => template.render([{ role: 'user', content: 5 as unknown as string }]),
      isCode('template_error'),
    );
  });
});
