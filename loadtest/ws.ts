/**
 * The WebSocket stream (/v1/stream, k6/websockets): each iteration opens one socket, multiplexes
 * WS_REQUESTS (default 3, at most the server's 8 per connection) chat requests by id — discrete,
 * soft thinking and superposed in turn — and closes it when all have completed.
 *   k6 run -e BASE_URL=http://127.0.0.1:8000 loadtest/ws.ts
 */
import { check } from 'k6';
import type { Options } from 'k6/options';
import { type MessageEvent, WebSocket } from 'k6/websockets';
import {
  chatBody,
  DURATION,
  failedRequests,
  headers,
  type Mode,
  recordUsage,
  resolveModel,
  thresholds,
  type Usage,
  VUS,
  WS_URL,
} from './lib.ts';

export const options: Options = {
  scenarios: { ws: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: thresholds(true),
};

const WS_REQUESTS = Math.min(8, Number(__ENV.WS_REQUESTS || 3));
const MODES: Mode[] = ['discrete', 'soft', 'superposed'];

interface ServerMessage {
  type: string;
  id: string | null;
  usage?: Usage;
  error?: { code?: string };
}

interface Live {
  mode: Mode;
  start: number;
  first: number | null;
}

export function setup(): { model: string } {
  return { model: resolveModel() };
}

export default function (data: { model: string }): void {
  const ws = new WebSocket(WS_URL, null, { headers: headers() });
  const live = new Map<string, Live>();
  let completed = 0;
  let errors = 0;
  const finish = () => {
    if (live.size > 0) return;
    check(null, {
      'every ws request completed': () => completed === WS_REQUESTS && errors === 0,
    });
    ws.close();
  };
  ws.addEventListener('open', () => {
    for (let i = 0; i < WS_REQUESTS; i++) {
      const mode = MODES[i % MODES.length];
      const id = `r${i}`;
      live.set(id, { mode, start: Date.now(), first: null });
      ws.send(JSON.stringify({ type: 'response.create', id, request: chatBody(data.model, mode, false) }));
    }
  });
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse((e as MessageEvent).data as string) as ServerMessage;
    const req = msg.id === null ? undefined : live.get(msg.id);
    if (!req) {
      if (msg.type === 'error') errors++;
      return;
    }
    const tags = { mode: req.mode };
    switch (msg.type) {
      case 'response.reasoning.delta':
      case 'response.output_text.delta':
        if (req.first === null) req.first = Date.now();
        return;
      case 'response.completed':
        completed++;
        recordUsage(msg.usage, req.start, req.first, tags);
        break;
      case 'response.cancelled':
      case 'error':
        errors++;
        failedRequests.add(1, tags);
        break;
      default:
        return;
    }
    live.delete(msg.id!);
    finish();
  });
  ws.addEventListener('error', () => {
    errors++;
    failedRequests.add(1);
    ws.close();
  });
}
