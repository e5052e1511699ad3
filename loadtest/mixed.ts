/**
 * A mix of request kinds on one server at once, streamed over SSE (xk6-sse): discrete decoding,
 * soft thinking and superposed decoding (3 drafts), each its own scenario at a constant arrival
 * rate (RATE_DISCRETE / RATE_SOFT / RATE_SUPERPOSED per second, defaults 2 / 1 / 1). Every metric
 * is tagged with `mode`, and per-mode TTFT thresholds make k6 print each mode's figures.
 *   ./k6 run -e BASE_URL=http://127.0.0.1:8000 loadtest/mixed.ts   # k6 built with xk6-sse
 */
import type { Options } from 'k6/options';
import { DURATION, type Mode, resolveModel, thresholds } from './lib.ts';
import { streamChat } from './stream.ts';

function scenario(mode: Mode, rate: number) {
  return {
    executor: 'constant-arrival-rate' as const,
    rate,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: Math.max(2, rate * 4),
    maxVUs: Math.max(8, rate * 16),
    exec: mode,
    tags: { mode },
  };
}

const MODES: Mode[] = ['discrete', 'soft', 'superposed'];
const perMode: Record<string, string[]> = {};
for (const mode of MODES) {
  perMode[`reverie_ttft{mode:${mode}}`] = [];
  perMode[`reverie_tpot{mode:${mode}}`] = [];
  perMode[`reverie_reasoning_steps{mode:${mode}}`] = [];
}

export const options: Options = {
  scenarios: {
    discrete: scenario('discrete', Number(__ENV.RATE_DISCRETE || 2)),
    soft: scenario('soft', Number(__ENV.RATE_SOFT || 1)),
    superposed: scenario('superposed', Number(__ENV.RATE_SUPERPOSED || 1)),
  },
  thresholds: { ...thresholds(true), ...perMode },
};

export function setup(): { model: string } {
  return { model: resolveModel() };
}

export function discrete(data: { model: string }): void {
  streamChat(data.model, 'discrete');
}

export function soft(data: { model: string }): void {
  streamChat(data.model, 'soft');
}

export function superposed(data: { model: string }): void {
  streamChat(data.model, 'superposed');
}
