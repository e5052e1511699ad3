import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withVllmAliases } from '../../src/telemetry/vllm-aliases.ts';

/** The `vllm:` copies made on the exposition text. */

const TEXT = [
  '# HELP reverie_num_requests_running Requests in the running batch',
  '# TYPE reverie_num_requests_running gauge',
  'reverie_num_requests_running{otel_scope_name="reverie"} 3',
  '# HELP reverie_e2e_request_latency_seconds Request latency',
  '# TYPE reverie_e2e_request_latency_seconds histogram',
  'reverie_e2e_request_latency_seconds_count{model_name="m"} 2',
  'reverie_e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} 2',
  '# HELP reverie_kv_cache_bytes KV bytes',
  '# TYPE reverie_kv_cache_bytes gauge',
  'reverie_kv_cache_bytes 10',
  '',
].join('\n');

describe('vLLM metric names', () => {
  it('copies aliased families under the vLLM names, keeping the rest as it is', () => {
    const out = withVllmAliases(TEXT, ['m']);
    assert.ok(out.startsWith(TEXT));
    const added = out.slice(TEXT.length).trimEnd().split('\n');
    assert.deepEqual(added, [
      '# HELP vllm:num_requests_running Requests in the running batch',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{model_name="m",otel_scope_name="reverie"} 3',
      '# HELP vllm:e2e_request_latency_seconds Request latency',
      '# TYPE vllm:e2e_request_latency_seconds histogram',
      'vllm:e2e_request_latency_seconds_count{model_name="m"} 2',
      'vllm:e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} 2',
    ]);
  });

  it('engine-wide series get model_name only when one model is served', () => {
    const out = withVllmAliases(TEXT, ['a', 'b']);
    assert.match(out, /^vllm:num_requests_running\{otel_scope_name="reverie"\} 3$/m);
    assert.match(
      withVllmAliases(TEXT, ['q"1']),
      /^vllm:num_requests_running\{model_name="q\\"1",otel_scope_name="reverie"\} 3$/m,
    );
    assert.equal(withVllmAliases('# TYPE other gauge\nother 1\n', ['m']), '# TYPE other gauge\nother 1\n');
  });
});
