import type { CompiledGrammar, GrammarCompiler, TokenizerInfo } from '@mlc-ai/web-xgrammar';
import { buildGrammar } from './build-grammar.ts';
import { GrammarConstraint } from './grammar-constraint.ts';
import { type StructuredOutput, StructuredOutputError, structuredOutputKey } from './spec.ts';
import type { GrammarVocabulary } from './vocabulary.ts';
import { XgrammarRuntime } from './xgrammar-runtime.ts';

/**
 * Compiles a request's constraint against one model's vocabulary and hands out one matcher per
 * choice. One per model, in the engine worker (compiled grammars are wasm objects: they cannot
 * cross threads). Compiling is the costly part — XGrammar precomputes a token mask per grammar
 * state over the whole vocabulary (about 250 ms for a JSON schema and Qwen's 151k tokens) — so
 * each distinct constraint is compiled once and kept in a small LRU; matchers are cheap.
 *
 * The wasm calls are synchronous underneath: a compile blocks the worker (and the other rows'
 * steps) for its duration, once per new constraint. Everything else about a constrained row is
 * per-token mask work on the CPU (grammar-constraint.ts).
 *
 * @example
 * const compiler = new StructuredOutputCompiler(() => grammarVocabulary(json, tokenizer, V, eos));
 * const [constraint] = await compiler.constraints({ type: 'regex', pattern: '[0-9]+' }, 1);
 */

interface Generation {
  runtime: XgrammarRuntime;
  info: TokenizerInfo;
  compiler: GrammarCompiler;
  cache: Map<string, Promise<CompiledGrammar>>;
}

export interface StructuredOutputCompilerOptions {
  /** Distinct constraints kept compiled (default 64). */
  cacheSize?: number;
}

export class StructuredOutputCompiler {
  readonly #vocabulary: () => GrammarVocabulary;
  readonly #cacheSize: number;
  #vocab: GrammarVocabulary | null = null;
  #generation: Promise<Generation> | null = null;

  /** @param vocabulary built on first use (it walks the whole vocabulary once) */
  constructor(vocabulary: () => GrammarVocabulary, options: StructuredOutputCompilerOptions = {}) {
    this.#vocabulary = vocabulary;
    this.#cacheSize = options.cacheSize ?? 64;
  }

  /** The logits' length the bitmasks cover. */
  get vocabSize(): number {
    this.#vocab ??= this.#vocabulary();
    return this.#vocab.vocabSize;
  }

  /**
   * Compiles `spec` (or takes it from the cache) and returns `n` fresh constraints, one per choice.
   * @param stopTokenIds the ids that end this request's answer (EOS unless ignore_eos, plus its
   *   stop_token_ids): the grammar allows them where its text may end; default the vocabulary's
   * @throws StructuredOutputError when XGrammar refuses the constraint (its message says why)
   */
  async constraints(
    spec: StructuredOutput,
    n: number,
    stopTokenIds?: readonly number[],
  ): Promise<GrammarConstraint[]> {
    const gen = await this.#current();
    const compiled = await this.#compiled(gen, spec);
    // XGrammar wants at least one stop token. With none (ignore_eos without stop_token_ids) the
    // matcher gets an id no grammar allows as its stop, and the constraint hides it: a complete
    // output then allows nothing, which ends the answer.
    const sentinel = stopTokenIds?.length === 0 ? this.#sentinel() : null;
    const stops = sentinel === null ? stopTokenIds && [...stopTokenIds] : [sentinel];
    const out: GrammarConstraint[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const matcher = await gen.runtime.run(() =>
          gen.runtime.xg.GrammarMatcher.createGrammarMatcher(compiled, stops),
        );
        out.push(new GrammarConstraint(matcher, this.vocabSize, sentinel));
      }
    } catch (err) {
      for (const c of out) c.dispose();
      throw err;
    }
    return out;
  }

  /** An id no grammar produces: a blank piece (a special token), else the first padding id. */
  #sentinel(): number {
    this.#vocab ??= this.#vocabulary();
    const { encodedVocab, vocabSize } = this.#vocab;
    const blank = encodedVocab.indexOf('');
    if (blank >= 0) return blank;
    if (encodedVocab.length < vocabSize) return encodedVocab.length;
    throw new StructuredOutputError(
      'ignore_eos with a structured output needs stop_token_ids for this model',
    );
  }

  /** The live instance with its tokenizer info; a new one after an abort poisoned the last. */
  async #current(): Promise<Generation> {
    if (this.#generation) {
      const gen = await this.#generation;
      if (!gen.runtime.poisoned) return gen;
      for (const entry of gen.cache.values()) void entry.then((g) => g.dispose()).catch(() => {});
      this.#generation = null;
    }
    this.#generation ??= (async () => {
      const runtime = await XgrammarRuntime.create();
      const v = (this.#vocab ??= this.#vocabulary());
      const info = await tokenizerInfo(runtime, v);
      // XGrammar's own cache is unbounded here (no size limit in the web build): ours is an LRU.
      const compiler = await runtime.run(() => runtime.xg.GrammarCompiler.createGrammarCompiler(info, false));
      return { runtime, info, compiler, cache: new Map() };
    })();
    return this.#generation;
  }

  #compiled(gen: Generation, spec: StructuredOutput): Promise<CompiledGrammar> {
    const key = structuredOutputKey(spec);
    const hit = gen.cache.get(key);
    if (hit) {
      gen.cache.delete(key);
      gen.cache.set(key, hit);
      return hit;
    }
    const compiling = gen.runtime
      .run(async () => {
        const grammar = await buildGrammar(gen.runtime.xg, spec);
        try {
          return await gen.compiler.compileGrammar(grammar);
        } finally {
          grammar.dispose();
        }
      })
      .catch((err: unknown) => {
        gen.cache.delete(key);
        // An abort (XgrammarError) or the library's own argument checks: either way the request's fault.
        throw new StructuredOutputError(
          `invalid ${spec.type}: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    gen.cache.set(key, compiling);
    while (gen.cache.size > this.#cacheSize) {
      const [oldest, entry] = gen.cache.entries().next().value!;
      gen.cache.delete(oldest);
      // Matchers made from it keep their own reference to the compiled grammar.
      void entry.then((g) => g.dispose()).catch(() => {});
    }
    return compiling;
  }
}

/** XGrammar's TokenizerInfo for a vocabulary (walks every piece: ~0.2 s for 151k ids). */
export function tokenizerInfo(runtime: XgrammarRuntime, v: GrammarVocabulary): Promise<TokenizerInfo> {
  return runtime.run(() =>
    runtime.xg.TokenizerInfo.createTokenizerInfo(
      v.encodedVocab,
      v.vocabType,
      v.prependSpace,
      v.vocabSize,
      v.stopTokenIds,
    ),
  );
}
