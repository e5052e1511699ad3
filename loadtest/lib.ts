/**
 * Shared settings, request bodies and metrics of the k6 scripts. Environment (k6 `-e` or env):
 * BASE_URL (default http://127.0.0.1:8000), MODEL (default: the first of /v1/models), API_KEY,
 * MAX_TOKENS (default 64, thinking included), THINK_TOKENS (default 32), TTFT_P95_MS (default 2000), VUS, DURATION.
 */
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
export const WS_URL = BASE_URL.replace(/^http/, 'ws') + '/v1/stream';
export const MAX_TOKENS = Number(__ENV.MAX_TOKENS || 64);
export const THINK_TOKENS = Number(__ENV.THINK_TOKENS || 32);
const TTFT_P95_MS = Number(__ENV.TTFT_P95_MS || 2000);
export const VUS = Number(__ENV.VUS || 4);
export const DURATION = __ENV.DURATION || '1m';

/** Every endpoint these scripts hit (test/deploy checks they exist in the API). */
export const ENDPOINTS = {
  health: '/health',
  models: '/v1/models',
  chat: '/v1/chat/completions',
  stream: '/v1/stream',
} as const;

/** Time to first token (reasoning or answer), ms. */
export const ttft = new Trend('reverie_ttft', true);
/** Time per output token after the first: (latency − TTFT) / (tokens − 1), ms. */
export const tpot = new Trend('reverie_tpot', true);
/** Reasoning steps (reasoning_tokens) per request. */
export const reasoningSteps = new Trend('reverie_reasoning_steps');
export const completionTokens = new Counter('reverie_completion_tokens');
export const failedRequests = new Counter('reverie_failed_requests');

/** Thresholds every script shares: nothing fails; streaming scripts add p95 TTFT < TTFT_P95_MS. */
export function thresholds(streaming: boolean): Record<string, string[]> {
  const t: Record<string, string[]> = {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    reverie_failed_requests: ['count==0'],
  };
  if (streaming) t.reverie_ttft = [`p(95)<${TTFT_P95_MS}`];
  return t;
}

export function headers(): Record<string, string> {
  const h: Record<string, string> = { 'Content-Type': 'application/json' };
  if (__ENV.API_KEY) h.Authorization = `Bearer ${__ENV.API_KEY}`;
  return h;
}

/** Waits for /health and picks the model; call from `setup()`. */
export function resolveModel(): string {
  for (let i = 0; i < 60; i++) {
    if (http.get(BASE_URL + ENDPOINTS.health).status === 200) break;
  }
  if (__ENV.MODEL) return __ENV.MODEL;
  const res = http.get(BASE_URL + ENDPOINTS.models, { headers: headers() });
  const body = res.json() as { data?: { id: string }[] } | null;
  const id = body?.data?.[0]?.id;
  if (!id) throw new Error(`no model from ${ENDPOINTS.models}: ${res.status}`);
  return id;
}

export type Mode = 'discrete' | 'soft' | 'superposed';

const PROMPTS = [
  'Edges: a>b b>c d>e. Root a. Reachable: c or e?',
  'Compute 3549+5164.',
  'Is 91 prime? Answer yes or no.',
  'Sort: 7 3 9 1.',
];

/** A chat completion body for one of the three request kinds. */
export function chatBody(model: string, mode: Mode, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: [{ role: 'user', content: PROMPTS[Math.floor(Math.random() * PROMPTS.length)] }],
    max_tokens: MAX_TOKENS,
    temperature: 0,
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (mode === 'discrete') body.thinking = { mode: 'off' };
  if (mode === 'soft') body.thinking = { mode: 'soft', max_tokens: THINK_TOKENS };
  if (mode === 'superposed') {
    body.thinking = { mode: 'off' };
    body.superposition = { drafts: 3 };
  }
  return body;
}

export interface Usage {
  completion_tokens: number;
  completion_tokens_details?: { reasoning_tokens?: number };
}

/** Records TPOT, reasoning steps and tokens of one finished request. */
export function recordUsage(usage: Usage | undefined, startMs: number, firstMs: number | null, tags: object) {
  if (!usage) return;
  const t = tags as Record<string, string>;
  const tokens = usage.completion_tokens;
  completionTokens.add(tokens, t);
  reasoningSteps.add(usage.completion_tokens_details?.reasoning_tokens ?? 0, t);
  if (firstMs !== null) {
    ttft.add(firstMs - startMs, t);
    if (tokens > 1) tpot.add((Date.now() - firstMs) / (tokens - 1), t);
  }
}
