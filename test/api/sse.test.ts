import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type LiveServer, LONG_REQUEST as LONG, runningAfterProbe, startLiveServer } from './live-server.ts';

/** SSE read by a raw HTTP client, chunk by chunk, and client disconnects, on the real engine. */

interface RawStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Socket reads, as received. */
  reads: string[];
}

function post(
  endpoint: string,
  body: unknown,
  onRead?: (text: string, destroy: () => void) => void,
): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = request(
      endpoint,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        const reads: string[] = [];
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          reads.push(text);
          onRead?.(text, () => {
            req.destroy();
            resolve({ status: res.statusCode!, headers: res.headers, reads });
          });
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, reads }));
        res.on('error', () => {});
      },
    );
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end(JSON.stringify(body));
  });
}

/** Checks the SSE framing and returns the JSON payloads (without the final `[DONE]`). */
// biome-ignore lint/suspicious/noExplicitAny: chunks are read field by field, as a client would
function sseEvents(res: RawStream): any[] {
  const raw = res.reads.join('');
  assert.ok(raw.endsWith('data: [DONE]\n\n'));
  const events = raw.split('\n\n').filter((e) => e.length > 0);
  for (const e of events) assert.match(e, /^data: [^\n]+$/, 'one data line per event');
  return events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
}

/** The tiny model's end-of-text and end-of-turn ids, banned (as `LONG_REQUEST` does). */
const EOS_BANNED = LONG.logit_bias;

async function until(cond: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SSE on the wire (live server, real engine)', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer();
  });
  after(async () => {
    await live.close();
  });

  it('frames every chunk as `data: {json}\\n\\n`, reasoning before content, usage, then [DONE]', async () => {
    const res = await post(`${live.url}/v1/chat/completions`, {
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
      // EOS banned: the answer cannot end before its max_tokens (which counts the 16 thinking
      // positions and </think> too), so content deltas are certain.
      max_tokens: 41,
      logit_bias: EOS_BANNED,
      // The random tiny model favours special tokens: keep them in the text so every delta shows.
      skip_special_tokens: false,
      temperature: 0,
      thinking: { mode: 'soft', max_tokens: 16, trace: true, trace_top_k: 2 },
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.ok(res.reads.length > 1, `arrived in ${res.reads.length} socket reads: streamed, not buffered`);
    const payloads = sseEvents(res);
    assert.equal(payloads[0].choices[0].delta.role, 'assistant');
    const kinds = payloads.flatMap((p) =>
      p.choices.map(
        (c: { delta: { reasoning_content?: string; content?: string }; finish_reason: string | null }) =>
          c.finish_reason
            ? 'finish'
            : c.delta.reasoning_content !== undefined
              ? 'reasoning'
              : c.delta.content
                ? 'content'
                : 'other',
      ),
    );
    const firstContent = kinds.indexOf('content');
    assert.ok(kinds.includes('reasoning'), kinds.join(','));
    assert.ok(firstContent >= 0, kinds.join(','));
    assert.ok(kinds.lastIndexOf('reasoning') < firstContent, kinds.join(','));
    assert.deepEqual(kinds.slice(-1), ['finish']);
    assert.equal(kinds.filter((k) => k === 'finish').length, 1);
    const traced = payloads.filter((p) => p.choices[0]?.reasoning_trace);
    assert.ok(traced.length > 0 && traced.every((p) => p.choices[0].reasoning_trace[0].top_k.length === 2));
    const last = payloads[payloads.length - 1];
    assert.deepEqual(last.choices, []);
    const reasoningTokens = last.usage.completion_tokens_details.reasoning_tokens;
    // Reasoning tokens: the thoughts, a repeated `<think>` (id 259, which the random model likes)
    // excluded as vLLM counts; completion tokens: max_tokens, thoughts and the forced `</think>`
    // included (as OpenAI counts reasoning tokens).
    const thoughts = traced.map((p) => p.choices[0].reasoning_trace[0].id);
    assert.equal(reasoningTokens, thoughts.filter((id: number) => id !== 259).length);
    assert.equal(last.usage.completion_tokens, 41, 'the whole generation ran to max_tokens');
    const answer = kinds.filter((k) => k === 'content').length;
    assert.ok(answer > 0 && answer <= 41 - thoughts.length - 1, 'the answer got what the thinking left');
    for (const p of payloads.slice(0, -1)) assert.equal(p.usage, null, 'usage: null before the usage chunk');
    for (const p of payloads) assert.equal(p.id, payloads[0].id);
  });

  it('completions: `usage: null` on every chunk before the usage chunk, only when asked', async () => {
    const body = {
      model: 'tiny',
      prompt: 'hi',
      stream: true,
      max_tokens: 6,
      logit_bias: EOS_BANNED,
      skip_special_tokens: false,
    };
    const url = `${live.url}/v1/completions`;
    const asked = sseEvents(await post(url, { ...body, stream_options: { include_usage: true } }));
    assert.ok(asked.length >= 3, `${asked.length} chunks`);
    for (const p of asked.slice(0, -1)) assert.equal(p.usage, null);
    assert.deepEqual(asked.at(-1).choices, []);
    assert.equal(asked.at(-1).usage.completion_tokens, 6);
    const plain = sseEvents(await post(url, body));
    assert.ok(
      plain.length >= 2 && plain.every((p) => !('usage' in p)),
      'no usage field without include_usage',
    );
  });

  it('a client that disconnects mid-stream cancels its generation', async () => {
    const started = Date.now();
    const full = await fetch(`${live.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(LONG),
    });
    await full.json();
    const natural = Date.now() - started;

    let disconnectedAt = 0;
    await post(`${live.url}/v1/chat/completions`, { ...LONG, stream: true }, (text, destroy) => {
      if (disconnectedAt === 0 && text.includes('"content"')) {
        disconnectedAt = Date.now();
        destroy();
      }
    });
    assert.ok(disconnectedAt > 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await runningAfterProbe(live), 0, 'the 16 rows were cancelled');
    const elapsed = Date.now() - disconnectedAt;
    assert.ok(
      elapsed < natural / 2,
      `checked ${elapsed} ms after disconnect; the whole request takes ${natural} ms`,
    );
  });

  it('a client that disconnects from a JSON (non-streamed) request cancels it too', async () => {
    const req = request(`${live.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => {});
    req.end(JSON.stringify(LONG));
    await until(() => live.engine.stats().running > 0, 5_000);
    const start = Date.now();
    req.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await runningAfterProbe(live), 0, 'the 16 rows were cancelled');
    assert.ok(Date.now() - start < 1_000);
  });
});
