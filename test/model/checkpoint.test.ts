import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Checkpoint } from '../../src/model/checkpoint.ts';
import { loadCheckpoint, readWeights } from '../../src/model/checkpoint.ts';
import type { CheckpointErrorCode } from '../../src/model/checkpoint-error.ts';
import { CheckpointError } from '../../src/model/checkpoint-error.ts';
import { writeManifest } from '../../src/model/manifest-writer.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';
import {
  patchManifest,
  replaceFile,
  sha256Of,
  TINY_CONFIG,
  tempDir,
  tinyWeights,
  writeHfFolder,
} from './checkpoint-fixture.ts';

/** Asserts that loading fails with `code` and that the error names `file`, in its field and message. */
async function rejectsWith(dir: string, code: CheckpointErrorCode, file: string): Promise<CheckpointError> {
  const err = await loadCheckpoint(dir).then(
    () => assert.fail(`expected ${code} for ${file}, but the checkpoint loaded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.file, file, err.message);
  assert.ok(err.message.startsWith(`${file}: `), err.message);
  return err;
}

describe('loadCheckpoint', () => {
  let root: string;
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: root, remove } = await tempDir());
    dir = join(root, 'tiny');
    await mkdir(dir);
    await writeHfFolder(dir);
    await writeManifest(dir);
  });
  afterEach(() => remove());

  it('loads a valid folder into a frozen checkpoint', async () => {
    const cp: Checkpoint = await loadCheckpoint(dir);
    assert.equal(cp.manifest.name, 'tiny');
    assert.equal(cp.config.architecture, 'LlamaForCausalLM');
    assert.equal(cp.config.numKvHeads, 1);
    assert.deepEqual(cp.generation.eosTokenIds, [258, 256]);
    assert.equal(cp.generation.bosTokenId, null);
    assert.deepEqual(cp.manifest.thinking, { start: '<think>', end: '</think>' });
    assert.equal(cp.tokenizerConfig.eos_token, '<|im_end|>');
    assert.equal(cp.tokenizerJson.added_tokens.length, 5);
    assert.equal(cp.weightFiles.length, 1);
    assert.ok(isAbsolute(cp.weightFiles[0]!) && cp.weightFiles[0]!.endsWith('model.safetensors'));
    assert.equal(cp.ngramFile, null);
    assert.ok(Object.isFrozen(cp) && Object.isFrozen(cp.manifest) && Object.isFrozen(cp.manifest.files));
    assert.ok(Object.isFrozen(cp.generation.eosTokenIds));
  });

  it('reads the weights it verified', async () => {
    const weights = readWeights(await loadCheckpoint(dir));
    const expected = tinyWeights();
    assert.deepEqual([...weights.keys()].sort(), [...expected.keys()].sort());
    for (const [name, t] of expected) assert.deepEqual(weights.get(name), t, name);
  });

  it('rejects a corrupted file by its sha256', async () => {
    const file = join(dir, 'model.safetensors');
    const bytes = await readFile(file);
    bytes[bytes.length - 1]! ^= 0x01;
    await writeFile(file, bytes);
    const err = await rejectsWith(dir, 'sha256_mismatch', 'model.safetensors');
    assert.match(err.message, /sha256 mismatch/);
  });

  it('rejects a missing tokenizer.json', async () => {
    await rm(join(dir, 'tokenizer.json'));
    await rejectsWith(dir, 'missing_file', 'tokenizer.json');
  });

  it('rejects a required file the manifest does not list, present or not', async () => {
    await patchManifest(dir, (m) => {
      delete (m.files as Record<string, string>)['tokenizer.json'];
    });
    await rejectsWith(dir, 'unlisted_file', 'tokenizer.json');
    await rm(join(dir, 'tokenizer.json'));
    await rejectsWith(dir, 'missing_file', 'tokenizer.json');
  });

  it('rejects missing weights and a missing reverie.json', async () => {
    await patchManifest(dir, (m) => {
      delete (m.files as Record<string, string>)['model.safetensors'];
    });
    await rm(join(dir, 'model.safetensors'));
    await rejectsWith(dir, 'missing_file', 'model.safetensors');
    await rm(join(dir, 'reverie.json'));
    await rejectsWith(dir, 'missing_file', 'reverie.json');
  });

  it('rejects an unknown architecture in config.json', async () => {
    await replaceFile(
      dir,
      'config.json',
      JSON.stringify({ ...TINY_CONFIG, architectures: ['MambaForCausalLM'] }),
    );
    const err = await rejectsWith(dir, 'unsupported_architecture', 'config.json');
    assert.match(err.message, /MambaForCausalLM/);
  });

  it('rejects an unknown architecture in reverie.json', async () => {
    await patchManifest(dir, (m) => {
      m.architecture = 'GPT2LMHeadModel';
    });
    await rejectsWith(dir, 'unsupported_architecture', 'reverie.json');
  });

  it('rejects a manifest whose architecture disagrees with config.json', async () => {
    await patchManifest(dir, (m) => {
      m.architecture = 'Qwen2ForCausalLM';
    });
    await rejectsWith(dir, 'invalid', 'reverie.json');
  });

  for (const name of ['../x', '/etc/passwd', 'sub/../../x']) {
    it(`rejects the escaping file name ${name}`, async () => {
      await patchManifest(dir, (m) => {
        (m.files as Record<string, string>)[name] = '0'.repeat(64);
      });
      await rejectsWith(dir, 'path_escape', name);
    });
  }

  it('rejects an escaping n-gram file name', async () => {
    await patchManifest(dir, (m) => {
      m.ngram = '../ngram.bin';
    });
    await rejectsWith(dir, 'path_escape', '../ngram.bin');
  });

  it('rejects a symlink that leaves the folder, even with the right content', async () => {
    const outside = join(root, 'outside-tokenizer.json');
    await rename(join(dir, 'tokenizer.json'), outside);
    await symlink(outside, join(dir, 'tokenizer.json'));
    const err = await rejectsWith(dir, 'path_escape', 'tokenizer.json');
    assert.match(err.message, /outside/);
  });

  it('accepts a symlink that stays inside the folder', async () => {
    await mkdir(join(dir, 'blobs'));
    await rename(join(dir, 'model.safetensors'), join(dir, 'blobs', 'weights'));
    await symlink(join('blobs', 'weights'), join(dir, 'model.safetensors'));
    const cp = await loadCheckpoint(dir);
    assert.ok(cp.weightFiles[0]!.endsWith(join('blobs', 'weights')));
  });

  for (const name of ['generation_config.json', 'tokenizer_config.json', 'config.json']) {
    it(`names ${name} when it is not JSON`, async () => {
      await replaceFile(dir, name, '{"eos_token_id": [258,');
      await rejectsWith(dir, 'bad_json', name);
    });
  }

  it('names reverie.json when it is not JSON', async () => {
    await writeFile(join(dir, 'reverie.json'), 'not json');
    await rejectsWith(dir, 'bad_json', 'reverie.json');
  });

  it('rejects a manifest that breaks the schema, naming the field', async () => {
    await patchManifest(dir, (m) => {
      m.modes = [];
    });
    const err = await rejectsWith(dir, 'invalid', 'reverie.json');
    assert.match(err.message, /modes/);
  });

  it('rejects an eos_token_id outside the vocabulary', async () => {
    await replaceFile(dir, 'generation_config.json', JSON.stringify({ eos_token_id: 5000 }));
    await rejectsWith(dir, 'invalid', 'generation_config.json');
  });

  it('rejects think markers the tokenizer does not have', async () => {
    await patchManifest(dir, (m) => {
      m.thinking = { start: '<reasoning>', end: '</reasoning>' };
    });
    await rejectsWith(dir, 'invalid', 'reverie.json');
  });

  it('rejects a folder that does not exist', async () => {
    const err = await rejectsWith(join(root, 'nope'), 'not_a_directory', '.');
    assert.match(err.message, /nope/);
  });

  it('reports a malformed weight file when reading weights', async () => {
    await replaceFile(dir, 'model.safetensors', Buffer.from([1, 2, 3]));
    const cp = await loadCheckpoint(dir);
    assert.throws(
      () => readWeights(cp),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'bad_weights' && e.file === 'model.safetensors',
    );
  });
});

describe('loadCheckpoint with sharded weights', () => {
  let dir: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    await writeHfFolder(dir, { sharded: true });
    await writeManifest(dir);
  });
  afterEach(() => remove());

  it('loads the shards named by the index and merges them', async () => {
    const cp = await loadCheckpoint(dir);
    assert.deepEqual(
      cp.weightFiles.map((f) => f.slice(f.lastIndexOf('/') + 1)),
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'],
    );
    const weights = readWeights(cp);
    for (const [name, t] of tinyWeights()) assert.deepEqual(weights.get(name), t, name);
  });

  it('checks the sha256 of every shard', async () => {
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    writeSafetensors(shard, new Map([['model.norm.weight', { shape: [1], data: new Float32Array([0]) }]]));
    await rejectsWith(dir, 'sha256_mismatch', 'model-00002-of-00002.safetensors');
  });

  it('rejects a shard the manifest does not list', async () => {
    await patchManifest(dir, (m) => {
      delete (m.files as Record<string, string>)['model-00001-of-00002.safetensors'];
    });
    await rejectsWith(dir, 'unlisted_file', 'model-00001-of-00002.safetensors');
  });

  it('rejects an index that points out of the folder', async () => {
    const index = { weight_map: { 'model.norm.weight': '../evil.safetensors' } };
    await replaceFile(dir, 'model.safetensors.index.json', JSON.stringify(index));
    await rejectsWith(dir, 'path_escape', '../evil.safetensors');
  });

  it('rejects a tensor stored in two shards', async () => {
    const second = 'model-00002-of-00002.safetensors';
    const first = join(dir, 'model-00001-of-00002.safetensors');
    writeSafetensors(first, new Map([['model.norm.weight', { shape: [1], data: new Float32Array([0]) }]]));
    await replaceFile(dir, 'model-00001-of-00002.safetensors', await readFile(first));
    const cp = await loadCheckpoint(dir);
    assert.throws(
      () => readWeights(cp),
      (e: unknown) => e instanceof CheckpointError && e.code === 'bad_weights' && e.file === second,
    );
    assert.equal(await sha256Of(first), cp.manifest.files['model-00001-of-00002.safetensors']);
  });
});
