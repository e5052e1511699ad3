import { readFileSync } from 'node:fs';
import { deriveSeed, Rng } from '../../decoding/rng.ts';

/**
 * What `reverie bench serve` sends: a mix of decoding modes, each turned into a streamed
 * `/v1/chat/completions` body, over prompts from a small built-in set or a JSONL file.
 */

export const MODES = ['discrete', 'hard', 'soft', 'fuzzy', 'latent', 'superposed'] as const;
export type Mode = (typeof MODES)[number];

/** Modes with their relative weights, in the order given. */
export type ModeMix = readonly (readonly [Mode, number])[];

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

/** One planned request. */
export interface PlannedRequest {
  index: number;
  mode: Mode;
  body: Record<string, unknown>;
}

export interface WorkloadOptions {
  model: string;
  numPrompts: number;
  mix: ModeMix;
  maxTokens: number;
  seed: number;
  /** Thinking budget for hard/soft/fuzzy/latent; the checkpoint's default when absent. */
  thinkingMaxTokens?: number;
  /** Fields merged into every body, last (vLLM's `--extra-body`). */
  extraBody?: Record<string, unknown>;
  prompts?: readonly ChatMessage[][];
  /** Every request its own prompt ({@link distinctPrompts}); `prompts` is then ignored. */
  distinctPrompts?: boolean;
}

/** Short reasoning-style questions, like the k6 scripts'. */
export const BUILTIN_PROMPTS: readonly string[] = [
  'Edges: A>B B>C D>E. Root A. Reachable: C or E?',
  'Compute 3549+5164.',
  'Is 91 prime? Answer yes or no.',
  'Sort: 7 3 9 1.',
  'What is 17 times 23?',
  'Edges: x>y y>z z>w. Root x. Is w reachable?',
  'Which is larger, 0.7 or 0.65?',
  'Reverse the word "stream".',
];

/**
 * Parses `discrete=2,soft=1,superposed=1` into a mix.
 * @throws Error naming the bad entry
 */
export function parseMix(text: string): ModeMix {
  const mix: [Mode, number][] = [];
  for (const entry of text.split(',').map((s) => s.trim())) {
    const match = /^([a-z]+)=(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) throw new Error(`mix entry "${entry}" is not MODE=WEIGHT (e.g. discrete=2)`);
    const mode = match[1] as Mode;
    if (!MODES.includes(mode)) throw new Error(`unknown mode "${match[1]}" (modes: ${MODES.join(', ')})`);
    if (mix.some(([m]) => m === mode)) throw new Error(`mode "${mode}" appears twice in the mix`);
    mix.push([mode, Number(match[2])]);
  }
  if (!mix.some(([, w]) => w > 0)) throw new Error('the mix needs at least one mode with a weight above 0');
  return mix;
}

/**
 * The mode of each of `count` requests: smooth weighted round-robin, so every prefix of the
 * sequence follows the weights as closely as integers allow (2:1:1 over 12 gives 6, 3, 3).
 */
export function modeSequence(mix: ModeMix, count: number): Mode[] {
  const live = mix.filter(([, w]) => w > 0);
  const total = live.reduce((s, [, w]) => s + w, 0);
  const credit = live.map(() => 0);
  const out: Mode[] = [];
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let j = 0; j < live.length; j++) {
      credit[j]! += live[j]![1];
      if (credit[j]! > credit[best]!) best = j;
    }
    credit[best]! -= total;
    out.push(live[best]![0]);
  }
  return out;
}

/**
 * Reads prompts from JSONL: each line a string (one user turn), `{"prompt": "..."}` or
 * `{"messages": [{role, content}, ...]}`. Blank lines are skipped.
 * @throws Error naming the file and line
 */
export function loadPrompts(file: string): ChatMessage[][] {
  const prompts: ChatMessage[][] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${file}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new Error(`${where}: not JSON`);
      }
      prompts.push(promptMessages(value, where));
    });
  if (prompts.length === 0) throw new Error(`${file}: no prompts`);
  return prompts;
}

function promptMessages(value: unknown, where: string): ChatMessage[] {
  if (typeof value === 'string') return [{ role: 'user', content: value }];
  const v = value as { prompt?: unknown; messages?: unknown } | null;
  if (typeof v?.prompt === 'string') return [{ role: 'user', content: v.prompt }];
  if (Array.isArray(v?.messages) && v.messages.length > 0) {
    const ok = v.messages.every(
      (m: { role?: unknown; content?: unknown }) =>
        typeof m?.content === 'string' &&
        ['system', 'developer', 'user', 'assistant'].includes(String(m.role)),
    );
    if (ok) return v.messages as ChatMessage[];
  }
  throw new Error(`${where}: expected a string, {"prompt": "..."} or {"messages": [{role, content}]}`);
}

/** The reverie-specific part of the body for one mode. */
export function modeFields(mode: Mode, seed: number, thinkingMaxTokens?: number): Record<string, unknown> {
  switch (mode) {
    case 'discrete':
      return { temperature: 0.8, seed, thinking: { mode: 'off' } };
    case 'superposed':
      return { superposition: { drafts: 3 }, thinking: { mode: 'off' } };
    default:
      return {
        thinking: { mode, ...(thinkingMaxTokens !== undefined && { max_tokens: thinkingMaxTokens }) },
      };
  }
}

/**
 * `count` different prompts of the built-in kinds with random operands (arithmetic, primes,
 * sorting, comparisons, reachability), reproducible from the seed: a run whose prompts never
 * repeat, so every one adds prefix-cache entries.
 */
export function distinctPrompts(count: number, seed: number): ChatMessage[][] {
  const rng = new Rng(deriveSeed(seed, 0xd1));
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const kinds = [
    () => `Compute ${int(1000, 9999)}+${int(1000, 9999)}.`,
    () => `What is ${int(10, 99)} times ${int(10, 99)}?`,
    () => `Is ${int(10, 9999)} prime? Answer yes or no.`,
    () => `Sort: ${Array.from({ length: int(4, 7) }, () => int(0, 99)).join(' ')}.`,
    () => `Which is larger, 0.${int(1, 999)} or 0.${int(1, 999)}?`,
    () => {
      const [a, b, c, d, e] = Array.from({ length: 5 }, () => letters[int(0, 25)]);
      return `Edges: ${a}>${b} ${b}>${c} ${d}>${e}. Root ${a}. Reachable: ${c} or ${e}?`;
    },
  ];
  const seen = new Set<string>();
  const out: ChatMessage[][] = [];
  while (out.length < count) {
    const text = kinds[out.length % kinds.length]!();
    if (seen.has(text)) continue;
    seen.add(text);
    out.push([{ role: 'user', content: text }]);
  }
  return out;
}

/** Every request of a run, reproducible from the seed. */
export function planRequests(options: WorkloadOptions): PlannedRequest[] {
  const distinct = options.distinctPrompts ? distinctPrompts(options.numPrompts, options.seed) : null;
  const prompts = options.prompts ?? BUILTIN_PROMPTS.map((p) => [{ role: 'user' as const, content: p }]);
  const rng = new Rng(deriveSeed(options.seed, 0x70));
  return modeSequence(options.mix, options.numPrompts).map((mode, index) => ({
    index,
    mode,
    body: {
      model: options.model,
      messages: distinct?.[index] ?? prompts[Math.floor(rng.next() * prompts.length)],
      max_tokens: options.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
      ...modeFields(mode, deriveSeed(options.seed, index), options.thinkingMaxTokens),
      ...options.extraBody,
    },
  }));
}
