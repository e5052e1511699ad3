import { bagOf } from './bag.ts';
import { stopIds } from './discrete-answer.ts';
import { truncatedDistribution } from './distribution.ts';
import type { ResolvedDecodingParams, ResolvedSuperposition } from './params.ts';
import type { Scratch } from './scratch.ts';
import { truncateAtStop } from './stop-strings.ts';
import { bestPairs, type Draft, perplexity, superpositionWeights, tokenScores } from './superposed-step.ts';
import type { DecodeContext, DecodeEvent, DecodeResult, DraftSnapshot, StepOutput } from './types.ts';

/** Ids of context the n-gram lookups can use (orders up to 6 read 5 preceding ids). */
const NGRAM_CONTEXT = 5;

/**
 * Superposed Decoding (Shen et al. 2024): k drafts from ONE sequence and one KV row. Each step
 * feeds the drafts' last tokens as one bag weighted by the normalised draft probabilities; the
 * one resulting distribution p = softmax(logits / τ), cut to the top `candidates` and
 * renormalised, extends every draft; optional n-gram interpolation rescores per draft. The best
 * 2k (draft, token) pairs become the next k drafts unless they end in EOS; an EOS pair among the
 * best k goes to a finished pool (best k kept), one ranked k..2k−1 is dropped. On the first step
 * there is one draft, so the k drafts start with k distinct tokens.
 *
 * The decoder stops at max_tokens, when no draft is live, or once the pool holds k drafts that
 * no live draft can overtake (token scores are ≤ 0, so draft scores only fall). It then merges
 * live and finished drafts and returns the k of lowest per-token perplexity as choices
 * choice..choice + k − 1, best first. Stop strings cut the final texts.
 */
export class SuperposedAnswer {
  readonly #ctx: DecodeContext;
  readonly #params: ResolvedDecodingParams;
  readonly #sp: ResolvedSuperposition;
  readonly #choice: number;
  readonly #usage: { reasoningTokens: number; thinkingPositions: number; thinkingSteps: number };
  readonly #scratch: Scratch;
  /** Ids that end a draft: EOS (unless ignore_eos) and stop_token_ids. */
  readonly #eos: Set<number>;
  /** The last ids before the answer (prompt, thinking), for n-gram contexts. */
  readonly #prefixTail: number[];
  #live: Draft[] = [{ tokens: [], score: 0 }];
  #finished: Draft[] = [];
  #steps = 0;
  #done = false;

  constructor(options: {
    ctx: DecodeContext;
    params: ResolvedDecodingParams;
    choice: number;
    /** Everything before the answer: prompt ids, then thinking ids. */
    contextIds: ArrayLike<number>;
    /** The shared thinking phase before the drafts (reported on the first choice). */
    usage: { reasoningTokens: number; thinkingPositions: number; thinkingSteps: number };
    scratch: Scratch;
  }) {
    this.#ctx = options.ctx;
    this.#params = options.params;
    this.#sp = options.params.superposition!;
    this.#choice = options.choice;
    this.#usage = options.usage;
    this.#scratch = options.scratch;
    this.#eos = stopIds(options.ctx, options.params).stops;
    this.#prefixTail = Array.from(options.contextIds).slice(-NGRAM_CONTEXT);
  }

  next(out: StepOutput): DecodeResult {
    if (this.#done) return { input: null, events: [], finished: true };
    const k = this.#sp.drafts;
    const c = truncatedDistribution(
      out.logits,
      this.#ctx.tokenizerVocabSize,
      { temperature: this.#sp.temperature, topK: this.#sp.candidates, topP: 1, minP: 0 },
      this.#scratch,
    );
    const store = this.#sp.alpha > 0 ? (this.#ctx.ngram ?? null) : null;
    const ng = store ? new Float64Array(c.count) : null;
    const scores = this.#live.map((d) => {
      if (store && ng) store.interpolate(this.#ngramContext(d), c.ids, c.count, this.#sp.lambdas, ng);
      const s = new Float64Array(c.count);
      tokenScores(c.probs, ng, c.count, this.#sp.alpha, this.#sp.penalty, s);
      return s;
    });

    const live: Draft[] = [];
    bestPairs(this.#live, c.ids, scores, c.count, 2 * k).forEach((p, rank) => {
      const tokens = [...this.#live[p.draft].tokens, p.token];
      // EOS is admitted to the pool only from the top k ranks (as in Hugging Face beam search):
      // the extra k pairs exist to refill the live drafts, not to harvest endings the beam would
      // not have kept. Admitting EOS at ranks k..2k−1 (the reference's literal rule) breaks
      // "k = 1 with α = 0 is greedy": an EOS ranked second would enter the pool, stop the search
      // as soon as the live draft's score fell below it, and win the perplexity ranking.
      if (this.#eos.has(p.token)) {
        // min_tokens: an ending before it is reached is no candidate at all (vLLM bans it).
        if (rank < k && this.#steps >= this.#params.minTokens)
          this.#finished.push({ tokens, score: p.score });
      } else if (live.length < k) live.push({ tokens, score: p.score });
    });
    this.#finished.sort((a, b) => b.score - a.score);
    this.#finished.length = Math.min(this.#finished.length, k);
    this.#live = live;
    this.#steps++;

    const events: DecodeEvent[] = [{ type: 'drafts', choice: this.#choice, drafts: this.#snapshot() }];
    if (this.#shouldStop()) return this.#finish(events);
    const { ids, weights } = superpositionWeights(live);
    return { input: bagOf(ids, weights, ids.length), events, finished: false };
  }

  #ngramContext(d: Draft): number[] {
    return [...this.#prefixTail, ...d.tokens].slice(-NGRAM_CONTEXT);
  }

  #shouldStop(): boolean {
    // max_tokens bounds every generated position: the thinking before the drafts spent part of it.
    if (this.#steps >= this.#params.maxTokens - this.#usage.thinkingPositions || this.#live.length === 0)
      return true;
    const k = this.#sp.drafts;
    if (this.#finished.length < k) return false;
    const worstFinished = this.#finished[k - 1].score;
    return this.#live.every((d) => d.score < worstFinished);
  }

  #snapshot(): DraftSnapshot[] {
    const snap = (d: Draft, finished: boolean): DraftSnapshot => ({
      text: this.#decode(this.#contentIds(d)),
      tokenIds: this.#contentIds(d),
      score: d.score,
      finished,
    });
    return [...this.#live.map((d) => snap(d, false)), ...this.#finished.map((d) => snap(d, true))];
  }

  #decode(ids: number[]): string {
    return this.#ctx.tokenizer.decode(ids, { skipSpecialTokens: this.#params.text.skipSpecialTokens });
  }

  /** A draft's tokens without its final EOS. */
  #contentIds(d: Draft): number[] {
    const last = d.tokens[d.tokens.length - 1];
    return this.#eos.has(last) ? d.tokens.slice(0, -1) : d.tokens;
  }

  #finish(events: DecodeEvent[]): DecodeResult {
    this.#done = true;
    const ranked = [
      ...this.#finished.map((d) => ({ d, ended: true })),
      ...this.#live.map((d) => ({ d, ended: false })),
    ]
      .map((r) => ({ ...r, ppl: perplexity(r.d) }))
      .sort((a, b) => a.ppl - b.ppl)
      .slice(0, this.#sp.drafts);
    ranked.forEach(({ d, ended }, i) => {
      const choice = this.#choice + i;
      const tokenIds = this.#contentIds(d);
      const last = d.tokens[d.tokens.length - 1]!;
      const stopText = ended && this.#params.includeStopStr ? this.#decode([last]) : '';
      const cut = truncateAtStop(this.#decode(tokenIds) + stopText, this.#params.stop, {
        include: this.#params.includeStopStr,
      });
      events.push({ type: 'content', choice, text: cut.text, tokenIds });
      const shared = i === 0 ? this.#usage : { reasoningTokens: 0, thinkingPositions: 0, thinkingSteps: 0 };
      events.push({
        type: 'finish',
        choice,
        reason: ended || cut.stopped ? 'stop' : 'length',
        usage: {
          reasoningTokens: shared.reasoningTokens,
          completionTokens: shared.thinkingPositions + d.tokens.length,
          thinkingSteps: shared.thinkingSteps,
        },
      });
    });
    return { input: null, events, finished: true };
  }
}
