import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNgramStore } from '../decoding/ngram-build.ts';
import { NgramStore } from '../decoding/ngram-store.ts';
import {
  parseManifestJson,
  readJsonFile,
  resolveCheckpointDir,
  sha256File,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
} from '../model/checkpoint.ts';
import { MANIFEST_FILE } from '../model/manifest.ts';
import { TextTokenizer } from '../model/tokenizer.ts';

/** The store's file name inside a checkpoint. */
export const NGRAM_FILE = 'ngram.bin';

/** What the command needs besides its arguments (tests inject a tokenizer). */
export interface NgramBuildDeps {
  /** Tokenizes one document; default: the checkpoint's tokenizer, special strings as text. */
  tokenize?: (text: string) => number[];
  /** The tokenizer's vocabulary size; required with `tokenize`. */
  vocabSize?: number;
  log?: (line: string) => void;
}

/**
 * The corpus as documents (n-grams never span two): a `.jsonl` file gives one document per
 * line's `text` field; any other file is split at blank lines (paragraphs).
 */
export function corpusDocuments(path: string, text: string): string[] {
  if (path.endsWith('.jsonl')) {
    return text
      .split('\n')
      .filter((line) => line.trim())
      .map((line, i) => {
        const doc = JSON.parse(line) as { text?: unknown };
        if (typeof doc.text !== 'string') throw new Error(`${path}:${i + 1}: expected {"text": "..."}`);
        return doc.text;
      });
  }
  return text.split(/\n\s*\n/).filter((doc) => doc.trim());
}

/**
 * `reverie ngram build --corpus FILE --checkpoint DIR`: counts n = 2..6 over the corpus in the
 * checkpoint tokenizer's ids, writes `DIR/ngram.bin` and lists it in the manifest.
 */
export async function ngramBuildCommand(args: string[], deps: NgramBuildDeps = {}): Promise<void> {
  const log = deps.log ?? console.log;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { corpus: { type: 'string' }, checkpoint: { type: 'string' } },
  });
  if (positionals[0] === 'build') positionals.shift();
  if (positionals.length > 0 || !values.corpus || !values.checkpoint) {
    throw new Error('usage: reverie ngram build --corpus FILE --checkpoint DIR');
  }
  const dir = await resolveCheckpointDir(values.checkpoint);
  const { tokenize, vocabSize } = deps.tokenize
    ? { tokenize: deps.tokenize, vocabSize: deps.vocabSize ?? Number.NaN }
    : await checkpointTokenizer(dir);
  if (!Number.isInteger(vocabSize))
    throw new Error('ngram build: vocabSize is required with a tokenize function');

  const started = performance.now();
  const docs = corpusDocuments(values.corpus, await readFile(values.corpus, 'utf8'));
  const tokens = docs.map(tokenize);
  const store = buildNgramStore(tokens, vocabSize);
  const path = join(dir, NGRAM_FILE);
  store.save(path);
  const built = performance.now();
  NgramStore.load(path); // check it reads back, and time it
  const loadMs = performance.now() - built;
  await recordNgramInManifest(dir, NGRAM_FILE);
  const count = tokens.reduce((a, t) => a + t.length, 0);
  const bytes = store.toBuffer().byteLength;
  log(
    `ngram: ${docs.length} documents, ${count} tokens → ${path} (${(bytes / 1e6).toFixed(1)} MB) ` +
      `in ${((built - started) / 1000).toFixed(1)} s; loads in ${loadMs.toFixed(0)} ms`,
  );
}

async function checkpointTokenizer(
  dir: string,
): Promise<{ tokenize: (text: string) => number[]; vocabSize: number }> {
  const tokenizer = new TextTokenizer(
    (await readJsonFile(dir, TOKENIZER_FILE)) as object,
    (await readJsonFile(dir, TOKENIZER_CONFIG_FILE)) as object,
  );
  return {
    tokenize: (text) => tokenizer.encode(text, { specialTokens: false }),
    vocabSize: tokenizer.vocabSize,
  };
}

/**
 * MANIFEST UPDATE — placeholder for the manifest helper (src/model/manifest-writer.ts) once it
 * offers "add one file": lists `fileName` with its sha256 in reverie.json's `files` and names it
 * as the `ngram` store, validating the result and writing it atomically.
 */
export async function recordNgramInManifest(dir: string, fileName: string): Promise<void> {
  const manifest = parseManifestJson(await readJsonFile(dir, MANIFEST_FILE), dir);
  manifest.files[fileName] = await sha256File(join(dir, fileName));
  manifest.ngram = fileName;
  const checked = parseManifestJson(manifest, dir);
  const tmp = join(dir, `${MANIFEST_FILE}.${randomUUID()}.tmp`);
  await writeFile(tmp, `${JSON.stringify(checked, null, 2)}\n`);
  await rename(tmp, join(dir, MANIFEST_FILE));
}
