import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { OPENAPI_FILE, openApiYaml } from '../../src/api/openapi/write.ts';

describe('openapi.yaml', () => {
  it('is what `npm run openapi` generates from the zod schemas (run it after changing a schema)', () => {
    assert.equal(readFileSync(OPENAPI_FILE, 'utf8'), openApiYaml());
  });

  it('documents every endpoint, the extensions and the WebSocket messages', () => {
    const doc = parse(openApiYaml()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    for (const path of [
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/models',
      '/health',
      '/metrics',
      '/v1/stream',
      '/playground/',
    ]) {
      assert.ok(doc.paths[path], path);
    }
    const chat = doc.components.schemas.ChatCompletionRequest!.properties!;
    for (const field of ['thinking', 'superposition', 'messages', 'max_completion_tokens', 'logprobs'])
      assert.ok(chat[field], field);
    for (const id of [
      'WsClientMessage',
      'WsServerMessage',
      'WsReasoningDelta',
      'WsTimings',
      'Error',
      'Thinking',
      'Superposition',
    ]) {
      assert.ok(doc.components.schemas[id], id);
    }
  });
});
