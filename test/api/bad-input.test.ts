import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { FakeEngine } from './fake-engine.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * Table-driven bad input (API key and a 16 KiB body limit): each case asserts the status, the
 * OpenAI error type and the parameter named, through `app.request()`; a few also against a live
 * server (real engine, tiny model), then that the server still answers.
 */

const KEY = 'test-key-123';
const user = [{ role: 'user', content: 'hi' }];
const chat = (extra: Record<string, unknown>) => ({ model: 'tiny', messages: user, max_tokens: 4, ...extra });
const cmpl = (extra: Record<string, unknown>) => ({ model: 'tiny', prompt: 'hi', max_tokens: 4, ...extra });
const TOOL = {
  type: 'function',
  function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } } },
};

interface Case {
  name: string;
  path?: string;
  method?: string;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  type: string;
  /** Expected `param`; undefined = not checked. */
  param?: string | null;
  code?: string;
}

const CASES: Case[] = [
  // Body and JSON
  {
    name: 'invalid JSON',
    body: '{"model": "tiny", ',
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_json',
  },
  { name: 'empty body', body: '', status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  { name: 'body is an array', body: [], status: 400, type: 'invalid_request_error', param: null },
  { name: 'body is a string', body: '"hello"', status: 400, type: 'invalid_request_error' },
  {
    name: 'wrong content type',
    body: 'model=tiny',
    headers: { 'content-type': 'text/plain' },
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_content_type',
  },
  {
    name: 'body over the limit',
    body: chat({ user: 'x'.repeat(20_000) }),
    status: 413,
    type: 'invalid_request_error',
  },
  // Required fields and types
  {
    name: 'missing model',
    body: { messages: user },
    status: 400,
    type: 'invalid_request_error',
    param: 'model',
  },
  {
    name: 'missing messages',
    body: { model: 'tiny' },
    status: 400,
    type: 'invalid_request_error',
    param: 'messages',
  },
  {
    name: 'empty messages',
    body: chat({ messages: [] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages',
  },
  {
    name: 'messages not a list',
    body: chat({ messages: 'hi' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages',
  },
  {
    name: 'unknown role',
    body: chat({ messages: [{ role: 'function', content: 'x' }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].role',
  },
  {
    name: 'content of the wrong type',
    body: chat({ messages: [{ role: 'user', content: 5 }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content',
  },
  {
    name: 'image content part',
    body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content[0]',
  },
  {
    name: 'audio content part after text',
    body: chat({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'x' },
            { type: 'input_audio', input_audio: {} },
          ],
        },
      ],
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content[1]',
  },
  {
    name: 'unknown content part type',
    body: chat({ messages: [{ role: 'user', content: [{ type: 'hologram' }] }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].content[0].type',
  },
  // Sampling ranges
  {
    name: 'negative temperature',
    body: chat({ temperature: -1 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'temperature',
  },
  {
    name: 'temperature above 2',
    body: chat({ temperature: 3 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'temperature',
  },
  {
    name: 'temperature a string',
    body: chat({ temperature: 'hot' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'temperature',
  },
  {
    name: 'top_p above 1',
    body: chat({ top_p: 1.5 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_p',
  },
  {
    name: 'top_p zero',
    body: chat({ top_p: 0 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_p',
  },
  {
    name: 'top_k below -1',
    body: chat({ top_k: -2 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_k',
  },
  {
    name: 'top_k fractional',
    body: chat({ top_k: 1.5 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_k',
  },
  {
    name: 'min_p above 1',
    body: chat({ min_p: 2 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'min_p',
  },
  {
    name: 'presence_penalty 3',
    body: chat({ presence_penalty: 3 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'presence_penalty',
  },
  {
    name: 'frequency_penalty -3',
    body: chat({ frequency_penalty: -3 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'frequency_penalty',
  },
  {
    name: 'repetition_penalty 0',
    body: chat({ repetition_penalty: 0 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'repetition_penalty',
  },
  {
    name: 'seed fractional',
    body: chat({ seed: 1.5 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'seed',
  },
  // Lengths and counts
  {
    name: 'max_tokens 0',
    body: chat({ max_tokens: 0 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'max_tokens',
  },
  {
    name: 'max_tokens a string',
    body: chat({ max_tokens: 'ten' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'max_tokens',
  },
  {
    name: 'max_tokens beyond the model length',
    body: chat({ max_tokens: 5000, thinking: { mode: 'off' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'max_tokens',
  },
  {
    name: 'reasoning_effort not an effort',
    body: chat({ reasoning_effort: 'extreme' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'reasoning_effort',
  },
  {
    name: 'include_reasoning not a boolean',
    body: chat({ include_reasoning: 'no' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'include_reasoning',
  },
  {
    name: 'reasoning and reasoning_content disagree',
    body: chat({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yes', reasoning: 'a', reasoning_content: 'b' },
        { role: 'user', content: 'and?' },
      ],
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[1].reasoning_content',
  },
  {
    name: 'refusal that is not null',
    body: chat({ messages: [{ role: 'assistant', content: 'no', refusal: 'I will not' }, ...user] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].refusal',
  },
  {
    name: 'stream_options.continuous_usage_stats not a boolean',
    body: chat({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: 1 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'stream_options.continuous_usage_stats',
  },
  {
    name: 'max_completion_tokens negative',
    body: chat({ max_completion_tokens: -1 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'max_completion_tokens',
  },
  { name: 'n zero', body: chat({ n: 0 }), status: 400, type: 'invalid_request_error', param: 'n' },
  {
    name: 'n beyond the schema limit',
    body: chat({ n: 1000 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'n',
  },
  {
    name: 'n beyond the server limit',
    body: chat({ n: 20 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'n',
  },
  // Logprobs, stop, logit_bias, stream
  {
    name: 'logprobs not a boolean',
    body: chat({ logprobs: 'yes' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logprobs',
  },
  {
    name: 'top_logprobs 21',
    body: chat({ logprobs: true, top_logprobs: 21 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_logprobs',
  },
  {
    name: 'top_logprobs without logprobs',
    body: chat({ top_logprobs: 2 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'top_logprobs',
  },
  {
    name: 'empty stop string',
    body: chat({ stop: [''] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'stop[0]',
  },
  {
    name: 'too many stop strings',
    body: chat({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
    status: 400,
    type: 'invalid_request_error',
    param: 'stop',
  },
  {
    name: 'logit_bias key not an id',
    body: chat({ logit_bias: { abc: 1 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logit_bias',
  },
  {
    name: 'logit_bias id out of vocab',
    body: chat({ logit_bias: { 99999: 1 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logit_bias',
  },
  {
    name: 'logit_bias value 500',
    body: chat({ logit_bias: { 5: 500 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logit_bias.5',
  },
  {
    name: 'stream not a boolean',
    body: chat({ stream: 'yes' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'stream',
  },
  {
    name: 'stream_options without stream',
    body: chat({ stream_options: { include_usage: true } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'stream_options',
  },
  // Unsupported and unknown fields
  // Tools and structured outputs
  {
    name: 'a tool without a name',
    body: chat({ tools: [{ type: 'function', function: { description: 'f' } }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tools[0].function.name',
  },
  {
    name: 'a tool of another type',
    body: chat({ tools: [{ type: 'code_interpreter' }] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tools[0].type',
  },
  {
    name: 'two tools with one name',
    body: chat({ tools: [TOOL, TOOL], tool_choice: 'required' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tools[1].function.name',
  },
  {
    name: 'tool_choice naming a function not in tools',
    body: chat({ tools: [TOOL], tool_choice: { type: 'function', function: { name: 'g' } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice.function.name',
  },
  {
    name: 'tool_choice without tools',
    body: chat({ tool_choice: 'auto' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice',
  },
  {
    name: 'tool_choice of an unknown kind',
    body: chat({ tools: [TOOL], tool_choice: 'sometimes' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice',
  },
  {
    name: 'tool_choice auto on a model whose template has no tool-call syntax',
    body: chat({ tools: [TOOL] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice',
  },
  {
    name: 'a tool message without tool_call_id',
    body: chat({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', content: '1' },
      ],
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[1].tool_call_id',
  },
  {
    name: 'tool_calls whose arguments are not JSON',
    body: chat({
      messages: [
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":' } }],
        },
      ],
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].tool_calls[0].function.arguments',
  },
  {
    name: 'tool_calls on a user message',
    body: chat({
      messages: [
        {
          role: 'user',
          content: 'x',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
      ],
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'messages[0].tool_calls',
  },
  {
    name: 'a forced tool call and a response_format',
    body: chat({ tools: [TOOL], tool_choice: 'required', response_format: { type: 'json_object' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'response_format',
    code: 'conflicting_parameters',
  },
  {
    name: 'response_format json_schema without a schema',
    body: chat({ response_format: { type: 'json_schema', json_schema: { name: 'r' } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'response_format.json_schema.schema',
  },
  {
    name: 'response_format of an unknown type',
    body: chat({ response_format: { type: 'yaml' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'response_format.type',
  },
  {
    name: 'a regex XGrammar refuses',
    body: chat({ guided_regex: '([0-9]' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'guided_regex',
  },
  {
    name: 'a JSON schema XGrammar refuses',
    body: chat({
      structured_outputs: { json: { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } } },
    }),
    status: 400,
    type: 'invalid_request_error',
    param: 'structured_outputs.json',
  },
  {
    name: 'two kinds of structured output',
    body: chat({ guided_choice: ['a'], structured_outputs: { regex: 'a' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'guided_choice',
    code: 'conflicting_parameters',
  },
  {
    name: 'completions: tools (a chat feature)',
    path: '/v1/completions',
    body: cmpl({ tools: [TOOL] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'tools',
    code: 'unsupported_parameter',
  },
  {
    name: 'completions: an EBNF grammar XGrammar refuses',
    path: '/v1/completions',
    body: cmpl({ structured_outputs: { grammar: 'root ::= missing_rule' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'structured_outputs.grammar',
  },
  {
    name: 'a known field of the wrong type beside unknown ones',
    body: chat({ verbosity: 'low', prompt_cache_key: 'k', temperature: 'hot' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'temperature',
  },
  // thinking
  {
    name: 'unknown thinking mode',
    body: chat({ thinking: { mode: 'dream' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.mode',
  },
  {
    name: 'latent on a checkpoint without latent',
    body: chat({ thinking: { mode: 'latent' } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.mode',
  },
  {
    name: 'thinking.max_tokens 0',
    body: chat({ thinking: { max_tokens: 0 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.max_tokens',
  },
  {
    name: 'negative thinking temperature',
    body: chat({ thinking: { temperature: -0.1 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.temperature',
  },
  {
    name: 'unknown noise type',
    body: chat({ thinking: { mode: 'soft', noise: { type: 'pink' } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.noise.type',
  },
  {
    name: 'noise with hard thinking',
    body: chat({ thinking: { mode: 'hard', noise: { type: 'gaussian', scale: 0.1 } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.noise',
  },
  {
    name: 'cold_stop without patience',
    body: chat({ thinking: { cold_stop: { entropy_below: 0.1 } } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.cold_stop.patience',
  },
  {
    name: 'trace_top_k 0',
    body: chat({ thinking: { trace_top_k: 0 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.trace_top_k',
  },
  {
    name: 'unknown thinking field',
    body: chat({ thinking: { depth: 3 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'thinking.depth',
  },
  // superposition
  {
    name: 'zero drafts',
    body: chat({ superposition: { drafts: 0 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'superposition.drafts',
  },
  {
    name: 'too many drafts',
    body: chat({ superposition: { drafts: 17 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'superposition.drafts',
  },
  {
    name: 'drafts beyond the schema limit',
    body: chat({ superposition: { drafts: 100 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'superposition.drafts',
  },
  {
    name: 'superposition with n 2',
    body: chat({ n: 2, superposition: { drafts: 2 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'n',
  },
  {
    name: 'superposition with logprobs',
    body: chat({ logprobs: true, superposition: { drafts: 2 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logprobs',
  },
  {
    name: 'fewer candidates than drafts',
    body: chat({ superposition: { drafts: 4, candidates: 2 } }),
    status: 400,
    type: 'invalid_request_error',
    param: 'superposition.candidates',
  },
  // Model, auth, routes
  {
    name: 'unknown model',
    body: chat({ model: 'gpt-9' }),
    status: 404,
    type: 'not_found_error',
    param: 'model',
  },
  {
    name: 'no API key',
    body: chat({}),
    headers: { authorization: '' },
    status: 401,
    type: 'authentication_error',
  },
  {
    name: 'wrong API key',
    body: chat({}),
    headers: { authorization: 'Bearer nope' },
    status: 401,
    type: 'authentication_error',
  },
  { name: 'unknown route', path: '/v1/nothing', method: 'GET', status: 404, type: 'not_found_error' },
  {
    name: 'wrong method on a known path',
    path: '/v1/chat/completions',
    method: 'GET',
    status: 405,
    type: 'invalid_request_error',
    code: 'method_not_allowed',
  },
  {
    name: 'X-Request-Id too long',
    body: chat({}),
    headers: { 'x-request-id': 'r'.repeat(300) },
    status: 400,
    type: 'invalid_request_error',
    param: 'X-Request-Id',
  },
  // /tokenize and /detokenize
  {
    name: 'tokenize: neither prompt nor messages',
    path: '/tokenize',
    body: { model: 'tiny' },
    status: 400,
    type: 'invalid_request_error',
    param: 'prompt',
  },
  {
    name: 'tokenize: unknown model',
    path: '/tokenize',
    body: { model: 'gpt-9', prompt: 'x' },
    status: 404,
    type: 'not_found_error',
    param: 'model',
  },
  {
    name: 'tokenize: both generation prompt and continuation',
    path: '/tokenize',
    body: { messages: user, add_generation_prompt: true, continue_final_message: true },
    status: 400,
    type: 'invalid_request_error',
    param: 'continue_final_message',
  },
  {
    name: 'detokenize: id outside the vocabulary',
    path: '/detokenize',
    body: { tokens: [104, 1_000_000] },
    status: 400,
    type: 'invalid_request_error',
    param: 'tokens[1]',
  },
  {
    name: 'unknown model by id',
    path: '/v1/models/nope',
    method: 'GET',
    status: 404,
    type: 'not_found_error',
  },
  // /v1/completions
  {
    name: 'completions: missing prompt',
    path: '/v1/completions',
    body: { model: 'tiny' },
    status: 400,
    type: 'invalid_request_error',
    param: 'prompt',
  },
  {
    name: 'completions: token id out of vocab',
    path: '/v1/completions',
    body: cmpl({ prompt: [1, 99999] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'prompt',
  },
  {
    name: 'completions: several prompts',
    path: '/v1/completions',
    body: cmpl({ prompt: ['a', 'b'] }),
    status: 400,
    type: 'invalid_request_error',
    param: 'prompt',
    code: 'unsupported_parameter',
  },
  {
    name: 'completions: echo',
    path: '/v1/completions',
    body: cmpl({ echo: true }),
    status: 400,
    type: 'invalid_request_error',
    param: 'echo',
  },
  {
    name: 'completions: suffix',
    path: '/v1/completions',
    body: cmpl({ suffix: 'x' }),
    status: 400,
    type: 'invalid_request_error',
    param: 'suffix',
  },
  {
    name: 'completions: best_of 3',
    path: '/v1/completions',
    body: cmpl({ best_of: 3 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'best_of',
  },
  {
    name: 'responses: auto tools on a model whose template shows no tool-call syntax (as chat)',
    path: '/v1/responses',
    body: { model: 'tiny', input: 'hi', tools: [{ type: 'function', name: 'f', parameters: {} }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'tool_choice',
  },
  {
    name: 'responses: a hosted tool',
    path: '/v1/responses',
    body: { model: 'tiny', input: 'hi', tools: [{ type: 'file_search', vector_store_ids: ['v'] }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'tools[0]',
    code: 'unsupported_parameter',
  },
  {
    name: 'responses: previous_response_id (nothing is stored)',
    path: '/v1/responses',
    body: { model: 'tiny', input: 'hi', previous_response_id: 'resp_1' },
    status: 400,
    type: 'invalid_request_error',
    param: 'previous_response_id',
    code: 'unsupported_parameter',
  },
  {
    name: 'responses: a function_call_output item for a template without a tool role',
    path: '/v1/responses',
    body: { model: 'tiny', input: [{ type: 'function_call_output', call_id: 'c', output: '1' }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'input',
  },
  {
    name: 'responses: an item_reference item',
    path: '/v1/responses',
    body: { model: 'tiny', input: [{ type: 'item_reference', id: 'msg_1' }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'input[0]',
    code: 'unsupported_parameter',
  },
  {
    name: 'responses: an image part',
    path: '/v1/responses',
    body: { model: 'tiny', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] },
    status: 400,
    type: 'invalid_request_error',
    param: 'input[0].content[0]',
  },
  {
    name: 'responses: missing input',
    path: '/v1/responses',
    body: { model: 'tiny' },
    status: 400,
    type: 'invalid_request_error',
    param: 'input',
  },
  {
    name: 'responses: max_output_tokens 0',
    path: '/v1/responses',
    body: { model: 'tiny', input: 'hi', max_output_tokens: 0 },
    status: 400,
    type: 'invalid_request_error',
    param: 'max_output_tokens',
  },
  {
    name: 'responses: reasoning effort not an effort',
    path: '/v1/responses',
    body: { model: 'tiny', input: 'hi', reasoning: { effort: 'max' } },
    status: 400,
    type: 'invalid_request_error',
    param: 'reasoning.effort',
  },
  {
    name: 'completions: logprobs 30',
    path: '/v1/completions',
    body: cmpl({ logprobs: 30 }),
    status: 400,
    type: 'invalid_request_error',
    param: 'logprobs',
  },
];

/**
 * Every case is refused before a generation starts: by the API layer, or at the engine's
 * admission, where the scripted engine resolves parameters with the real engine's resolver
 * (src/engine/resolve-request.ts), so the table runs on `app.request()`. These few run on a live
 * server too: a real socket, the real engine's model facts (length, modes), and the server still
 * answering afterwards.
 */
const LIVE_CASES = new Set([
  'invalid JSON',
  'body over the limit',
  'max_tokens beyond the model length',
  'latent on a checkpoint without latent',
  'unknown model',
  'wrong API key',
]);

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

function request(c: Case): RequestInit {
  const method = c.method ?? 'POST';
  return {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...c.headers },
    ...(method !== 'GET' && { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) }),
  };
}

async function assertError(res: Response, c: Case): Promise<void> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, c.status, JSON.stringify(body));
  assert.equal(body.error.type, c.type);
  assert.ok(body.error.message.length > 0);
  if (c.param !== undefined) assert.equal(body.error.param, c.param, body.error.message);
  if (c.code !== undefined) assert.equal(body.error.code, c.code);
  if (c.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
  if (c.status === 405) assert.ok(res.headers.get('allow'), 'a 405 lists the allowed methods');
}

const title = (c: Case) => `${c.name} → ${c.status} ${c.type}${c.param ? ` (${c.param})` : ''}`;

describe('bad input (HTTP layer: app.request on a scripted engine)', () => {
  const engine = new FakeEngine();
  const app = createApp({ engine, config: parseApiConfig({ apiKeys: [KEY], maxBodyBytes: 16 * 1024 }) });

  it(`has at least 40 cases (${CASES.length})`, () => assert.ok(CASES.length >= 40));

  for (const c of CASES) {
    it(title(c), async () => {
      await assertError(await app.request(c.path ?? '/v1/chat/completions', request(c)), c);
      assert.deepEqual(engine.requests, [], 'nothing reached the engine');
    });
  }
});

describe('bad input (live server, real engine)', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer({ config: { apiKeys: [KEY], maxBodyBytes: 16 * 1024 } });
  });
  after(async () => {
    await live.close();
  });

  it('every live case is in the table', () => {
    for (const name of LIVE_CASES)
      assert.ok(
        CASES.some((c) => c.name === name),
        name,
      );
  });

  for (const c of CASES.filter((c) => LIVE_CASES.has(c.name))) {
    it(title(c), async () => {
      await assertError(await fetch(`${live.url}${c.path ?? '/v1/chat/completions'}`, request(c)), c);
      // The server still answers.
      const health = await fetch(`${live.url}/health`);
      assert.equal(health.status, 200);
      const ok = await fetch(`${live.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat({ max_tokens: 1, thinking: { mode: 'off' } })),
      });
      assert.equal(ok.status, 200);
      await ok.json();
    });
  }

  it('/health, /version and /metrics need no key (as vLLM); every other endpoint does', async () => {
    for (const path of ['/health', '/version', '/metrics'])
      assert.equal((await fetch(`${live.url}${path}`)).status, 200, path);
    for (const path of ['/v1/models']) {
      assert.equal((await fetch(`${live.url}${path}`)).status, 401, path);
      assert.equal(
        (await fetch(`${live.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } })).status,
        200,
        path,
      );
    }
  });
});
