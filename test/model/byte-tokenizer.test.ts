import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BYTE_CHAT_TEMPLATE,
  byteTokenizerConfigJson,
  byteTokenizerJson,
  byteToUnicode,
  writeByteTokenizerFiles,
} from '../../src/model/byte-tokenizer.ts';
import { tempDir } from './checkpoint-fixture.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('byte tokenizer files', () => {
  it('uses GPT-2 byte-to-unicode characters, one per byte', () => {
    const table = byteToUnicode();
    assert.equal(new Set(table).size, 256);
    assert.equal(table[0x21], '!');
    assert.equal(table[0x20], 'Ġ');
    assert.equal(table[0x0a], 'Ċ');
    assert.equal(table[0x00], 'Ā');
    assert.equal(table[0xad], 'Ń');
  });

  it('lists the vocab in id order with id = byte, and no merges', () => {
    const doc = JSON.parse(byteTokenizerJson());
    const table = byteToUnicode();
    for (let b = 0; b < 256; b++) assert.equal(doc.model.vocab[table[b]!], b);
    assert.deepEqual(doc.model.merges, []);
    assert.equal(doc.pre_tokenizer.use_regex, false);
    assert.equal(doc.decoder.add_prefix_space, false);
    // The text itself, not just the parsed object, keeps id order (JS would put digit keys first).
    const text = byteTokenizerJson();
    assert.ok(text.indexOf('"!": 33') < text.indexOf('"0": 48'));
  });

  it('declares the specials and the ChatML template in tokenizer_config.json', () => {
    const config = JSON.parse(byteTokenizerConfigJson());
    assert.equal(config.eos_token, '<|im_end|>');
    assert.equal(config.chat_template, BYTE_CHAT_TEMPLATE);
    assert.deepEqual(Object.keys(config.added_tokens_decoder), ['256', '257', '258', '259', '260']);
  });

  // The Python trainer writes the same bytes (json.dumps(obj, indent=2, ensure_ascii=False) + "\n");
  // models/README.md quotes these hashes, so changing the layout must change both writers.
  it('writes exactly the bytes models/README.md documents', async () => {
    const { dir, remove } = await tempDir();
    try {
      await writeByteTokenizerFiles(dir);
      const readme = await readFile(new URL('../../models/README.md', import.meta.url), 'utf8');
      for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
        const hash = sha256(await readFile(join(dir, name), 'utf8'));
        const documented = new RegExp(`\`${name}\` sha256\\s+\`([0-9a-f]{64})\``).exec(readme)?.[1];
        assert.equal(documented, hash, `models/README.md documents ${name}`);
      }
    } finally {
      await remove();
    }
  });
});
