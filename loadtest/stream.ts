/** One streamed chat completion over SSE (xk6-sse), recording TTFT, TPOT and reasoning steps. */
import { check } from 'k6';
import sse from 'k6/x/sse';
import {
  BASE_URL,
  chatBody,
  ENDPOINTS,
  failedRequests,
  headers,
  type Mode,
  recordUsage,
  type Usage,
} from './lib.ts';

interface Chunk {
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null } }[];
  usage?: Usage | null;
  error?: unknown;
}

export function streamChat(model: string, mode: Mode): void {
  const tags = { mode };
  const start = Date.now();
  let first: number | null = null;
  let usage: Usage | undefined;
  let done = false;
  let failed = false;
  const res = sse.open(
    BASE_URL + ENDPOINTS.chat,
    { method: 'POST', body: JSON.stringify(chatBody(model, mode, true)), headers: headers(), tags },
    (client) => {
      client.on('event', (event) => {
        if (event.data === '[DONE]') {
          done = true;
          client.close();
          return;
        }
        const chunk = JSON.parse(event.data) as Chunk;
        if (chunk.error) failed = true;
        if (chunk.usage) usage = chunk.usage;
        const delta = chunk.choices?.[0]?.delta;
        if (first === null && (delta?.content || delta?.reasoning_content)) first = Date.now();
      });
      client.on('error', () => {
        failed = true;
      });
    },
  );
  const ok = check(res, {
    'status 200': (r) => r !== null && r.status === 200,
    'ended with [DONE]': () => done && !failed,
    'usage chunk': () => usage !== undefined,
  });
  if (!ok) failedRequests.add(1, tags);
  recordUsage(usage, start, first, tags);
}
