import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { writeHfModel } from '../helpers/hf-models.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';

/**
 * Same request, same seed → same bytes: alone, again from the prefix cache, streamed, and inside
 * a full batch of other requests. Sampled (temperature 0.8) with sampled hard thinking (which
 * inherits the temperature and the seed), logprobs on, on an R1-Distill-shaped model with the
 * real Qwen vocabulary.
 */

describe('determinism (real engine)', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-determinism-'));
  let live: LiveServer;
  before(async () => {
    const dir = join(root, 'r1');
    await writeHfModel(dir, 'r1-qwen', { seed: 11 });
    await writeManifest(dir);
    live = await startLiveServer({ checkpointDirs: [dir] });
  });
  after(async () => {
    await live?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const request = {
    model: 'r1',
    messages: [
      {
        role: 'system',
        content: 'You are a careful assistant who checks every step twice before answering.',
      },
      { role: 'user', content: 'A train leaves at 9:40 and arrives at 13:05. How long is the trip?' },
    ],
    temperature: 0.8,
    top_p: 0.95,
    seed: 1234,
    max_tokens: 12,
    logprobs: true,
    top_logprobs: 3,
    thinking: { mode: 'hard', max_tokens: 10 },
  };

  // biome-ignore lint/suspicious/noExplicitAny: responses are compared as JSON
  const post = async (body: unknown): Promise<any> => {
    const res = await fetch(`${live.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return body && (body as { stream?: boolean }).stream ? res.text() : res.json();
  };
  // biome-ignore lint/suspicious/noExplicitAny: responses are compared as JSON
  const bytes = (r: any) => JSON.stringify(r.choices);

  it('alone, from the prefix cache, streamed and in a full batch: the same bytes', async () => {
    const alone = await post(request);
    assert.ok(alone.choices[0].message.reasoning_content, 'it thought');
    assert.equal(alone.usage.prompt_tokens_details.cached_tokens, 0);

    const cached = await post(request);
    assert.ok(cached.usage.prompt_tokens_details.cached_tokens >= 16, 'the second run hit the prefix cache');
    assert.equal(bytes(cached), bytes(alone));

    const sse = (await post({ ...request, stream: true })) as string;
    let content = '';
    let reasoning = '';
    const logprobs: unknown[] = [];
    let finish = null;
    for (const line of sse.split('\n\n').filter((l) => l && l !== 'data: [DONE]')) {
      const chunk = JSON.parse(line.slice(6));
      for (const c of chunk.choices) {
        content += c.delta.content ?? '';
        reasoning += c.delta.reasoning_content ?? '';
        logprobs.push(...(c.logprobs?.content ?? []));
        finish = c.finish_reason ?? finish;
      }
    }
    const streamed = {
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content,
            reasoning: reasoning || null,
            reasoning_content: reasoning || null,
          },
          logprobs: { content: logprobs },
          finish_reason: finish,
        },
      ],
    };
    assert.equal(bytes(streamed), bytes(alone));

    // Fifteen other requests (other prompts, seeds and lengths) share every step with it.
    const others = Array.from({ length: 15 }, (_, i) => ({
      ...request,
      messages: [{ role: 'user', content: `Question number ${i}: what comes after ${i * 7}?` }],
      seed: i,
      max_tokens: 20 + i,
    }));
    const batch = await Promise.all([
      ...others.slice(0, 8).map(post),
      post(request),
      ...others.slice(8).map(post),
    ]);
    assert.equal(bytes(batch[8]), bytes(alone));
    assert.ok(batch.every((r) => r.choices?.length === 1));
  });
});
