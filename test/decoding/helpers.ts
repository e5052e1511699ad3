import type { NgramStore } from '../../src/decoding/ngram-store.ts';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import { createDecoder } from '../../src/decoding/sequence-decoder.ts';
import type { TokenConstraint } from '../../src/decoding/token-constraint.ts';
import type {
  BagInput,
  DecodeContext,
  DecodeEvent,
  DecodingTokenizer,
  StepOutput,
} from '../../src/decoding/types.ts';

/** reverie's own tokenizer layout: ids 0–255 bytes, then specials (models/README.md). */
export const EOT = 256;
export const IM_END = 258;
export const THINK = 259;
export const THINK_END = 260;
export const TOKENIZER_VOCAB = 261;
/** The model's vocab is padded past the tokenizer's: ids 261..263 must never be chosen. */
export const MODEL_VOCAB = 264;
export const HIDDEN = 8;

const SPECIALS: Record<number, string> = {
  256: '<|endoftext|>',
  257: '<|im_start|>',
  258: '<|im_end|>',
  259: '<think>',
  260: '</think>',
};

/** Byte-level tokenizer: bytes through UTF-8; specials as their strings, or '' when skipped. */
export const byteTokenizer: DecodingTokenizer = {
  decode: (ids, options) => {
    const parts: string[] = [];
    let run: number[] = [];
    const close = () => {
      parts.push(new TextDecoder().decode(Uint8Array.from(run)));
      run = [];
    };
    for (const id of ids) {
      if (id < 256) run.push(id);
      else if (!(options?.skipSpecialTokens ?? false)) {
        close();
        parts.push(SPECIALS[id] ?? '');
      }
    }
    close();
    return parts.join('');
  },
  tokenText: (id) => SPECIALS[id] ?? new TextDecoder().decode(Uint8Array.of(id)),
  addedToken: (id) => SPECIALS[id],
};

/** Ids of a string's UTF-8 bytes. */
export const bytes = (s: string): number[] => Array.from(new TextEncoder().encode(s));

export function makeContext(overrides: Partial<DecodeContext> = {}): DecodeContext {
  return {
    vocabSize: MODEL_VOCAB,
    tokenizerVocabSize: TOKENIZER_VOCAB,
    hiddenSize: HIDDEN,
    embeddingRms: 0.02,
    eosIds: [IM_END, EOT],
    thinkStartId: THINK,
    thinkEndId: THINK_END,
    name: 'test',
    modes: ['discrete', 'hard', 'soft', 'fuzzy', 'latent', 'superposed'],
    hasNgram: overrides.ngram != null,
    maxModelLen: 4096,
    defaults: {},
    tokenizer: byteTokenizer,
    ngram: null as NgramStore | null,
    ...overrides,
  };
}

/**
 * Logits with every id at −5 except the given ones; padded ids get +50 so that a decoder that
 * forgets the tokenizer-vocab limit picks them.
 */
export function logitsWith(values: Record<number, number>): Float32Array {
  const l = new Float32Array(MODEL_VOCAB).fill(-5);
  for (let id = TOKENIZER_VOCAB; id < MODEL_VOCAB; id++) l[id] = 50;
  for (const [id, v] of Object.entries(values)) l[Number(id)] = v;
  return l;
}

/** Logits that make `id` the certain choice. */
export const confident = (id: number): Float32Array => logitsWith({ [id]: 30 });

/** A step output around the given logits (hidden state: a fixed ramp). */
export function output(logits: Float32Array, hidden?: Float32Array): StepOutput {
  return { logits, hidden: hidden ?? Float32Array.from({ length: HIDDEN }, (_, i) => i / 10) };
}

/**
 * A deterministic fake model: the next logits are a fixed random linear function of the input
 * bag (and its additive vector), so equal inputs give equal outputs and soft inputs matter.
 */
export class FakeModel {
  readonly #table: Float32Array;
  readonly #addTable: Float32Array;

  constructor(seed = 1) {
    let s = seed;
    const rand = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296;
    };
    // Each row is a shuffled ladder with steps of 8 / V ≈ 0.03: no near-ties, so a fuzzy
    // (τ = 1e-4) mixture after a one-hot input is exactly one-hot.
    this.#table = new Float32Array(MODEL_VOCAB * MODEL_VOCAB);
    for (let r = 0; r < MODEL_VOCAB; r++) {
      const row = Array.from({ length: MODEL_VOCAB }, (_, i) => (8 * i) / MODEL_VOCAB - 4);
      for (let i = row.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [row[i], row[j]] = [row[j], row[i]];
      }
      this.#table.set(row, r * MODEL_VOCAB);
    }
    this.#addTable = Float32Array.from({ length: HIDDEN * MODEL_VOCAB }, () => rand() - 0.5);
  }

  /** Logits after reading `input`. */
  forward(input: BagInput): StepOutput {
    const logits = new Float32Array(MODEL_VOCAB);
    for (let j = 0; j < input.ids.length; j++) {
      const row = input.ids[j] * MODEL_VOCAB;
      for (let v = 0; v < MODEL_VOCAB; v++) logits[v] += input.weights[j] * this.#table[row + v];
    }
    if (input.add) {
      for (let h = 0; h < HIDDEN; h++) {
        for (let v = 0; v < MODEL_VOCAB; v++) logits[v] += input.add[h] * this.#addTable[h * MODEL_VOCAB + v];
      }
    }
    const hidden = Float32Array.from({ length: HIDDEN }, (_, h) => logits[h] / 10);
    return { logits, hidden };
  }
}

/** A model that replays logits in order (the last one repeats), ignoring its input. */
export function replay(steps: Float32Array[]): { first: StepOutput; model: FakeModel } {
  let i = 0;
  const next = (): StepOutput => output(steps[Math.min(i++, steps.length - 1)]);
  return { first: next(), model: { forward: next } as unknown as FakeModel };
}

/** Runs one decoder against the fake model until it finishes; returns its events and inputs. */
export function runAlone(
  params: DecodingParams,
  options: {
    model?: FakeModel;
    startsInThinking?: boolean;
    first?: StepOutput;
    ctx?: DecodeContext;
    promptIds?: number[];
    maxSteps?: number;
    constraint?: TokenConstraint;
  } = {},
): { events: DecodeEvent[]; inputs: BagInput[] } {
  const ctx = options.ctx ?? makeContext();
  const model = options.model ?? new FakeModel();
  const decoder = createDecoder(resolveDecodingParams(params, ctx), ctx, {
    startsInThinking: options.startsInThinking ?? false,
    choiceIndex: 0,
    promptIds: options.promptIds ?? bytes('Q:'),
    constraint: options.constraint ?? null,
  });
  const events: DecodeEvent[] = [];
  const inputs: BagInput[] = [];
  let out = options.first ?? model.forward({ ids: Int32Array.of(THINK), weights: Float32Array.of(1) });
  for (let step = 0; step < (options.maxSteps ?? 10_000); step++) {
    const r = decoder.next(out);
    events.push(...r.events);
    if (r.finished || !r.input) break;
    inputs.push(r.input);
    out = model.forward(r.input);
  }
  return { events, inputs };
}

/** Concatenated text of one kind of event. */
export function textOf(events: DecodeEvent[], type: 'reasoning' | 'content', choice = 0): string {
  return events
    .filter((e) => e.type === type && e.choice === choice)
    .map((e) => (e.type === type ? e.text : ''))
    .join('');
}

/** All content token ids of a choice. */
export function contentIds(events: DecodeEvent[], choice = 0): number[] {
  return events.flatMap((e) => (e.type === 'content' && e.choice === choice ? e.tokenIds : []));
}
