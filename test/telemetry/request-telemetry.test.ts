import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import WebSocket from 'ws';
import { Telemetry } from '../../src/telemetry/telemetry.ts';
import { FakeEngine } from '../api/fake-engine.ts';
import { type LiveServer, startLiveServer } from '../api/live-server.ts';
import { MIXED } from '../helpers/engine-fixtures.ts';
import { type Snapshot, TestMetrics } from './metric-reader.ts';

/**
 * Spans and metrics of real requests (the real engine on the tiny model), read back through
 * in-memory exporters: one request of each decoding mode, errors, streaming, WebSocket.
 */

const NO_EXPORTERS = { traces: [], metrics: [], metricIntervalMs: 60_000 };

interface Usage {
  prompt_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens: number;
  completion_tokens_details?: { reasoning_tokens: number };
}

function newTraceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** One request of every mode (the engine tests' set, as chat bodies), a streamed one, a text completion. */
const CASES: [name: string, path: string, body: Record<string, unknown>][] = [
  ...MIXED.map(
    ([name, text, params]) =>
      [name, '/v1/chat/completions', { ...params, messages: [{ role: 'user', content: text }] }] as [
        string,
        string,
        Record<string, unknown>,
      ],
  ),
  [
    'streamed soft',
    '/v1/chat/completions',
    {
      temperature: 0,
      max_tokens: 10,
      thinking: { mode: 'soft', max_tokens: 4 },
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    },
  ],
  ['completion', '/v1/completions', { prompt: 'once upon a time', temperature: 0, max_tokens: 6 }],
];

/** Reads an SSE body into the final usage, the id and each choice's finish reason. */
async function readStream(res: Response): Promise<{ id: string; usage: Usage; reasons: string[] }> {
  const text = await res.text();
  let id = '';
  let usage: Usage | null = null;
  const reasons: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(6));
    id = chunk.id;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices ?? []) if (c.finish_reason) reasons.push(c.finish_reason);
  }
  return { id, usage: usage!, reasons };
}

describe('request telemetry (real engine, in-memory exporters)', () => {
  let live: LiveServer;
  const spans = new InMemorySpanExporter();
  const metrics = new TestMetrics();

  before(async () => {
    live = await startLiveServer({
      latent: true,
      telemetry: (engine) =>
        new Telemetry(engine, {
          config: NO_EXPORTERS,
          spanExporters: [spans],
          metricReaders: [metrics.reader],
        }),
    });
  });
  after(async () => {
    await live.close();
  });
  beforeEach(() => spans.reset());

  const serverSpans = () => spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  const childrenOf = (parent: ReadableSpan) =>
    spans.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  async function post(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    return fetch(`${live.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  for (const [name, path, extra] of CASES) {
    it(`${name}: one server span with GenAI attributes, phase spans, and metrics moved by its figures`, async () => {
      const chat = path === '/v1/chat/completions';
      const body: Record<string, unknown> = { model: 'tiny', ...extra };
      const parent = newTraceparent();
      const before: Snapshot = await metrics.snapshot();
      const res = await post(path, body, { traceparent: parent.header });
      assert.equal(res.status, 200, await res.clone().text());
      const got = body.stream
        ? await readStream(res)
        : await res.json().then((j) => {
            const r = j as { id: string; usage: Usage; choices: { finish_reason: string }[] };
            return { id: r.id, usage: r.usage, reasons: r.choices.map((c) => c.finish_reason) };
          });
      const afterSnap = await metrics.snapshot();

      const [span, ...others] = serverSpans();
      assert.ok(span, 'a server span');
      assert.equal(others.length, 0, 'exactly one server span');
      const operation = chat ? 'chat' : 'text_completion';
      assert.equal(span.name, `${operation} tiny`);
      assert.equal(span.spanContext().traceId, parent.traceId, 'joins the caller trace');
      assert.equal(span.parentSpanContext?.spanId, parent.spanId, 'child of the caller span');
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      const a = span.attributes;
      const mode = (extra.thinking as { mode?: string } | undefined)?.mode ?? 'off';
      const drafts = (extra.superposition as { drafts: number } | undefined)?.drafts ?? 0;
      const reasoning = got.usage.completion_tokens_details?.reasoning_tokens ?? 0;
      assert.equal(a['gen_ai.operation.name'], operation);
      assert.equal(a['gen_ai.provider.name'], 'reverie');
      assert.equal(a['gen_ai.request.model'], 'tiny');
      assert.equal(a['gen_ai.response.model'], 'tiny');
      assert.equal(a['gen_ai.response.id'], got.id);
      assert.equal(a['gen_ai.request.max_tokens'], extra.max_tokens);
      assert.equal(a['gen_ai.request.stream'], body.stream === true);
      assert.equal(a['gen_ai.request.choice.count'], drafts || (extra.n as number | undefined) || 1);
      assert.equal(a['gen_ai.usage.input_tokens'], got.usage.prompt_tokens);
      assert.equal(a['gen_ai.usage.output_tokens'], got.usage.completion_tokens);
      assert.equal(a['gen_ai.usage.reasoning.output_tokens'] ?? 0, reasoning);
      assert.deepEqual(
        [...(a['gen_ai.response.finish_reasons'] as string[])].sort(),
        [...got.reasons].sort(),
      );
      assert.equal(a['reverie.thinking.mode'], mode);
      assert.equal(a['reverie.superposition.drafts'], drafts);
      assert.equal(typeof a['reverie.queue_time_ms'], 'number');
      assert.equal(typeof a['reverie.prefill_time_ms'], 'number');
      assert.ok((a['reverie.time_to_first_token_ms'] as number) > 0);
      assert.equal(a['reverie.preempted'], false);
      const steps = a['reverie.thinking.steps'] as number;
      if (mode === 'off') assert.equal(steps, 0);
      else assert.ok(steps > 0, `${mode} thinking took steps`);
      // Steps count every thought; reasoning tokens leave out a repeated `<think>`, as vLLM counts.
      if (mode !== 'off' && !drafts && !extra.n)
        assert.ok(steps >= reasoning, 'one sequence: steps ≥ reasoning tokens');

      const children = childrenOf(span);
      const names = children.map((c) => c.name).sort();
      assert.deepEqual(
        names,
        mode === 'off' ? ['answer', 'prefill', 'queue'] : ['answer', 'prefill', 'queue', 'thinking'],
      );
      const t = (x: [number, number]) => x[0] * 1e9 + x[1];
      for (const c of children) {
        assert.ok(
          t(c.startTime) >= t(span.startTime) && t(c.endTime) <= t(span.endTime),
          `${c.name} inside the request`,
        );
      }

      const gen = { 'gen_ai.operation.name': operation, 'gen_ai.request.model': 'tiny' };
      const delta = (f: (s: Snapshot) => number) => f(afterSnap) - f(before);
      assert.equal(
        delta((s) => s.histogram('gen_ai.server.request.duration', gen).count),
        1,
      );
      assert.equal(
        delta((s) => s.histogram('gen_ai.server.time_to_first_token', gen).count),
        1,
      );
      assert.equal(
        delta((s) => s.histogram('gen_ai.server.time_per_output_token', gen).count),
        1,
      );
      const tiny = { model_name: 'tiny' };
      assert.equal(
        delta((s) => s.total('reverie_prompt_tokens', tiny)),
        got.usage.prompt_tokens,
      );
      assert.equal(
        delta((s) => s.total('reverie_generation_tokens', tiny)),
        got.usage.completion_tokens,
      );
      assert.equal(
        delta((s) => s.total('reverie_reasoning_tokens', tiny)),
        reasoning,
      );
      assert.equal(
        delta((s) =>
          s.total('reverie_requests', {
            thinking_mode: mode,
            answer_mode: drafts ? 'superposed' : 'discrete',
          }),
        ),
        1,
      );
      assert.equal(
        delta((s) => s.total('reverie_thinking_steps', { thinking_mode: mode })),
        steps,
      );
      assert.equal(
        delta((s) => s.total('reverie_superposed_drafts', tiny)),
        drafts,
      );
      assert.equal(
        delta((s) => s.total('reverie_request_success', tiny)),
        got.reasons.length,
      );
      assert.equal(
        delta((s) => s.total('reverie_request_failure')),
        0,
      );
      assert.ok(delta((s) => s.histogram('reverie_batch_size').count) >= 1, 'engine steps recorded');
      const cached = got.usage.prompt_tokens_details?.cached_tokens ?? 0;
      assert.ok(
        delta((s) => s.histogram('reverie_step_tokens').sum) >= got.usage.prompt_tokens - cached,
        'every uncached prompt position was computed in some step',
      );
    });
  }

  it('a request without traceparent starts its own trace', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
      thinking: { mode: 'off' },
    });
    await res.json();
    const [span] = serverSpans();
    assert.equal(span!.parentSpanContext, undefined);
  });

  it('a refused request ends its span with error.type and counts as a failure', async () => {
    const before = await metrics.snapshot();
    const bad = await post('/v1/chat/completions', {
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: -1,
    });
    assert.equal(bad.status, 400);
    const missing = await post('/v1/chat/completions', {
      model: 'nope',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(missing.status, 404);
    const after = await metrics.snapshot();
    const [first, second] = serverSpans();
    assert.equal(first!.status.code, SpanStatusCode.ERROR);
    assert.equal(first!.attributes['error.type'], 'invalid_value');
    assert.equal(second!.attributes['error.type'], 'model_not_found');
    assert.equal(
      after.total('reverie_request_failure', { error_type: 'invalid_value' }) -
        before.total('reverie_request_failure', { error_type: 'invalid_value' }),
      1,
    );
    assert.equal(
      after.histogram('gen_ai.server.request.duration', { 'error.type': 'model_not_found' }).count -
        before.histogram('gen_ai.server.request.duration', { 'error.type': 'model_not_found' }).count,
      1,
    );
  });

  it('a WebSocket response.create is traced on its own, with the traceparent it carries', async () => {
    const parent = newTraceparent();
    const ws = new WebSocket(`${live.url.replace(/^http/, 'ws')}/v1/stream`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const completed = new Promise<Record<string, unknown>>((resolve) =>
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.type === 'response.completed' || msg.type === 'error') resolve(msg);
      }),
    );
    ws.send(
      JSON.stringify({
        type: 'response.create',
        id: 'r1',
        traceparent: parent.header,
        request: {
          model: 'tiny',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 3,
          thinking: { mode: 'soft', max_tokens: 3 },
        },
      }),
    );
    const msg = await completed;
    ws.close();
    assert.equal(msg.type, 'response.completed');
    const [span] = serverSpans();
    assert.equal(span!.name, 'chat tiny');
    assert.equal(span!.spanContext().traceId, parent.traceId);
    assert.equal(span!.attributes['reverie.transport'], 'websocket');
    assert.equal(span!.attributes['gen_ai.request.stream'], true);
    assert.equal(span!.attributes['reverie.thinking.mode'], 'soft');
  });

  it('/metrics serves the GenAI histograms, engine gauges and process memory', async () => {
    const text = await (await fetch(`${live.url}/metrics`)).text();
    for (const name of [
      'gen_ai_server_request_duration_bucket',
      'gen_ai_server_time_to_first_token_bucket',
      'gen_ai_server_time_per_output_token_bucket',
      'reverie_batch_size_bucket',
      'reverie_step_tokens_bucket',
      'reverie_thinking_steps_total',
      'reverie_superposed_drafts_total',
      'reverie_requests_total',
      'reverie_request_failure_total',
      'reverie_num_requests_running',
      'reverie_kv_cache_usage_perc',
      'reverie_num_preemptions_total',
      'reverie_prefix_cache_hits_total',
      'reverie_kv_resident_steps_total',
      'reverie_kv_settles_total',
      'reverie_device_info\\{[^}]*device="cpu"',
      'process_resident_memory_bytes',
    ]) {
      assert.match(text, new RegExp(`^${name}`, 'm'), name);
    }
  });

  it("/metrics also speaks vLLM's names, so vLLM's Grafana dashboard reads it", async () => {
    const text = await (await fetch(`${live.url}/metrics`)).text();
    const sample = (name: string) => new RegExp(`^${name}\\{[^}]*model_name="tiny"[^}]*\\} \\S+$`, 'm');
    // Every series vLLM's example dashboard queries, plus the renamed ones.
    for (const name of [
      'vllm:e2e_request_latency_seconds_bucket',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:time_per_output_token_seconds_bucket',
      'vllm:inter_token_latency_seconds_bucket',
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:gpu_cache_usage_perc',
      'vllm:kv_cache_usage_perc',
      'vllm:request_prompt_tokens_bucket',
      'vllm:request_generation_tokens_bucket',
      'vllm:request_success_total',
      'vllm:request_queue_time_seconds_bucket',
      'vllm:num_preemptions_total',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
    ]) {
      assert.match(text, sample(name), name);
    }
    assert.match(text, /^# TYPE vllm:request_success_total counter$/m);
    // The alias carries the same value as reverie's own series.
    const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('vllm:prompt_tokens_total'), value('reverie_prompt_tokens_total'));
    assert.ok(value('vllm:prompt_tokens_total') > 0);
  });
});

describe('telemetry without exporters', () => {
  it('has no tracer, so requests do no span work, and still serves metrics', async () => {
    const telemetry = new Telemetry(new FakeEngine(), { config: NO_EXPORTERS });
    assert.equal(telemetry.tracer, null);
    const rt = telemetry.request('chat', new Headers({ traceparent: newTraceparent().header }));
    assert.equal(rt.span, null);
    assert.match(await telemetry.prometheus(), /reverie_num_requests_running/);
    await telemetry.shutdown();
  });
});
