import { after, before } from 'node:test';
import type { DecodingParams } from '../../src/decoding/params.ts';
import { resolveDecodingParams } from '../../src/decoding/resolve-params.ts';
import { createDecoder } from '../../src/decoding/sequence-decoder.ts';
import type { BagInput, DecodeContext, DecodeEvent, SequenceDecoder } from '../../src/decoding/types.ts';
import { decodeContext } from '../../src/engine/decode-context.ts';
import { type RowStep, rowHidden, rowLogits } from '../../src/model/batch.ts';
import { type OpenModel, openModel } from '../../src/model/open-model.ts';
import { sharedCheckpoint } from '../helpers/shared-checkpoint.ts';

/**
 * Drives real decoders with the REAL tiny test model (random weights, byte tokenizer), step by
 * step through `ModelRunner.step`, the way the engine's executor does, but without the scheduler:
 * every live row is in every step.
 */

/** The tiny checkpoint's specials (byte tokenizer): ids 0–255 bytes, then these. */
export const EOT = 256;
export const IM_END = 258;
export const THINK = 259;
export const THINK_END = 260;

export interface TinyCheckpoint {
  model: OpenModel;
  ctx: DecodeContext;
  close(): Promise<void>;
}

/** Opens a tiny checkpoint (latent allowed; shared, see shared-checkpoint.ts) on one CPU thread. */
export async function openTinyCheckpoint(seed = 1, tieEmbeddings = false): Promise<TinyCheckpoint> {
  const dir = await sharedCheckpoint({ latent: true, seed, tieEmbeddings });
  const model = await openModel(dir, { threads: 1 });
  const ctx = decodeContext(model.checkpoint, model.tokenizer, model.graph.embeddingRms, {
    loadNgram: true,
    maxModelLen: model.checkpoint.config.maxPositions,
  });
  return {
    model,
    ctx,
    close: () => model.runner.close(),
  };
}

/**
 * Opens a tiny checkpoint before the enclosing suite and closes it after. The returned object is
 * filled in by the suite's `before` hook, so tests can use it directly.
 */
export function useTinyCheckpoint(): TinyCheckpoint {
  const holder = {} as TinyCheckpoint;
  before(async () => {
    Object.assign(holder, await openTinyCheckpoint());
  });
  after(async () => {
    await holder.close?.();
  });
  return holder;
}

/** One request row: its parameters, prompt and choice index. */
export interface ModelRow {
  params: DecodingParams;
  prompt: number[];
  startsInThinking: boolean;
  choiceIndex?: number;
}

/** What a row produced: its events, every input its decoder returned, and the logits it saw. */
export interface RowRun {
  events: DecodeEvent[];
  inputs: BagInput[];
  /** Copies of the logits handed to each `next` call, in order. */
  logits: Float32Array[];
}

let nextSeq = 1_000;

/** A decoder's input as a one-position row (padded to one id of weight 0 for an empty latent bag). */
export function bagRow(seq: number, input: BagInput): RowStep {
  const bagSize = Math.max(1, input.ids.length);
  const ids = new Int32Array(bagSize);
  const weights = new Float32Array(bagSize);
  ids.set(input.ids);
  weights.set(input.weights);
  return { seq, count: 1, bagSize, ids, weights, add: input.add };
}

/**
 * Runs the rows together: one `runner.step` prefills every prompt, then one `runner.step` per
 * step carries every live row's input, until all have finished.
 */
export async function runRows(
  t: TinyCheckpoint,
  rows: ModelRow[],
  ctx: DecodeContext = t.ctx,
  maxSteps = 2_000,
): Promise<RowRun[]> {
  const { runner } = t.model;
  const seqs = rows.map(() => nextSeq++);
  const decoders: SequenceDecoder[] = rows.map((r) =>
    createDecoder(resolveDecodingParams(r.params, ctx), ctx, {
      startsInThinking: r.startsInThinking,
      choiceIndex: r.choiceIndex ?? 0,
      promptIds: r.prompt,
    }),
  );
  const runs: RowRun[] = rows.map(() => ({ events: [], inputs: [], logits: [] }));
  let step: RowStep[] = rows.map((r, i) => ({
    seq: seqs[i],
    count: r.prompt.length,
    bagSize: 1,
    ids: Int32Array.from(r.prompt),
  }));
  let live = rows.map((_, i) => i);
  try {
    for (let n = 0; live.length > 0; n++) {
      if (n > maxSteps) throw new Error(`rows still running after ${maxSteps} steps`);
      const result = await runner.step({ rows: step });
      const next: RowStep[] = [];
      const stillLive: number[] = [];
      live.forEach((row, b) => {
        const out = {
          logits: rowLogits(result, result.offsets[b]),
          hidden: rowHidden(result, result.offsets[b]),
        };
        runs[row].logits.push(out.logits.slice());
        const r = decoders[row].next(out);
        runs[row].events.push(...r.events);
        if (r.finished || !r.input) return;
        runs[row].inputs.push(r.input);
        next.push(bagRow(seqs[row], r.input));
        stillLive.push(row);
      });
      step = next;
      live = stillLive;
    }
  } finally {
    await runner.step({ frees: seqs, rows: [] });
  }
  return runs;
}

/** Runs one row by itself. */
export async function runAlone(t: TinyCheckpoint, row: ModelRow, ctx?: DecodeContext): Promise<RowRun> {
  return (await runRows(t, [row], ctx))[0];
}

/** Byte ids of a string (the tiny checkpoint's tokenizer is byte-level). */
export const bytes = (s: string): number[] => Array.from(new TextEncoder().encode(s));

/** A prompt that opens the thinking block. */
export const thinkingPrompt = (s: string): number[] => [...bytes(s), THINK];

/** The shadow ids of a traced thinking phase, in order. */
export function shadowIds(events: DecodeEvent[], choice = 0): number[] {
  return events.flatMap((e) =>
    e.type === 'reasoning' && e.choice === choice && e.trace ? [e.trace.shadowId] : [],
  );
}

/** All content token ids of a choice. */
export function contentIds(events: DecodeEvent[], choice = 0): number[] {
  return events.flatMap((e) => (e.type === 'content' && e.choice === choice ? e.tokenIds : []));
}

/** Concatenated content text of a choice. */
export function contentText(events: DecodeEvent[], choice = 0): string {
  return events.map((e) => (e.type === 'content' && e.choice === choice ? e.text : '')).join('');
}

/** The finish event of a choice. */
export function finishOf(events: DecodeEvent[], choice = 0): Extract<DecodeEvent, { type: 'finish' }> {
  const f = events.find((e) => e.type === 'finish' && e.choice === choice);
  if (f?.type !== 'finish') throw new Error(`choice ${choice} did not finish`);
  return f;
}
