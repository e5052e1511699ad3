import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from '../stats.ts';

/**
 * The server's state as `GET /metrics` (Prometheus text) shows it: what the soak profile reads
 * before and after a run. A metric the server does not expose is null.
 */

export interface ServerSnapshot {
  running: number | null;
  waiting: number | null;
  /** KV cache in use / budget, 0..1. */
  kvUsage: number | null;
  rssBytes: number | null;
}

/**
 * Sums the samples of each metric name (over its label sets) in a Prometheus text exposition.
 * @example parsePrometheus('a{x="1"} 2\na{x="2"} 3\n').get('a') // 5
 */
export function parsePrometheus(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isNaN(value)) continue;
    values.set(match[1]!, (values.get(match[1]!) ?? 0) + value);
  }
  return values;
}

/** @throws Error when /metrics does not answer 200 */
export async function scrape(url: string, apiKey?: string): Promise<ServerSnapshot> {
  const res = await fetch(`${url}/metrics`, {
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
  if (!res.ok) throw new Error(`GET ${url}/metrics answered ${res.status}`);
  const values = parsePrometheus(await res.text());
  const get = (name: string) => values.get(name) ?? null;
  return {
    running: get('reverie_num_requests_running'),
    waiting: get('reverie_num_requests_waiting'),
    kvUsage: get('reverie_kv_cache_usage_perc'),
    rssBytes: get('process_resident_memory_bytes'),
  };
}

/** Nothing running or waiting, and KV usage at most `kvLimit`. */
export function isIdle(s: ServerSnapshot, kvLimit: number): boolean {
  return s.running === 0 && s.waiting === 0 && s.kvUsage !== null && s.kvUsage <= kvLimit;
}

/**
 * Scrapes every 100 ms until the server is idle (KV usage at most `kvLimit`) or `timeoutMs` has
 * passed.
 * @returns the last snapshot and how long it took
 */
export async function waitForIdle(
  url: string,
  apiKey: string | undefined,
  timeoutMs: number,
  kvLimit: number,
): Promise<{ snapshot: ServerSnapshot; waitedMs: number }> {
  const start = nowMs();
  for (;;) {
    const snapshot = await scrape(url, apiKey);
    const waitedMs = nowMs() - start;
    if (isIdle(snapshot, kvLimit) || waitedMs >= timeoutMs) return { snapshot, waitedMs };
    await sleep(100);
  }
}
