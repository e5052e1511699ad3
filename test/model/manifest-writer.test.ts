import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.ts';
import { CheckpointError } from '../../src/model/checkpoint-error.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import {
  detectThinkMarkers,
  PRETRAINED_SOFT_THINKING,
  sanitiseName,
  writeManifest,
} from '../../src/model/manifest-writer.ts';
import {
  patchManifest,
  sha256Of,
  TINY_CONFIG,
  tempDir,
  writeHfFolder,
  writeJson,
} from './checkpoint-fixture.ts';

const BPE_FIXTURE = new URL('../fixtures/loader/', import.meta.url).pathname;

/** Replaces the byte tokenizer with the fixture BPE tokenizer, which has no think markers. */
async function useBpeTokenizer(dir: string, extraTokens: string[] = []): Promise<void> {
  const tokenizer = JSON.parse(await readFile(join(BPE_FIXTURE, 'bpe-tokenizer.json'), 'utf8'));
  let id = 300;
  for (const content of extraTokens) tokenizer.added_tokens.push({ id: id++, content, special: false });
  await writeJson(dir, 'tokenizer.json', tokenizer);
  await copyFile(join(BPE_FIXTURE, 'bpe-tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await writeJson(dir, 'config.json', { ...TINY_CONFIG, vocab_size: 400 });
}

async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, 'reverie.json'), 'utf8'));
}

describe('writeManifest', () => {
  let root: string;
  let src: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: root, remove } = await tempDir());
    src = join(root, 'My Model (v2)');
    await mkdir(src);
  });
  afterEach(() => remove());

  it('hashes every checkpoint file and detects the think markers', async () => {
    await writeHfFolder(src);
    const written = await writeManifest(src);
    const manifest = await readManifest(src);
    assert.deepEqual(manifest, JSON.parse(JSON.stringify(written)));
    const expectedFiles = [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ];
    assert.deepEqual(Object.keys(manifest.files), expectedFiles);
    for (const name of expectedFiles)
      assert.equal(manifest.files[name], await sha256Of(join(src, name)), name);
    assert.deepEqual(manifest.thinking, { start: '<think>', end: '</think>' });
    assert.deepEqual(manifest.modes, ['discrete', 'hard', 'soft', 'fuzzy', 'superposed']);
    assert.equal(manifest.name, 'My-Model-v2');
    assert.equal(manifest.architecture, 'LlamaForCausalLM');
    // No max_new_tokens in its generation_config: no max_tokens default (a request may use what
    // its prompt leaves of the model length, as vLLM).
    assert.deepEqual(manifest.defaults, {
      temperature: 0,
      top_p: 1,
      thinking_mode: 'hard',
      thinking_max_tokens: 512,
      // A converted model was not trained on soft inputs: Soft Thinking's settings.
      soft_thinking: PRETRAINED_SOFT_THINKING,
    });
    assert.equal(manifest.training, null);
    assert.deepEqual(manifest.evaluation, []);
    await loadCheckpoint(src);
  });

  it('lists thinking modes only for a tokenizer with think markers, latent only when asked', async () => {
    await writeHfFolder(src);
    await useBpeTokenizer(src);
    const plain = await writeManifest(src);
    assert.equal(plain.thinking, null);
    assert.deepEqual(plain.modes, ['discrete', 'superposed']);
    assert.equal(plain.defaults.thinking_mode, 'off');
    await rm(join(src, 'reverie.json'));
    const latent = await writeManifest(src, src, { latent: true });
    assert.deepEqual(latent.modes, ['discrete', 'latent', 'superposed']);
  });

  it('detects common think-marker variants', async () => {
    await writeHfFolder(src);
    await useBpeTokenizer(src, ['<|begin_of_thought|>', '<|end_of_thought|>']);
    const manifest = await writeManifest(src);
    assert.deepEqual(manifest.thinking, { start: '<|begin_of_thought|>', end: '<|end_of_thought|>' });
    await loadCheckpoint(src);
  });

  it('needs both markers of a pair', () => {
    const tokenizer = { model: {}, added_tokens: [{ id: 1, content: '<think>', special: true }] };
    assert.equal(detectThinkMarkers(tokenizer, {}), null);
    const config = { added_tokens_decoder: { '2': { content: '</think>' } } };
    assert.deepEqual(detectThinkMarkers(tokenizer, config), { start: '<think>', end: '</think>' });
  });

  it('takes default decoding from generation_config.json', async () => {
    await writeHfFolder(src);
    const generation = {
      eos_token_id: 258,
      do_sample: true,
      temperature: 0.6,
      top_p: 0.95,
      max_new_tokens: 100,
    };
    await writeJson(src, 'generation_config.json', generation);
    const manifest = await writeManifest(src);
    assert.equal(manifest.defaults.temperature, 0.6);
    assert.equal(manifest.defaults.top_p, 0.95);
    assert.equal(manifest.defaults.max_tokens, 100);
  });

  it('covers the index and every shard of sharded weights', async () => {
    await writeHfFolder(src, { sharded: true });
    const manifest = await writeManifest(src);
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    for (const name of ['model.safetensors.index.json', ...shards]) {
      assert.equal(manifest.files[name], await sha256Of(join(src, name)), name);
    }
    assert.equal('model.safetensors' in manifest.files, false);
    assert.equal((await loadCheckpoint(src)).weightFiles.length, 2);
  });

  it('writes a complete checkpoint into --out and leaves the source untouched', async () => {
    await writeHfFolder(src, { sharded: true });
    await writeFile(join(src, 'README.md'), 'not part of the checkpoint');
    const before = (await readdir(src)).sort();
    const out = join(root, 'models', 'tiny');
    const manifest = await writeManifest(src, out);
    assert.deepEqual((await readdir(src)).sort(), before);
    assert.equal(manifest.name, 'tiny');
    assert.deepEqual((await readdir(out)).sort(), [...Object.keys(manifest.files), 'reverie.json'].sort());
    await loadCheckpoint(out);
  });

  it('follows a Hugging Face cache snapshot out to its blobs only when copying', async () => {
    const blobs = join(root, 'blobs');
    const snapshot = join(root, 'snapshots', 'abc123');
    await mkdir(blobs);
    await mkdir(snapshot, { recursive: true });
    await writeHfFolder(blobs);
    for (const name of await readdir(blobs))
      await symlink(join('..', '..', 'blobs', name), join(snapshot, name));
    await assert.rejects(
      writeManifest(snapshot),
      (e: unknown) => e instanceof CheckpointError && e.code === 'path_escape',
    );
    const out = join(root, 'models', 'cached');
    await writeManifest(snapshot, out);
    await loadCheckpoint(out);
  });

  it('writes generation_config.json from config.json when the folder has none', async () => {
    await writeHfFolder(src);
    await rm(join(src, 'generation_config.json'));
    const out = join(root, 'out');
    await writeManifest(src, out);
    const checkpoint = await loadCheckpoint(out);
    assert.deepEqual(checkpoint.generation.eosTokenIds, [258, 256]);
  });

  it("without generation_config.json or config.json's eos_token_id, stops on the tokenizer's eos_token (vLLM)", async () => {
    await writeHfFolder(src);
    await rm(join(src, 'generation_config.json'));
    const { eos_token_id: _dropped, ...config } = TINY_CONFIG;
    await writeJson(src, 'config.json', config);
    const out = join(root, 'out');
    await writeManifest(src, out);
    const checkpoint = await loadCheckpoint(out);
    assert.deepEqual(
      checkpoint.generation.eosTokenIds,
      [258],
      '<|im_end|>, the eos_token of tokenizer_config.json',
    );
    // And with no eos_token either: an error naming every place it looked.
    const tokenizerConfig = JSON.parse(await readFile(join(src, 'tokenizer_config.json'), 'utf8'));
    await writeJson(src, 'tokenizer_config.json', { ...tokenizerConfig, eos_token: null });
    await assert.rejects(writeManifest(src, join(root, 'out2')), (e: unknown) => {
      assert.ok(
        e instanceof CheckpointError && e.code === 'missing_file' && e.file === 'generation_config.json',
      );
      assert.match((e as Error).message, /eos_token_id.*eos_token/);
      return true;
    });
  });

  it("also stops on the tokenizer's eos_token when generation_config.json lists other ids (vLLM)", async () => {
    await writeHfFolder(src);
    await writeJson(src, 'generation_config.json', { eos_token_id: 256 });
    await writeManifest(src);
    assert.deepEqual((await loadCheckpoint(src)).generation.eosTokenIds, [256, 258]);
  });

  it('--dtype fp16 is recorded for serve; thinking markers given explicitly override detection', async () => {
    await writeHfFolder(src);
    const manifest = await writeManifest(src, src, {
      dtype: 'fp16',
      thinking: { start: '<|im_start|>', end: '<|im_end|>' },
    });
    assert.equal(manifest.dtype, 'fp16');
    assert.deepEqual(manifest.thinking, { start: '<|im_start|>', end: '<|im_end|>' });
    assert.equal(
      (await writeManifest(src, src, { dtype: 'fp32' })).dtype,
      undefined,
      'fp32 is the default again',
    );
  });

  it('keeps hand-written fields when re-converting and refreshes the sha256s', async () => {
    await writeHfFolder(src);
    await writeManifest(src);
    const training = { method: 'sft+rloo-soft', command: 'python3 -m training.make_default' };
    const evaluation = [
      { task: 'reachability', variant: 'rl-soft', inference: 'hard-greedy', pass_at_1: 0.9, n: 5 },
    ];
    await patchManifest(src, (m) => {
      Object.assign(m, { description: 'hand written', training, evaluation, modes: ['discrete', 'soft'] });
    });
    await writeJson(src, 'config.json', { ...TINY_CONFIG, rope_theta: 500000 });
    const manifest = await writeManifest(src);
    assert.equal(manifest.description, 'hand written');
    assert.deepEqual(manifest.training, training);
    assert.deepEqual(manifest.evaluation, evaluation);
    assert.deepEqual(manifest.modes, ['discrete', 'soft']);
    assert.equal(manifest.files['config.json'], await sha256Of(join(src, 'config.json')));
    await loadCheckpoint(src);
  });

  it('keeps files only the output folder has when re-converting into it', async () => {
    await writeHfFolder(src);
    const out = join(root, 'out');
    await writeManifest(src, out);
    await writeFile(join(out, 'ngram.bin'), 'ngrams');
    await patchManifest(out, async (m) => {
      (m.files as Record<string, string>)['ngram.bin'] = await sha256Of(join(out, 'ngram.bin'));
      m.ngram = 'ngram.bin';
    });
    const manifest = await writeManifest(src, out);
    assert.equal(manifest.ngram, 'ngram.bin');
    assert.equal((await loadCheckpoint(out)).ngramFile, join(await realpath(out), 'ngram.bin'));
  });

  it('refuses an index whose shards leave the folder', async () => {
    await writeHfFolder(src, { sharded: true });
    await writeJson(src, 'model.safetensors.index.json', { weight_map: { w: '../w.safetensors' } });
    await assert.rejects(
      writeManifest(src),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'path_escape' && e.file === '../w.safetensors',
    );
  });

  it('rejects an unsupported architecture without writing a manifest', async () => {
    await writeHfFolder(src);
    await writeJson(src, 'config.json', { ...TINY_CONFIG, architectures: ['MambaForCausalLM'] });
    await assert.rejects(
      writeManifest(src),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'unsupported_architecture' && e.file === 'config.json',
    );
    assert.equal((await readdir(src)).includes('reverie.json'), false);
  });

  it('names a missing tokenizer', async () => {
    await writeHfFolder(src);
    await rm(join(src, 'tokenizer_config.json'));
    await assert.rejects(
      writeManifest(src),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'missing_file' && e.file === 'tokenizer_config.json',
    );
  });
});

describe('sanitiseName', () => {
  it('keeps the characters the manifest allows and replaces runs of others', () => {
    assert.equal(sanitiseName('Qwen2.5-0.5B-Instruct'), 'Qwen2.5-0.5B-Instruct');
    assert.equal(sanitiseName('My Model (v2)'), 'My-Model-v2');
    assert.equal(sanitiseName('..hidden'), 'hidden');
    assert.equal(sanitiseName('((()))'), 'model');
  });
});
