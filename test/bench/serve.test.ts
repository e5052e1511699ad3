import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { poissonOffsets } from '../../src/bench/serve/arrivals.ts';
import { type CancelPlan, type RequestResult, streamChat } from '../../src/bench/serve/client.ts';
import {
  defaultWarmup,
  parseSlo,
  type ServeBenchOptions,
  serveFlagsSchema,
} from '../../src/bench/serve/options.ts';
import { computeFigures, type LatencySummary, tpotMs } from '../../src/bench/serve/report.ts';
import { benchServe, formatReport, type ServeReport } from '../../src/bench/serve/run.ts';
import { parsePrometheus } from '../../src/bench/serve/server-metrics.ts';
import { planCancels, resolveCancel, soakFigures } from '../../src/bench/serve/soak.ts';
import { distinctPrompts, modeSequence, parseMix, planRequests } from '../../src/bench/serve/workload.ts';
import { mean, percentile } from '../../src/bench/stats.ts';
import { type LiveServer, startLiveServer } from '../api/live-server.ts';

/** `reverie bench serve`: the figures' arithmetic by hand, then real runs against a live server. */

function result(over: Partial<RequestResult>): RequestResult {
  return {
    index: 0,
    mode: 'discrete',
    outcome: 'ok',
    startMs: 0,
    ttftMs: 100,
    e2eMs: 1000,
    itlMs: [],
    promptTokens: 10,
    outputTokens: 10,
    reasoningTokens: 0,
    tokenChunks: 10,
    ...over,
  };
}

describe('bench serve arithmetic', () => {
  it('percentiles interpolate linearly between ranks (numpy default)', () => {
    assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
    assert.ok(Math.abs(percentile([1, 2, 3, 4], 99) - 3.97) < 1e-12);
    assert.equal(percentile([10, 20, 30, 40, 50], 90), 46);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), 0);
    assert.equal(mean([1, 2, 6]), 3);
  });

  it('TPOT = (E2E − TTFT) / (output tokens − 1); none below two tokens', () => {
    assert.equal(tpotMs({ e2eMs: 1000, ttftMs: 100, outputTokens: 10 }), 100);
    assert.equal(tpotMs({ e2eMs: 1000, ttftMs: 100, outputTokens: 1 }), null);
    assert.equal(tpotMs({ e2eMs: 1000, ttftMs: null, outputTokens: 5 }), null);
  });

  it('throughputs, goodput and latencies from hand-made results', () => {
    const results = [
      result({ index: 0, ttftMs: 100, e2eMs: 1000, outputTokens: 10, itlMs: [50, 150] }),
      result({ index: 1, ttftMs: 300, e2eMs: 2300, outputTokens: 5, itlMs: [100] }),
      result({ index: 2, mode: 'soft', ttftMs: 50, e2eMs: 50, outputTokens: 1 }),
      result({ index: 3, outcome: 'error', errorType: 'HTTP 400 x', errorMessage: 'bad' }),
      result({ index: 4, outcome: 'cancelled' }),
    ];
    const f = computeFigures(results, 2000, { percentiles: [50, 99], slo: { ttft: 200, tpot: 200 } });
    assert.equal(f.completed, 3);
    assert.equal(f.failed, 1);
    assert.equal(f.cancelled, 1);
    assert.deepEqual(f.errors, { 'HTTP 400 x': { count: 1, example: 'bad' } });
    assert.equal(f.requestThroughput, 1.5);
    assert.equal(f.outputThroughput, 8);
    assert.equal(f.totalTokenThroughput, 23);
    // 0 meets both; 1's TTFT 300 > 200; 2 has no TPOT, so meets it (as in vLLM).
    assert.equal(f.goodput, 1);
    assert.deepEqual(f.tpotMs, { count: 2, mean: 300, median: 300, percentiles: { p50: 300, p99: 496 } });
    assert.equal(f.ttftMs.mean, 150);
    assert.equal(f.itlMs.count, 3);
    assert.equal(f.itlMs.median, 100);
    const soft = f.modes.find((m) => m.mode === 'soft')!;
    assert.deepEqual(soft, {
      mode: 'soft',
      requests: 1,
      completed: 1,
      failed: 0,
      meanTtftMs: 50,
      meanTpotMs: 0,
    });
    assert.equal(computeFigures(results, 2000, { percentiles: [99] }).goodput, null);
  });

  it('Poisson arrivals are deterministic per seed and average 1/rate apart', () => {
    const a = poissonOffsets(2000, 4, 1);
    assert.deepEqual(a, poissonOffsets(2000, 4, 1));
    assert.notDeepEqual(a.slice(0, 5), poissonOffsets(5, 4, 2));
    assert.equal(a[0], 0);
    for (let i = 1; i < a.length; i++) assert.ok(a[i]! > a[i - 1]!);
    const meanGap = a[a.length - 1]! / (a.length - 1);
    assert.ok(Math.abs(meanGap - 250) < 25, `mean gap ${meanGap} ms, expected about 250`);
    assert.deepEqual(poissonOffsets(3, Number.POSITIVE_INFINITY, 0), [0, 0, 0]);
  });

  it('parses mixes, and names what is wrong with a bad one', () => {
    assert.deepEqual(parseMix('discrete=2, soft=1,superposed=0.5'), [
      ['discrete', 2],
      ['soft', 1],
      ['superposed', 0.5],
    ]);
    assert.throws(() => parseMix('bogus=1'), /unknown mode "bogus".*discrete, hard, soft, fuzzy, latent/);
    assert.throws(() => parseMix('discrete'), /"discrete" is not MODE=WEIGHT/);
    assert.throws(() => parseMix('discrete=-1'), /not MODE=WEIGHT/);
    assert.throws(() => parseMix('soft=1,soft=2'), /appears twice/);
    assert.throws(() => parseMix('soft=0'), /weight above 0/);
    assert.deepEqual(parseSlo('ttft:500,tpot:50 e2el:4000'), { ttft: 500, tpot: 50, e2el: 4000 });
    assert.throws(() => parseSlo('ttfb:5'), /ttfb:5/);
  });

  it('spreads modes by weight and builds each mode’s body', () => {
    const seq = modeSequence(parseMix('discrete=2,soft=1,superposed=1'), 12);
    assert.deepEqual(
      ['discrete', 'soft', 'superposed'].map((m) => seq.filter((s) => s === m).length),
      [6, 3, 3],
    );
    const mix = parseMix('discrete=1,latent=1,superposed=1');
    const plan = planRequests({ model: 'm', numPrompts: 3, mix, maxTokens: 7, seed: 0 });
    assert.deepEqual(
      plan.map((p) => [p.mode, p.body.thinking, p.body.superposition]),
      [
        ['discrete', { mode: 'off' }, undefined],
        ['latent', { mode: 'latent' }, undefined],
        ['superposed', { mode: 'off' }, { drafts: 3 }],
      ],
    );
    assert.equal(plan[0]!.body.temperature, 0.8);
    assert.equal(typeof plan[0]!.body.seed, 'number');
    for (const p of plan) {
      assert.equal(p.body.stream, true);
      assert.deepEqual(p.body.stream_options, { include_usage: true });
      assert.equal(p.body.max_tokens, 7);
    }
    assert.deepEqual(planRequests({ model: 'm', numPrompts: 3, mix, maxTokens: 7, seed: 0 }), plan);
  });

  it('validates flags with messages that name them', () => {
    const bad = (flags: Record<string, unknown>) => {
      const r = serveFlagsSchema.safeParse(flags);
      assert.equal(r.success, false);
      return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    };
    assert.match(bad({ 'num-prompts': '0' }), /^num-prompts:/);
    assert.match(bad({ mix: 'nope=1' }), /^mix: unknown mode "nope"/);
    assert.match(bad({ goodput: 'ttft=5' }), /^goodput:/);
    assert.match(bad({ percentiles: '50,abc' }), /^percentiles/);
    assert.match(bad({ 'cancel-rate': '1.5' }), /^cancel-rate:/);
    assert.match(bad({ url: 'not a url' }), /^url:/);
    const ok = serveFlagsSchema.parse({ soak: true, 'request-rate': '4' });
    assert.equal(ok.options.cancelRate, 0.2);
    assert.equal(ok.options.maxConcurrency, Number.POSITIVE_INFINITY);
    assert.equal(serveFlagsSchema.parse({}).options.maxConcurrency, 8);
  });

  it('a soak fails on lost or hung requests, on KV still held after the run, and on RSS growth', () => {
    const idle = { running: 0, waiting: 0, kvUsage: 0, rssBytes: null };
    const limits = { warmupPrompts: 4, maxRssGrowth: 1.2 };
    const ok = [result({ index: 0 }), result({ index: 1, outcome: 'cancelled' })];
    assert.deepEqual(soakFigures(ok, 2, 1, idle, idle, 10, limits).problems, []);
    const bad = soakFigures(
      [result({ index: 0, outcome: 'lost' }), result({ index: 1, outcome: 'timeout' })],
      3,
      0,
      idle,
      { ...idle, kvUsage: 0.5 },
      5000,
      limits,
    );
    assert.equal(bad.lost, 2, 'a lost stream plus a request with no result');
    assert.equal(bad.hung, 1);
    assert.equal(bad.problems.length, 3);
    assert.match(bad.problems[2]!, /KV usage 0.5, running 0/);
    const blind = soakFigures(ok, 2, 0, idle, { ...idle, kvUsage: null }, 0, limits);
    assert.match(blind.problems[0]!, /exposes no reverie_kv_cache_usage_perc/);
    assert.equal(blind.rssRatio, null);
    const rss = soakFigures(ok, 2, 0, { ...idle, rssBytes: 100 }, { ...idle, rssBytes: 120 }, 0, limits);
    assert.deepEqual([rss.rssGrowthBytes, rss.rssRatio, rss.problems], [20, 1.2, []]);
    const grown = soakFigures(ok, 2, 0, { ...idle, rssBytes: 100 }, { ...idle, rssBytes: 164 }, 0, limits);
    assert.match(grown.problems[0]!, /RSS grew ×1\.640 .* more than ×1\.2/);
  });

  it('distinct prompts never repeat; the soak warm-up defaults to a tenth of the run, at least two rounds', () => {
    const prompts = distinctPrompts(2_000, 3);
    assert.equal(new Set(prompts.map((p) => p[0]!.content)).size, 2_000);
    assert.deepEqual(distinctPrompts(5, 3), prompts.slice(0, 5), 'reproducible from the seed');
    const plan = planRequests({
      model: 'm',
      numPrompts: 3,
      mix: parseMix('discrete=1'),
      maxTokens: 4,
      seed: 3,
      distinctPrompts: true,
    });
    assert.deepEqual(
      plan.map((p) => p.body.messages),
      prompts.slice(0, 3),
    );
    assert.equal(defaultWarmup(5_000, 64), 500);
    assert.equal(defaultWarmup(200, 64), 128);
    assert.equal(defaultWarmup(200, Number.POSITIVE_INFINITY), 20);
    const soak = serveFlagsSchema.parse({
      soak: true,
      'num-prompts': '5000',
      'max-concurrency': '64',
    }).options;
    assert.deepEqual([soak.warmupPrompts, soak.maxRssGrowth, soak.distinctPrompts], [500, 1.2, false]);
    assert.equal(serveFlagsSchema.parse({}).options.warmupPrompts, 0, 'no warm-up outside a soak');
  });

  it('resolves time cancels against the mean E2E of the mode so far', () => {
    const done = [
      result({ mode: 'soft', e2eMs: 400 }),
      result({ mode: 'soft', e2eMs: 200 }),
      result({ e2eMs: 10 }),
    ];
    assert.deepEqual(resolveCancel({ atFraction: 0.5 }, 'soft', done), { afterMs: 150 });
    assert.deepEqual(resolveCancel({ atFraction: 0.5 }, 'hard', done), { afterMs: 101 });
    assert.deepEqual(resolveCancel({ atFraction: 0.5 }, 'hard', []), { afterMs: 500 });
    assert.deepEqual(resolveCancel({ afterChunks: 3 }, 'hard', []), { afterChunks: 3 });
    const plan = planCancels(1000, 0.2, 64, 0);
    const planned = plan.filter(Boolean).length;
    assert.ok(planned > 150 && planned < 250, `${planned} of 1000 planned at rate 0.2`);
    assert.deepEqual(planCancels(1000, 0.2, 64, 0), plan);
  });

  it('sums Prometheus samples over label sets', () => {
    const m = parsePrometheus(
      '# HELP a x\n# TYPE a gauge\na{model_name="t"} 2\na{model_name="u"} 3\nb 0.5\nc_total 1e3\n',
    );
    assert.equal(m.get('a'), 5);
    assert.equal(m.get('b'), 0.5);
    assert.equal(m.get('c_total'), 1000);
  });
});

/** SSE scripts by model name: how the client classifies every way a stream can end. */
const SCRIPTS: Record<string, { status?: number; frames: string[]; end: boolean }> = {
  ok: {
    frames: [
      '{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
      '{"choices":[{"index":0,"delta":{"reasoning_content":"<think>"}}]}',
      '{"choices":[{"index":0,"delta":{"content":"a"}}]}',
      '{"choices":[{"index":1,"delta":{"content":"b"}}]}',
      '{"choices":[{"index":0,"delta":{"content":"c"}}]}',
      '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":1}}}',
      '[DONE]',
    ],
    end: true,
  },
  truncated: { frames: ['{"choices":[{"index":0,"delta":{"content":"a"}}]}'], end: true },
  hang: { frames: ['{"choices":[{"index":0,"delta":{"content":"a"}}]}'], end: false },
  'error-frame': {
    frames: [
      '{"choices":[{"index":0,"delta":{"content":"a"}}]}',
      '{"error":{"message":"boom","type":"server_error","code":"internal"}}',
      '[DONE]',
    ],
    end: true,
  },
  refused: {
    status: 400,
    frames: ['{"error":{"message":"no latent","type":"invalid_request_error","code":"invalid_value"}}'],
    end: true,
  },
};

describe('bench serve client against a scripted SSE server', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const script = SCRIPTS[(JSON.parse(raw) as { model: string }).model]!;
        if (script.status) {
          res.writeHead(script.status, { 'content-type': 'application/json' }).end(script.frames[0]);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const f of script.frames) res.write(`data: ${f}\n\n`);
        if (script.end) res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const send = (model: string, options: { timeoutMs?: number; cancel?: CancelPlan; url?: string } = {}) =>
    streamChat({
      url: options.url ?? url,
      index: 0,
      mode: 'soft',
      body: { model },
      runStartMs: 0,
      timeoutMs: options.timeoutMs ?? 2000,
      cancel: options.cancel,
    });

  it('times a complete stream and reads usage', async () => {
    const r = await send('ok');
    assert.equal(r.outcome, 'ok');
    assert.equal(r.tokenChunks, 4, 'the empty role chunk carries no token');
    assert.equal(r.itlMs.length, 2, 'gaps within choice 0 (two) and none for choice 1’s first token');
    assert.deepEqual([r.promptTokens, r.outputTokens, r.reasoningTokens], [5, 4, 1]);
    assert.ok(r.ttftMs! > 0 && r.ttftMs! <= r.e2eMs);
  });

  it('classifies lost, hung, failed and refused requests', async () => {
    const lost = await send('truncated');
    assert.equal(lost.outcome, 'lost');
    const hung = await send('hang', { timeoutMs: 300 });
    assert.equal(hung.outcome, 'timeout');
    assert.ok(hung.e2eMs >= 290 && hung.e2eMs < 2000, `${hung.e2eMs}`);
    const failed = await send('error-frame');
    assert.deepEqual(
      [failed.outcome, failed.errorType, failed.errorMessage],
      ['error', 'stream internal', 'boom'],
    );
    const refused = await send('refused');
    assert.deepEqual([refused.outcome, refused.errorType], ['error', 'HTTP 400 invalid_value']);
    const cancelled = await send('hang', { timeoutMs: 5000, cancel: { afterChunks: 1 } });
    assert.equal(cancelled.outcome, 'cancelled');
    // A cancel on the last token chunk, with usage and [DONE] already in the same read.
    const late = send('ok', { timeoutMs: 1000, cancel: { afterChunks: 4 } });
    assert.equal((await within(3000, late)).outcome, 'cancelled');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await send('ok', { url: `http://127.0.0.1:${port}` });
    assert.equal(down.outcome, 'error');
    assert.equal(down.errorType, 'network ECONNREFUSED');
  });
});

/** Fails instead of hanging when a run never returns (the client's own timeouts are under test). */
async function within<T>(ms: number, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

function assertSummary(name: string, s: LatencySummary, keys: string[]): void {
  assert.ok(s.count > 0, `${name}: no values`);
  for (const v of [s.mean, s.median, ...Object.values(s.percentiles)]) {
    assert.ok(Number.isFinite(v) && v >= 0, `${name}: ${v}`);
  }
  assert.deepEqual(Object.keys(s.percentiles), keys);
  const ordered = keys.map((k) => s.percentiles[k]!);
  for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i]! >= ordered[i - 1]!, `${name} percentiles`);
}

function assertFigures(r: ServeReport, requested: number): void {
  assert.equal(r.completed, requested, JSON.stringify(r.errors));
  assert.equal(r.failed, 0);
  assert.ok(r.totalOutputTokens > 0);
  assert.ok(r.totalPromptTokens > 0);
  for (const x of [r.durationS, r.requestThroughput, r.outputThroughput, r.totalTokenThroughput]) {
    assert.ok(Number.isFinite(x) && x > 0, String(x));
  }
  const keys = r.config.percentiles.map((p) => `p${p}`);
  for (const [name, s] of Object.entries({ ttft: r.ttftMs, tpot: r.tpotMs, itl: r.itlMs, e2el: r.e2elMs })) {
    assertSummary(name, s, keys);
  }
  assert.ok(r.ttftMs.mean <= r.e2elMs.mean && r.ttftMs.median <= r.e2elMs.median);
  for (const k of keys) assert.ok(r.ttftMs.percentiles[k]! <= r.e2elMs.percentiles[k]!);
}

describe('bench serve against a live server (tiny model, real engine)', () => {
  let live: LiveServer;
  before(async () => {
    live = await startLiveServer({ latent: true });
  });
  after(async () => {
    await live.close();
  });

  const base = (): ServeBenchOptions => ({
    url: live.url,
    numPrompts: 12,
    maxConcurrency: 4,
    requestRate: Number.POSITIVE_INFINITY,
    mix: parseMix('discrete=2,soft=1,superposed=1,latent=1,hard=1'),
    maxTokens: 8,
    thinkingMaxTokens: 8,
    // The random tiny model's favourite tokens are specials: keep them in the text, so every token streams.
    extraBody: { skip_special_tokens: false },
    seed: 0,
    percentiles: [50, 90, 99],
    requestTimeoutMs: 20_000,
    cancelRate: 0,
    soak: false,
    warmupPrompts: 0,
    maxRssGrowth: 1.2,
    distinctPrompts: false,
    settleTimeoutMs: 5_000,
  });

  const run = (over: Partial<ServeBenchOptions>) => within(20_000, benchServe({ ...base(), ...over }));

  it('runs a mixed-mode benchmark at concurrency 4 with every figure present', async () => {
    const report = await run({ slo: { ttft: 60_000, tpot: 60_000, e2el: 60_000 } });
    assertFigures(report, 12);
    assert.equal(report.model, 'tiny', 'the first model of /v1/models');
    assert.equal(report.goodput, report.requestThroughput, 'generous SLOs: every request is good');
    assert.ok(report.totalReasoningTokens > 0, 'soft/latent/hard requests think');
    const modes = Object.fromEntries(report.modes.map((m) => [m.mode, m]));
    assert.deepEqual(
      Object.keys(modes).sort(),
      ['discrete', 'hard', 'latent', 'soft', 'superposed'],
      'every mode of the mix ran',
    );
    for (const m of report.modes) {
      assert.equal(m.completed, m.requests);
      assert.ok(m.meanTtftMs > 0 && Number.isFinite(m.meanTpotMs), `${m.mode}: ${JSON.stringify(m)}`);
    }
    assert.equal(report.soak, null);
    const text = formatReport(report);
    for (const label of [
      'request throughput',
      'goodput',
      'TTFT',
      'TPOT',
      'ITL',
      'E2E',
      'superposed',
      'p90',
    ]) {
      assert.ok(text.includes(label), `table has ${label}`);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(report)).config.mix, Object.fromEntries(base().mix));
  });

  it('runs Poisson arrivals at a seeded rate, capped by max concurrency', async () => {
    const report = await run({
      numPrompts: 8,
      requestRate: 40,
      maxConcurrency: 3,
      mix: parseMix('discrete=1,superposed=1'),
    });
    assertFigures(report, 8);
    assert.equal(report.config.requestRate, 40);
    // 8 arrivals at 40/s take about 175 ms to send: the run cannot be shorter than the last send.
    assert.ok(report.durationS * 1000 >= poissonOffsets(8, 40, 0)[7]!);
  });

  it('soaks with client cancels: nothing lost or hung, KV back to 0', async () => {
    const report = await run({
      numPrompts: 16,
      maxTokens: 48,
      mix: parseMix('discrete=1,soft=1,superposed=1'),
      cancelRate: 0.5,
      soak: true,
      warmupPrompts: 8,
      // A 16-request run measures allocator noise, not a trend: the ratio is checked, not bounded here.
      maxRssGrowth: 10,
      distinctPrompts: true,
    });
    const soak = report.soak!;
    assert.deepEqual(soak.problems, []);
    assert.equal(soak.lost, 0);
    assert.equal(soak.hung, 0);
    assert.equal(soak.after.running, 0);
    assert.equal(soak.after.kvUsage, 0, 'no KV held once every request ended (cached prefixes are free)');
    assert.ok(soak.after.rssBytes! > 0, 'the server exposes its RSS');
    assert.ok(soak.cancelsPlanned > 0);
    assert.ok(soak.cancelled > 0, 'some cancels happened before their request ended');
    assert.equal(report.failed, 0, JSON.stringify(report.errors));
    assert.equal(report.completed + report.cancelled, 16);
    assert.equal(typeof soak.rssGrowthBytes, 'number');
    assert.ok(soak.rssRatio! > 0);
    assert.equal(soak.warmupPrompts, 8);
    assert.match(formatReport(report), /server RSS after 8 warm-up requests .* \(×\d\.\d{3}, at most ×10\)/);
    assert.match(formatReport(report), /soak: PASS/);
  });
});
