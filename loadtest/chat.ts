/**
 * Non-streamed chat completions: constant VUs, discrete decoding. Without a stream there is no
 * first token to time, so this script records end-to-end latency (k6's http_req_duration) and
 * time per output token = latency / completion tokens.
 *   k6 run -e BASE_URL=http://127.0.0.1:8000 loadtest/chat.ts
 */
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import {
  BASE_URL,
  chatBody,
  completionTokens,
  DURATION,
  ENDPOINTS,
  failedRequests,
  headers,
  reasoningSteps,
  resolveModel,
  thresholds,
  tpot,
  type Usage,
  VUS,
} from './lib.ts';

export const options: Options = {
  scenarios: { chat: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: thresholds(false),
};

export function setup(): { model: string } {
  return { model: resolveModel() };
}

export default function (data: { model: string }): void {
  const res = http.post(BASE_URL + ENDPOINTS.chat, JSON.stringify(chatBody(data.model, 'discrete', false)), {
    headers: headers(),
    tags: { mode: 'discrete' },
  });
  const usage = (res.json() as { usage?: Usage } | null)?.usage;
  const ok = check(res, {
    'status 200': (r) => r.status === 200,
    'has usage': () => usage !== undefined,
  });
  if (!ok || !usage) {
    failedRequests.add(1);
    return;
  }
  completionTokens.add(usage.completion_tokens);
  reasoningSteps.add(usage.completion_tokens_details?.reasoning_tokens ?? 0);
  if (usage.completion_tokens > 0) tpot.add(res.timings.duration / usage.completion_tokens);
}
