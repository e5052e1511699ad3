import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MANIFEST_FILE } from '../../src/model/manifest.ts';
import { defaultCheckpointDir, listCheckpointDirs } from '../../src/model/model-dir.ts';

/** Which checkpoints a models folder holds and which is the default (the `DEFAULT` file). */

describe('listCheckpointDirs: the default checkpoint first', () => {
  let root: string;
  const names = (dirs: string[]) => dirs.map((d) => d.slice(root.length + 1));
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'reverie-models-'));
    // Only folders with a manifest count; the loader checks what is inside, not this listing.
    for (const name of ['tiny', 'aaa', 'Zed']) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, MANIFEST_FILE), '{}');
    }
    mkdirSync(join(root, 'not-a-checkpoint'));
    writeFileSync(join(root, 'stray-file'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('DEFAULT names the default; the others follow by name', () => {
    writeFileSync(join(root, 'DEFAULT'), 'tiny\n');
    assert.deepEqual(names(listCheckpointDirs(root)), ['tiny', 'Zed', 'aaa']);
    assert.equal(defaultCheckpointDir(root), join(root, 'tiny'));
  });

  it('without DEFAULT, or with an empty one, every checkpoint by name (code-point order)', () => {
    assert.deepEqual(names(listCheckpointDirs(root)), ['Zed', 'aaa', 'tiny']);
    writeFileSync(join(root, 'DEFAULT'), ' \n');
    assert.deepEqual(names(listCheckpointDirs(root)), ['Zed', 'aaa', 'tiny']);
  });

  it('a DEFAULT naming no checkpoint of the folder is an error naming it and what is there', () => {
    for (const name of ['missing', 'not-a-checkpoint', '../tiny']) {
      writeFileSync(join(root, 'DEFAULT'), name);
      assert.throws(
        () => listCheckpointDirs(root),
        (e: Error) => e.message.includes(`names "${name}"`) && e.message.includes('Zed, aaa, tiny'),
        name,
      );
    }
  });

  it('a missing or empty folder has no checkpoints', () => {
    assert.deepEqual(listCheckpointDirs(join(root, 'nowhere')), []);
    assert.deepEqual(listCheckpointDirs(join(root, 'not-a-checkpoint')), []);
    assert.throws(() => defaultCheckpointDir(join(root, 'nowhere')), /no checkpoint in/);
  });
});
