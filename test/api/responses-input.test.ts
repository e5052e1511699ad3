import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/api/errors.ts';
import { responseCreateRequestSchema } from '../../src/api/responses/schema.ts';
import { responseMessages } from '../../src/api/responses/service.ts';

/** Responses input items → the chat messages the template renders (as vLLM builds them). */

const messagesOf = (input: unknown[], instructions?: string) =>
  responseMessages(responseCreateRequestSchema.parse({ model: 'm', input, instructions }));
const call = (id: string, name: string, args = '{}') => ({
  type: 'function_call',
  id: `fc_${id}`,
  call_id: id,
  name,
  arguments: args,
  status: 'completed',
});
const toolCall = (id: string, name: string, args = '{}') => ({
  id,
  type: 'function',
  function: { name, arguments: args },
});

describe('responses input items as chat messages', () => {
  it('reasoning, message and calls sent back are one assistant turn; outputs are tool messages', () => {
    const messages = messagesOf(
      [
        { role: 'user', content: 'Weather in Oslo and the time?' },
        { type: 'reasoning', content: [{ type: 'reasoning_text', text: 'Two tools.' }], summary: [] },
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Checking.', annotations: [] }],
        },
        call('c1', 'get_weather', '{"city": "Oslo"}'),
        call('c2', 'now'),
        { type: 'function_call_output', call_id: 'c1', output: '{"temp": 3}' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: '12:00' }] },
      ],
      'Be brief.',
    );
    assert.deepEqual(messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Oslo and the time?' },
      {
        role: 'assistant',
        content: 'Checking.',
        reasoning: 'Two tools.',
        tool_calls: [toolCall('c1', 'get_weather', '{"city": "Oslo"}'), toolCall('c2', 'now')],
      },
      { role: 'tool', tool_call_id: 'c1', content: '{"temp": 3}' },
      { role: 'tool', tool_call_id: 'c2', content: '12:00' },
    ]);
  });

  it('calls without a message are an assistant turn of their own, with the reasoning before them', () => {
    const messages = messagesOf([
      { role: 'user', content: 'Time?' },
      { type: 'reasoning', content: [{ type: 'reasoning_text', text: 'Ask the clock.' }], summary: [] },
      call('c1', 'now'),
      { type: 'function_call_output', call_id: 'c1', output: '12:00' },
      call('c2', 'now'),
    ]);
    assert.deepEqual(messages.slice(1), [
      { role: 'assistant', content: null, tool_calls: [toolCall('c1', 'now')], reasoning: 'Ask the clock.' },
      { role: 'tool', tool_call_id: 'c1', content: '12:00' },
      { role: 'assistant', content: null, tool_calls: [toolCall('c2', 'now')] },
    ]);
  });

  it('refuses a reasoning item before a tool result or a user message, and arguments that are not JSON', () => {
    const refused = (input: unknown[], param: string) =>
      assert.throws(
        () => messagesOf(input),
        (err: unknown) => err instanceof ApiError && err.param === param,
      );
    const thought = { type: 'reasoning', content: [{ type: 'reasoning_text', text: 'x' }], summary: [] };
    refused([thought, { type: 'function_call_output', call_id: 'c', output: 'x' }], 'input[1]');
    refused([thought, { role: 'user', content: 'x' }], 'input[1]');
    refused([thought], 'input');
    refused([call('c', 'f', '{"a": ')], 'input[0].arguments');
  });
});
