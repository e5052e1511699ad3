import type { DecodingDefaults } from '../decoding/model-facts.ts';
import { buildNgramStore } from '../decoding/ngram-build.ts';
import type { NgramStore } from '../decoding/ngram-store.ts';
import type { DecodingParams } from '../decoding/params.ts';
import { Rng } from '../decoding/rng.ts';
import type { DecodeContext, NgramModel } from '../decoding/types.ts';
import { LocalEngine } from '../engine/local.ts';
import type { Runner, StepPlan, StepResult } from '../model/batch.ts';
import { PRETRAINED_SOFT_THINKING } from '../model/manifest-writer.ts';
import type { ModelRunner } from '../model/runner.ts';
import { openBenchModel } from './runtime.ts';
import { median, nowMs, table } from './stats.ts';

/**
 * `npm run bench:decoding`: what the decoding modes cost on top of the model, measured in one run
 * at batch 1 and 16 on the tiny model and a random model of Qwen2.5-0.5B's shape:
 *
 * - soft thinking's time per token over discrete sampling's (the whole-vocabulary mixture of the
 *   paper, the top-30 concept token of Soft Thinking, the defaults `convert` writes for a
 *   pretrained model, and a forced whole-vocabulary mixture of every id, which the runner feeds
 *   through the graph's dense p·E input);
 * - superposed decoding (k = 3, α = 0.54 with an n-gram store) for T tokens against (a) three
 *   sequential discrete generations and (b) one n = 3 request, whose samples share the prompt's
 *   KV after one prefill;
 * - the share of superposed decode time spent in the n-gram store's interpolations, timed by a
 *   wrapper around the store (`timedNgram`).
 *
 * Every figure is a median over repetitions; the modes are interleaved within each repetition.
 * Requests run through the engine's own loop on this thread (LocalEngine: scheduler, batch
 * builder, runner, decoders), without the worker thread.
 */

export interface DecodingBenchRow {
  model: string;
  batch: number;
  /** Median ms per decode step (every row advances one token). */
  discreteStepMs: number;
  softStepMs: number;
  softTopKStepMs: number;
  /** Mean ids per soft input (whole-vocabulary mixture less 1e-6 of the mass). */
  softBagSize: number;
  softRatio: number;
  softTopKRatio: number;
  /** Mean ids per input of the wide mixture (top WIDE_BAG at τ = 100). */
  softWideBagSize: number;
  softWideRatio: number;
  /** Soft thinking with a pretrained checkpoint's defaults (PRETRAINED_SOFT_THINKING) / discrete. */
  softDefaultsRatio: number;
  softDefaultsBagSize: number;
  /** Every id of the vocabulary in each input (τ = 100, no truncation): the dense path / discrete. */
  wholeVocabRatio: number;
  wholeVocabBagSize: number;
  /** Median ms for T tokens per request, prefill included. */
  superposedMs: number;
  sequentialMs: number;
  batchedN3Ms: number;
  vsSequential: number;
  vsBatchedN3: number;
  /**
   * Median over runs of: time the superposed decoders spent in n-gram interpolation (contexts and
   * counts) / the run's decode time (every step after the prefill).
   */
  ngramShare: number;
}

const PROMPT = 15;
/** Generated tokens per request: the paper's setting (15-token prefix, 10 tokens). */
const T = 10;
/** Soft/discrete per-token comparison: steps per run. */
const STEPS = 12;
/** Ids in the wide soft-thinking mixture the bench also prices. */
const WIDE_BAG = 1000;

/** A tokenizer stand-in: the bench models have none, and text is not what is measured. */
const STUB_TOKENIZER = {
  decode: (ids: readonly number[]) => String.fromCharCode(...ids.map((id) => 97 + (id % 26))),
  tokenText: (id: number) => String.fromCharCode(97 + (id % 26)),
};

/** Seeded Zipf-like token stream over the first `spread` ids: a corpus whose n-grams repeat. */
function syntheticCorpus(length: number, spread: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length }, () => Math.floor(spread * rng.next() ** 3));
}

function benchContext(runner: ModelRunner, ngram: NgramStore): DecodeContext {
  const { vocabSize, hiddenSize } = runner.config;
  return {
    vocabSize,
    tokenizerVocabSize: vocabSize,
    hiddenSize,
    embeddingRms: 1,
    eosIds: [], // every run generates exactly its token budget
    thinkStartId: vocabSize - 2,
    thinkEndId: vocabSize - 1,
    name: 'bench',
    modes: ['discrete', 'hard', 'soft', 'fuzzy', 'superposed'],
    hasNgram: true,
    maxModelLen: runner.config.maxPositions,
    defaults: {},
    tokenizer: STUB_TOKENIZER,
    ngram,
  };
}

interface RunTiming {
  /** Whole run, prefill included. */
  totalMs: number;
  /** Each decode step: the engine loop's step (scheduler, batch, runner.step, every decoder). */
  stepMs: number[];
  /** Everything after the prefill step. */
  decodeMs: number;
  /** Mean ids per input fed (decode rows' bags). */
  bagSize: number;
}

/** A bench-only wrapper: the n-gram model, with the time its interpolations take. */
export function timedNgram(model: NgramModel): NgramModel & { ms: number } {
  const timed = {
    ms: 0,
    interpolate(...args: Parameters<NgramModel['interpolate']>): void {
      const t = nowMs();
      model.interpolate(...args);
      timed.ms += nowMs() - t;
    },
  };
  return timed;
}

/** A bench-only wrapper: the runner, counting the ids of the decode rows' bags. */
class BagCounter implements Runner {
  ids = 0;
  bags = 0;
  readonly kvBlockSize: number;
  readonly kvBytesPerPosition: number;
  readonly vocabSize: number;
  readonly hiddenSize: number;

  constructor(readonly runner: Runner) {
    ({ kvBlockSize: this.kvBlockSize, kvBytesPerPosition: this.kvBytesPerPosition } = runner);
    ({ vocabSize: this.vocabSize, hiddenSize: this.hiddenSize } = runner);
  }

  get forwardMs(): number {
    return this.runner.forwardMs;
  }

  step(plan: StepPlan): Promise<StepResult> {
    for (const row of plan.rows) {
      if (row.count !== 1) continue;
      this.ids += row.weights ? row.weights.filter((w) => w !== 0).length : row.bagSize;
      this.bags++;
    }
    return this.runner.step(plan);
  }

  kvLength(holder: number): number {
    return this.runner.kvLength(holder);
  }

  kvBytes(): number {
    return this.runner.kvBytes();
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}

let nextRequest = 0;

/**
 * Runs one request per prompt (n samples each) through the engine's loop on this thread, to
 * their end: one prefill step, then one step per token, every row in every step.
 */
async function run(
  runner: Runner,
  ctx: DecodeContext,
  prompts: Int32Array[],
  params: DecodingParams,
  opts: { startsInThinking?: boolean; defaults?: DecodingDefaults } = {},
): Promise<RunTiming> {
  const counter = new BagCounter(runner);
  const local = new LocalEngine(counter, { ...ctx, defaults: opts.defaults ?? {} });
  for (const p of prompts) {
    local.submit({
      id: `bench-${nextRequest++}`,
      model: ctx.name,
      prompt: Array.from(p),
      startsInThinking: opts.startsInThinking ?? false,
      params,
    });
  }
  const stepMs: number[] = [];
  const started = nowMs();
  await local.run((ms) => stepMs.push(ms));
  const totalMs = nowMs() - started;
  const [prefill = 0, ...decode] = stepMs;
  return {
    totalMs,
    stepMs: decode,
    decodeMs: totalMs - prefill,
    bagSize: counter.bags ? counter.ids / counter.bags : 0,
  };
}

/** The measurements of one model at one batch size. */
async function benchBatch(
  name: string,
  runner: ModelRunner,
  ctx: DecodeContext,
  corpus: Int32Array,
  batch: number,
  reps: number,
  log: (s: string) => void,
): Promise<DecodingBenchRow> {
  const prompts = Array.from({ length: batch }, (_, b) => corpus.slice(b * 97, b * 97 + PROMPT));
  const thinkingPrompts = prompts.map((p) => Int32Array.from([...p, ctx.thinkStartId!]));
  const soft = (topK?: number, temperature?: number): DecodingParams => ({
    seed: 1,
    // max_tokens counts the thinking: STEPS thoughts, </think>, one answer token.
    max_tokens: STEPS + 2,
    thinking: {
      mode: 'soft',
      max_tokens: STEPS,
      ...(topK ? { top_k: topK } : {}),
      ...(temperature ? { temperature } : {}),
    },
  });
  const discrete: DecodingParams = { seed: 1, temperature: 1, max_tokens: STEPS };
  const sample: DecodingParams = { seed: 2, temperature: 1, max_tokens: T };
  const superposed: DecodingParams = { seed: 3, max_tokens: T, superposition: { drafts: 3 } };
  const times = {
    discrete: [] as number[],
    soft: [] as number[],
    softTopK: [] as number[],
    softWide: [] as number[],
    softDefaults: [] as number[],
    wholeVocab: [] as number[],
    superposed: [] as number[],
    ngramShare: [] as number[],
    sequential: [] as number[],
    batched: [] as number[],
  };
  let softBag = 0;
  let wideBag = 0;
  let defaultsBag = 0;
  let wholeBag = 0;
  // Superposed runs time their n-gram store's interpolations (a wrapper: two clock reads a call).
  const ngramTimer = timedNgram(ctx.ngram!);
  const timedCtx: DecodeContext = { ...ctx, ngram: ngramTimer };
  await run(runner, ctx, prompts, discrete); // warm-up
  for (let rep = 0; rep < reps; rep++) {
    times.discrete.push(...(await run(runner, ctx, prompts, discrete)).stepMs);
    const s = await run(runner, ctx, thinkingPrompts, soft(), { startsInThinking: true });
    times.soft.push(...s.stepMs);
    softBag = s.bagSize;
    const k = await run(runner, ctx, thinkingPrompts, soft(30), { startsInThinking: true });
    times.softTopK.push(...k.stepMs);
    // A wide mixture, which random weights never give at τ = 0.5: 1000 ids at a flattening τ.
    const w = await run(runner, ctx, thinkingPrompts, soft(WIDE_BAG, 100), {
      startsInThinking: true,
    });
    times.softWide.push(...w.stepMs);
    wideBag = w.bagSize;
    const d = await run(runner, ctx, thinkingPrompts, soft(), {
      startsInThinking: true,
      defaults: { soft_thinking: PRETRAINED_SOFT_THINKING },
    });
    times.softDefaults.push(...d.stepMs);
    defaultsBag = d.bagSize;
    // τ = 100 flattens random logits: the bag keeps every id (all but 1e-6 of the mass).
    const v = await run(runner, ctx, thinkingPrompts, soft(undefined, 100), {
      startsInThinking: true,
    });
    times.wholeVocab.push(...v.stepMs);
    wholeBag = v.bagSize;
    ngramTimer.ms = 0;
    const sp = await run(runner, timedCtx, prompts, superposed);
    times.superposed.push(sp.totalMs);
    times.ngramShare.push(ngramTimer.ms / sp.decodeMs);
    let sequential = 0;
    for (let g = 0; g < 3; g++)
      sequential += (await run(runner, ctx, prompts, { ...sample, seed: g })).totalMs;
    times.sequential.push(sequential);
    times.batched.push((await run(runner, ctx, prompts, { ...sample, n: 3 })).totalMs);
  }
  const m = (xs: number[]) => median(xs);
  const row: DecodingBenchRow = {
    model: name,
    batch,
    discreteStepMs: m(times.discrete),
    softStepMs: m(times.soft),
    softTopKStepMs: m(times.softTopK),
    softBagSize: softBag,
    softRatio: m(times.soft) / m(times.discrete),
    softTopKRatio: m(times.softTopK) / m(times.discrete),
    softWideBagSize: wideBag,
    softWideRatio: m(times.softWide) / m(times.discrete),
    softDefaultsRatio: m(times.softDefaults) / m(times.discrete),
    softDefaultsBagSize: defaultsBag,
    wholeVocabRatio: m(times.wholeVocab) / m(times.discrete),
    wholeVocabBagSize: wholeBag,
    superposedMs: m(times.superposed),
    sequentialMs: m(times.sequential),
    batchedN3Ms: m(times.batched),
    vsSequential: m(times.sequential) / m(times.superposed),
    vsBatchedN3: m(times.batched) / m(times.superposed),
    ngramShare: m(times.ngramShare),
  };
  log(
    `  ${name} batch ${batch}: soft/discrete ${row.softRatio.toFixed(3)}, soft defaults ${row.softDefaultsRatio.toFixed(3)}, ` +
      `whole vocab ${row.wholeVocabRatio.toFixed(3)} (${row.wholeVocabBagSize.toFixed(0)} ids), superposed ${row.superposedMs.toFixed(1)} ms ` +
      `(×${row.vsSequential.toFixed(2)} vs sequential, ×${row.vsBatchedN3.toFixed(2)} vs n = 3)`,
  );
  return row;
}

export async function benchDecoding(opts: {
  models: string[];
  reps?: number;
  log: (s: string) => void;
}): Promise<DecodingBenchRow[]> {
  const rows: DecodingBenchRow[] = [];
  for (const name of opts.models) {
    const runner = await openBenchModel(name, opts.log);
    const spread = Math.min(runner.config.vocabSize - 2, 4000);
    const corpus = syntheticCorpus(400_000, spread, 7);
    const started = nowMs();
    const store = buildNgramStore([corpus], runner.config.vocabSize);
    opts.log(
      `  ${name}: n-gram store of ${corpus.length} tokens built in ${(nowMs() - started).toFixed(0)} ms`,
    );
    const ctx = benchContext(runner, store);
    for (const batch of [1, 16]) {
      rows.push(
        await benchBatch(name, runner, ctx, corpus, batch, opts.reps ?? (name === 'tiny' ? 7 : 3), opts.log),
      );
    }
    await runner.close();
  }
  return rows;
}

export function formatDecoding(rows: DecodingBenchRow[]): string {
  return table(
    [
      'model',
      'batch',
      'discrete ms/tok',
      'soft ms/tok (bag)',
      'soft/discrete',
      'soft top-30/discrete',
      'soft wide (bag)/discrete',
      'soft defaults (bag)/discrete',
      'whole vocab (bag)/discrete',
      `superposed k=3, T=${T} ms`,
      '3× sequential ms',
      'n=3 batched ms',
      'vs sequential',
      'vs n=3',
      'n-gram share',
    ],
    rows.map((r) => [
      r.model,
      r.batch,
      r.discreteStepMs.toFixed(2),
      `${r.softStepMs.toFixed(2)} (${r.softBagSize.toFixed(0)})`,
      r.softRatio.toFixed(3),
      r.softTopKRatio.toFixed(3),
      `${r.softWideRatio.toFixed(3)} (${r.softWideBagSize.toFixed(0)})`,
      `${r.softDefaultsRatio.toFixed(3)} (${r.softDefaultsBagSize.toFixed(1)})`,
      `${r.wholeVocabRatio.toFixed(3)} (${r.wholeVocabBagSize.toFixed(0)})`,
      r.superposedMs.toFixed(1),
      r.sequentialMs.toFixed(1),
      r.batchedN3Ms.toFixed(1),
      `×${r.vsSequential.toFixed(2)}`,
      `×${r.vsBatchedN3.toFixed(2)}`,
      `${(100 * r.ngramShare).toFixed(2)}%`,
    ]),
  );
}
