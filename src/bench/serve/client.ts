import { nowMs } from '../stats.ts';
import type { Mode } from './workload.ts';

/**
 * One streamed chat completion over SSE with `fetch`, timed as vLLM's serving benchmark does:
 * TTFT is the time to the first chunk that carries a token (answer, reasoning or draft text),
 * ITL every gap between token chunks of the same choice, E2E the time to the end of the stream.
 */

/**
 * How a request ended. `lost`: the stream closed without `[DONE]` and without an error, and the
 * client did not close it: the server dropped it.
 */
export type Outcome = 'ok' | 'error' | 'cancelled' | 'timeout' | 'lost';

export interface RequestResult {
  index: number;
  mode: Mode;
  outcome: Outcome;
  /** For failures: `HTTP 400 invalid_value`, `stream server_error`, `network ECONNREFUSED`… */
  errorType?: string;
  errorMessage?: string;
  /** When the request was sent, ms since the run started. */
  startMs: number;
  /** Time to the first token chunk, ms; null when none arrived. */
  ttftMs: number | null;
  e2eMs: number;
  /** Gaps between consecutive token chunks of one choice, ms. */
  itlMs: number[];
  promptTokens: number;
  /** From the usage chunk (all choices, reasoning included); token chunks counted without one. */
  outputTokens: number;
  reasoningTokens: number;
  /** Token chunks received. */
  tokenChunks: number;
  /** Each choice's answer and reasoning text, by choice index (only with `collectText`). */
  choices?: { content: string; reasoning: string }[];
}

/** A deliberate client-side cancel: abort after this many token chunks, or after this delay. */
export type CancelPlan = { afterChunks: number } | { afterMs: number };

export interface StreamOptions {
  url: string;
  apiKey?: string;
  index: number;
  mode: Mode;
  body: Record<string, unknown>;
  /** Origin of `startMs`. */
  runStartMs: number;
  timeoutMs: number;
  cancel?: CancelPlan;
  /** Keep the text of every choice (`reverie eval` verifies it). */
  collectText?: boolean;
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface Chunk {
  choices?: { index?: number; delta?: Record<string, unknown> }[];
  usage?: Usage | null;
  error?: { message?: string; type?: string; code?: string | null };
}

/** Whether a delta carries generated text: any non-empty string field but `role`. */
function carriesToken(delta: Record<string, unknown> | undefined): boolean {
  if (!delta) return false;
  return Object.entries(delta).some(([k, v]) => k !== 'role' && typeof v === 'string' && v.length > 0);
}

/** Appends a delta's answer and reasoning text to its choice. */
function keepText(
  choices: { content: string; reasoning: string }[],
  index: number,
  delta: Record<string, unknown> | undefined,
): void {
  while (choices.length <= index) choices.push({ content: '', reasoning: '' });
  const c = choices[index]!;
  if (typeof delta?.content === 'string') c.content += delta.content;
  if (typeof delta?.reasoning_content === 'string') c.reasoning += delta.reasoning_content;
}

/**
 * Sends one request and reads its stream to the end. Never throws: every ending is an outcome.
 * @example const r = await streamChat({ url, index: 0, mode: 'soft', body, runStartMs: nowMs(), timeoutMs: 60_000 });
 */
export async function streamChat(o: StreamOptions): Promise<RequestResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort('timeout'), o.timeoutMs);
  const cancelTimer =
    o.cancel && 'afterMs' in o.cancel ? setTimeout(() => abort.abort('cancel'), o.cancel.afterMs) : undefined;
  const sent = nowMs();
  const result: RequestResult = {
    index: o.index,
    mode: o.mode,
    outcome: 'lost',
    startMs: sent - o.runStartMs,
    ttftMs: null,
    e2eMs: 0,
    itlMs: [],
    promptTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    tokenChunks: 0,
    ...(o.collectText && { choices: [] }),
  };
  const fail = (errorType: string, errorMessage: string) => {
    result.outcome = 'error';
    result.errorType = errorType;
    result.errorMessage = errorMessage;
  };
  const lastTokenAt = new Map<number, number>();
  let usage: Usage | null = null;

  const onChunk = (chunk: Chunk) => {
    if (chunk.error) {
      fail(`stream ${chunk.error.code ?? chunk.error.type ?? 'error'}`, chunk.error.message ?? '');
      return;
    }
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      if (result.choices) keepText(result.choices, choice.index ?? 0, choice.delta);
      if (!carriesToken(choice.delta)) continue;
      const at = nowMs();
      const last = lastTokenAt.get(choice.index ?? 0);
      if (result.ttftMs === null) result.ttftMs = at - sent;
      else if (last !== undefined) result.itlMs.push(at - last);
      lastTokenAt.set(choice.index ?? 0, at);
      result.tokenChunks++;
      if (o.cancel && 'afterChunks' in o.cancel && result.tokenChunks >= o.cancel.afterChunks) {
        abort.abort('cancel');
      }
    }
  };

  try {
    const res = await fetch(`${o.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(o.apiKey && { authorization: `Bearer ${o.apiKey}` }),
      },
      body: JSON.stringify(o.body),
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      const err = await errorBody(res);
      fail(`HTTP ${res.status}${err.code ? ` ${err.code}` : ''}`, err.message);
    } else {
      const done = await readEvents(res.body, abort.signal, (data) => {
        if (result.outcome === 'error' || abort.signal.aborted) return;
        let chunk: Chunk;
        try {
          chunk = JSON.parse(data) as Chunk;
        } catch {
          fail('stream invalid JSON', data.slice(0, 200));
          return;
        }
        onChunk(chunk);
      });
      if (done && result.outcome !== 'error') result.outcome = 'ok';
    }
  } catch (err) {
    if (abort.signal.aborted && (abort.signal.reason === 'cancel' || abort.signal.reason === 'timeout')) {
      result.outcome = abort.signal.reason === 'cancel' ? 'cancelled' : 'timeout';
    } else {
      fail(networkErrorType(err), err instanceof Error ? err.message : String(err));
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(cancelTimer);
  }
  result.e2eMs = nowMs() - sent;
  if (result.outcome === 'lost') {
    result.errorType = 'lost (stream closed without [DONE])';
  }
  const u = usage as Usage | null;
  result.promptTokens = u?.prompt_tokens ?? 0;
  result.outputTokens = u?.completion_tokens ?? result.tokenChunks;
  result.reasoningTokens = u?.completion_tokens_details?.reasoning_tokens ?? 0;
  return result;
}

/**
 * Reads SSE `data:` payloads until `[DONE]` or the end of the body. Each read races the signal:
 * fetch does not always error a body that has already arrived when its request is aborted.
 * @returns whether `[DONE]` arrived
 * @throws the signal's reason once it aborts
 */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  onData: (data: string) => void,
): Promise<boolean> {
  const reader = body.getReader();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  const decoder = new TextDecoder();
  let buffered = '';
  let done = false;
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const read = await Promise.race([reader.read(), aborted]);
      if (read.done) return done;
      buffered += decoder.decode(read.value, { stream: true });
      const events = buffered.split(/\r?\n\r?\n/);
      buffered = events.pop()!;
      for (const event of events) {
        for (const line of event.split(/\r?\n/)) {
          if (!line.startsWith('data:') || done) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') done = true;
          else onData(data);
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    reader.cancel().catch(() => {});
  }
}

async function errorBody(res: Response): Promise<{ message: string; code: string | null }> {
  const text = await res.text().catch(() => '');
  try {
    const err = (JSON.parse(text) as Chunk).error;
    return { message: err?.message ?? text, code: err?.code ?? null };
  } catch {
    return { message: text.slice(0, 200), code: null };
  }
}

function networkErrorType(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  return `network ${cause?.code ?? cause?.message ?? (err instanceof Error ? err.name : 'error')}`;
}
