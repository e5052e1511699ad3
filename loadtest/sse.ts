/**
 * Streamed chat completions over SSE, read with xk6-sse (as llama.cpp's k6 bench does): TTFT at
 * the first chunk with content or reasoning, TPOT from the final usage chunk. MODE picks the
 * request kind: discrete (default), soft or superposed.
 *   ./k6 run -e BASE_URL=http://127.0.0.1:8000 -e MODE=soft loadtest/sse.ts   # k6 built with xk6-sse
 */
import type { Options } from 'k6/options';
import { DURATION, type Mode, resolveModel, thresholds, VUS } from './lib.ts';
import { streamChat } from './stream.ts';

export const options: Options = {
  scenarios: { sse: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: thresholds(true),
};

const MODE = (__ENV.MODE || 'discrete') as Mode;

export function setup(): { model: string } {
  return { model: resolveModel() };
}

export default function (data: { model: string }): void {
  streamChat(data.model, MODE);
}
