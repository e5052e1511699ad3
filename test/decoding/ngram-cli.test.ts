import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { corpusDocuments, ngramBuildCommand } from '../../src/cli/ngram.ts';
import { NgramStore } from '../../src/decoding/ngram-store.ts';
import { writeByteTokenizerFiles } from '../../src/model/byte-tokenizer.ts';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { writeRandomModel } from '../../src/model/test-model.ts';

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

  it('splits .jsonl corpora by line and text corpora by blank lines', () => {
    assert.deepEqual(corpusDocuments('c.jsonl', '{"text":"a"}\n\n{"text":"b c"}\n'), ['a', 'b c']);
    assert.deepEqual(corpusDocuments('c.txt', 'one\ntwo\n\n \nthree'), ['one\ntwo', 'three']);
    assert.throws(() => corpusDocuments('c.jsonl', '{"x":1}'), /expected/);
  });

  it('explains its usage', async () => {
    await assert.rejects(ngramBuildCommand(['build', '--corpus', 'x']), /usage/);
  });
});
