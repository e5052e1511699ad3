import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { corpusDocuments, ngramBuildCommand } from '../../src/cli/ngram.ts';
import { buildNgramStore } from '../../src/decoding/ngram-build.ts';
import { NgramStore } from '../../src/decoding/ngram-store.ts';
import { decodeContext } from '../../src/engine/decode-context.ts';
import { writeByteTokenizerFiles } from '../../src/model/byte-tokenizer.ts';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { writeRandomModel, writeTestCheckpoint } from '../../src/model/test-model.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

const REPO = join(import.meta.dirname, '..', '..');

describe('reverie ngram build', () => {
  const root = mkdtempSync(join(tmpdir(), 'ngram-cli-'));
  after(() => rmSync(root, { recursive: true }));

  it('counts the corpus in the checkpoint tokenizer ids, saves ngram.bin and lists it in the manifest', async () => {
    const dir = join(root, 'model');
    writeRandomModel(dir);
    await writeByteTokenizerFiles(dir);
    await writeManifest(dir);
    const corpus = join(root, 'corpus.txt');
    writeFileSync(corpus, 'abab abc\n\nabx\n');
    const lines: string[] = [];
    await ngramBuildCommand(['build', '--corpus', corpus, '--checkpoint', dir], {
      log: (l) => lines.push(l),
    });

    const checkpoint = await loadCheckpoint(dir); // verifies every listed sha256
    assert.equal(checkpoint.manifest.ngram, 'ngram.bin');
    assert.ok(checkpoint.manifest.files['ngram.bin']);
    const store = NgramStore.load(join(dir, 'ngram.bin'));
    const [a, b] = [97, 98]; // byte-level ids: a, b; c = 99, newline = 10
    assert.equal(store.countOf([a, b]), 4, 'ab ×3 in the first paragraph, ×1 in the second');
    assert.equal(store.countOf([99, a]), 0, '"c" ends one document and "a" starts the next: no n-gram');
    assert.equal(store.countOf([99, 10]), 0, 'the blank line separates, it is not text');
    assert.equal(store.vocabSize, 261);
    assert.match(lines[0], /2 documents/);
  });

  it('runs as `reverie ngram build` on a test checkpoint that then loads with its store', async () => {
    const dir = join(root, 'cli-model');
    await writeTestCheckpoint(dir, { latent: true });
    const before = await loadCheckpoint(dir);
    assert.equal(before.manifest.ngram, null);
    const corpus = join(root, 'corpus.jsonl');
    writeFileSync(
      corpus,
      `${JSON.stringify({ text: 'the cat sat' })}\n${JSON.stringify({ text: 'the cat ran' })}\n`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO, 'src/cli/main.ts'),
        'ngram',
        'build',
        '--corpus',
        corpus,
        '--checkpoint',
        dir,
      ],
      { cwd: REPO },
    );
    assert.match(stdout, /2 documents, 22 tokens .* loads in \d+ ms/);

    const checkpoint = await loadCheckpoint(dir);
    assert.equal(checkpoint.manifest.ngram, 'ngram.bin');
    // Everything else the manifest said is kept.
    assert.deepEqual(checkpoint.manifest.modes, before.manifest.modes);
    assert.equal(checkpoint.manifest.description, before.manifest.description);
    const tokenizer = new TextTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
    const ctx = decodeContext(checkpoint, tokenizer, 1, { loadNgram: true, maxModelLen: 1024 });
    assert.equal(
      (ctx.ngram as NgramStore | null)?.countOf(
        tokenizer.encode('the cat ', { specialTokens: false }).slice(-3),
      ),
      2,
    );
  });

  it('writeManifest lists an ngram.bin found beside a manifest that said ngram: null', async () => {
    const dir = join(root, 'reconvert');
    await writeTestCheckpoint(dir);
    assert.equal((await loadCheckpoint(dir)).manifest.ngram, null);
    buildNgramStore([[1, 2, 3]], 261).save(join(dir, 'ngram.bin'));
    await writeManifest(dir);
    const checkpoint = await loadCheckpoint(dir);
    assert.equal(checkpoint.manifest.ngram, 'ngram.bin');
    assert.ok(checkpoint.manifest.files['ngram.bin']);
  });

  it('loads a store of tens of MB in well under a second', (t) => {
    // Pseudo-random ids: nearly every n-gram of order ≥ 3 is distinct, so the store is large.
    let x = 7;
    const doc = Int32Array.from({ length: 400_000 }, () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x % 261;
    });
    const path = join(root, 'big-ngram.bin');
    buildNgramStore([doc], 261).save(path);
    const started = performance.now();
    const store = NgramStore.load(path);
    const ms = performance.now() - started;
    const mb = store.toBuffer().byteLength / 1e6;
    t.diagnostic(`ngram store of ${mb.toFixed(1)} MB loads in ${ms.toFixed(1)} ms`);
    assert.ok(mb > 20, `${mb} MB`);
    assert.ok(ms < 500, `${ms} ms`);
    assert.equal(store.countOf(doc.subarray(1000, 1006)), 1);
  });

  it('splits .jsonl corpora by line and text corpora by blank lines', () => {
    assert.deepEqual(corpusDocuments('c.jsonl', '{"text":"a"}\n\n{"text":"b c"}\n'), ['a', 'b c']);
    assert.deepEqual(corpusDocuments('c.txt', 'one\ntwo\n\n \nthree'), ['one\ntwo', 'three']);
    assert.throws(() => corpusDocuments('c.jsonl', '{"x":1}'), /expected/);
  });

  it('explains its usage', async () => {
    await assert.rejects(ngramBuildCommand(['build', '--corpus', 'x']), /usage/);
  });
});
