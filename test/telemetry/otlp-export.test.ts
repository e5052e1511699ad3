import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { telemetryConfigFromEnv } from '../../src/telemetry/config.ts';
import { Telemetry } from '../../src/telemetry/telemetry.ts';
import { FakeEngine } from '../api/fake-engine.ts';

/**
 * OTLP/HTTP export end to end: the OTEL_* variables point the server at a local receiver, which
 * must get the request's span and the GenAI metrics.
 */

describe('OTLP export configured by OTEL_* variables', () => {
  let receiver: Server;
  const received = new Map<string, Buffer[]>();
  const saved = { ...process.env };

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const list = received.get(req.url!) ?? [];
        list.push(Buffer.concat(chunks));
        received.set(req.url!, list);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    process.env = saved;
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('sends the request span to /v1/traces and the metrics to /v1/metrics', async () => {
    const { port } = receiver.address() as AddressInfo;
    // The OTLP exporters read their endpoint from the environment, as in production.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    process.env.OTEL_SERVICE_NAME = 'reverie-otlp-test';
    const config = telemetryConfigFromEnv();
    assert.deepEqual([config.traces, config.metrics], [['otlp'], ['otlp']]);
    const engine = new FakeEngine();
    const telemetry = new Telemetry(engine, { config });
    const app = createApp({ engine, telemetry });
    const res = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.json();
    await telemetry.flush();
    await telemetry.shutdown();

    // OTLP protobuf carries strings as plain UTF-8: the names are visible in the bytes.
    const traces = Buffer.concat(received.get('/v1/traces') ?? []).toString('latin1');
    for (const s of ['chat tiny', 'gen_ai.usage.output_tokens', 'prefill', 'reverie-otlp-test'])
      assert.ok(traces.includes(s), `traces carry ${s}`);
    const metrics = Buffer.concat(received.get('/v1/metrics') ?? []).toString('latin1');
    for (const s of ['gen_ai.server.request.duration', 'reverie_num_requests_running'])
      assert.ok(metrics.includes(s), `metrics carry ${s}`);
  });
});
