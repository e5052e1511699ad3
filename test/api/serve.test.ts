import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { startServer } from '../../src/api/server.ts';
import { createEngine } from '../../src/engine/engine.ts';
import { copyOfSharedCheckpoint } from '../helpers/shared-checkpoint.ts';

/** Serving life cycle on the real engine: loading, queue limit, graceful shutdown, `reverie serve`. */

const ENTRY = join(import.meta.dirname, 'serve-entry.ts');
const body = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: 'tiny',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 4,
    thinking: { mode: 'off' },
    ...extra,
  });
const post = (url: string, extra: Record<string, unknown> = {}) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(extra),
  });

describe('serving life cycle (real engine)', () => {
  let root: string;
  let dir: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'reverie-serve-'));
    dir = join(root, 'tiny');
    // A copy: the test writes the models folder's DEFAULT beside it.
    await copyOfSharedCheckpoint(dir, { seed: 5, name: 'tiny' });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('/health is 503 while the model loads, then 200; after close 503', async () => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1 });
    const app = createApp({ engine });
    const running = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      assert.equal((await fetch(`${running.url}/health`)).status, 503);
      assert.equal((await post(running.url)).status, 503, 'requests before ready: unavailable');
      await engine.ready();
      assert.equal((await fetch(`${running.url}/health`)).status, 200);
      await engine.close();
      assert.equal((await fetch(`${running.url}/health`)).status, 503);
    } finally {
      await running.close(1_000);
      engine.destroy();
      await app.telemetry.shutdown();
    }
  });

  it('a full queue answers 429 with Retry-After, JSON or streamed (before any SSE byte)', async () => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1, queueLimit: 0 });
    await engine.ready();
    const app = createApp({ engine, config: parseApiConfig({ retryAfterSeconds: 2 }) });
    try {
      for (const stream of [false, true]) {
        const res = await app.request('/v1/chat/completions', {
          method: 'POST',
          body: body({ stream }),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 429, `stream: ${stream}`);
        assert.equal(res.headers.get('retry-after'), '2');
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'not text/event-stream');
        const text = await res.text();
        assert.ok(!text.includes('data:'), text);
        const err = JSON.parse(text) as { error: { type: string; code: string } };
        assert.equal(err.error.type, 'rate_limit_error');
        assert.equal(err.error.code, 'overloaded');
      }
    } finally {
      await engine.close();
      await app.telemetry.shutdown();
    }
  });

  it('graceful close: the in-flight stream finishes, new connections are refused', async () => {
    const engine = createEngine({ checkpointDirs: [dir], threads: 1 });
    await engine.ready();
    const app = createApp({ engine });
    const running = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const res = await post(running.url, {
        stream: true,
        max_tokens: 400,
        n: 4,
        temperature: 1,
        seed: 1,
        logit_bias: { 256: -100, 258: -100 },
      });
      const reader = res.body!.getReader();
      await reader.read();
      const closing = running.close(10_000);
      await assert.rejects(fetch(`${running.url}/health`), 'no new connections');
      let text = '';
      for (let i = 0; i < 100_000; i++) {
        const { done, value } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stream ran to its end');
      assert.equal((text.match(/"finish_reason":"length"/g) ?? []).length, 4);
      await closing;
    } finally {
      await running.close();
      await engine.close();
      await app.telemetry.shutdown();
    }
  });

  it('`reverie serve` serves the models folder and on SIGTERM finishes the request in flight, then exits 0', async () => {
    writeFileSync(join(root, 'DEFAULT'), 'tiny\n');
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', ENTRY, '--port', '0', '--models-dir', root],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        // An API limit and an engine knob from the environment, seen below.
        env: { ...process.env, HOST: '127.0.0.1', REVERIE_MAX_N: '2', REVERIE_MAX_MODEL_LEN: '640' },
      },
    );
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 60_000);
        child.stderr!.on('data', (chunk: string) => {
          stderr += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(stderr);
          if (match && /ready/.test(stderr)) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      assert.equal((await fetch(`${url}/health`)).status, 200);
      const models = (await (await fetch(`${url}/v1/models`)).json()) as {
        data: { id: string; max_model_len: number }[];
      };
      assert.deepEqual(
        models.data.map((m) => [m.id, m.max_model_len]),
        [['tiny', 640]],
      );
      const res = await post(url);
      assert.equal(res.status, 200);
      const refused = await post(url, { n: 3 });
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /at most 2/);
      // A stream that cannot end early (EOS banned), cut by SIGTERM after its first chunk.
      const stream = await post(url, {
        stream: true,
        max_tokens: 500,
        temperature: 0,
        logit_bias: { 256: -100, 258: -100 },
        thinking: { mode: 'off' },
      });
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      child.kill('SIGTERM');
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value);
      assert.match(text, /"finish_reason":"length"/, 'the request in flight ran to its end');
      assert.ok(text.trimEnd().endsWith('data: [DONE]'));
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /SIGTERM: finishing in-flight requests[\s\S]*stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('`reverie serve` stops at start on a bad variable, naming it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, '--models-dir', root], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, REVERIE_MAX_NUM_SEQS: '0' },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^reverie: invalid setting REVERIE_MAX_NUM_SEQS="0": /);
    assert.doesNotMatch(stderr, /listening/);
  });
});
