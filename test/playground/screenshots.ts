import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { startServer } from '../../src/api/server.ts';
import { createEngine } from '../../src/engine/engine.ts';
import { defaultCheckpointDir } from '../../src/model/model-dir.ts';
import { launchChromium } from './browser.ts';
import { ask, openPlayground } from './page.ts';

/**
 * `npm run screenshots`: the playground's three views on the default checkpoint
 * (the one models/DEFAULT names), written to docs/playground-*.png for the README. Greedy decoding
 * and fixed seeds: a re-run draws the same bars and drafts (timings differ).
 */

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const QUESTION = 'Edges: a>b b>c d>e. Root a. Reachable: c or e?';

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(DOCS, `playground-${name}.png`);
  await page.locator('main').screenshot({ path });
  console.error(`wrote ${path}`);
}

async function main(): Promise<void> {
  const engine = createEngine({ checkpointDirs: [defaultCheckpointDir()], threads: 1 });
  await engine.ready();
  const app = createApp({ engine, config: parseApiConfig({ apiKeys: ['playground-demo'] }) });
  const running = await startServer(app, { host: '127.0.0.1', port: 0 });
  const browser = await launchChromium({ width: 1280, height: 1000 });
  try {
    const page = await openPlayground(browser.context, running.url, 'playground-demo');
    const common = { temperature: '0', seed: '1' };

    // 1. Soft thinking at τ = 1 (at its default 0.5 this model's mixtures are nearly one-hot):
    // one stacked bar per step, the entropy above; a step picked with the arrow keys.
    await ask(page, QUESTION, { ...common, mode: 'soft', thinking_temperature: '1', trace_top_k: '5' });
    await page.locator('.trace-scroll').last().focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowLeft');
    await shoot(page, 'chat');

    // 2. Superposed decoding after hard thinking: 4 drafts side by side, then the ranked answers.
    await page.click('#clear');
    await ask(page, 'Compute 3549+5164.', {
      ...common,
      mode: 'hard',
      thinking_temperature: '',
      drafts: '4',
    });
    await shoot(page, 'drafts');

    // 3. Compare at τ = 1: hard thinking feeds one sampled token per step (one colour per bar, the
    // sampled rank's), soft thinking the whole mixture.
    await page.click('#clear');
    await ask(page, QUESTION, {
      ...common,
      mode: 'hard',
      compare: 'soft',
      thinking_temperature: '1',
      drafts: '',
    });
    await shoot(page, 'compare');
  } finally {
    await browser.close();
    await running.close(5_000);
    await engine.close(5_000);
    await app.telemetry.shutdown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
