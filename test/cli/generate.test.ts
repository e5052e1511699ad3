import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChatTemplate } from '../../src/model/chat-template.ts';
import { loadCheckpoint, readWeights } from '../../src/model/checkpoint.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function reverie(args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('reverie CLI: make-test-model, convert, generate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reverie-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generates greedily what the float64 reference predicts', async () => {
    const model = join(dir, 'tiny');
    reverie(['make-test-model', '--out', model, '--seed', '3']);
    reverie(['convert', model]);
    const out = reverie(['generate', '--model', model, '--prompt', 'hi', '--max-tokens', '6']);

    // The same greedy continuation computed independently.
    const ckpt = await loadCheckpoint(model);
    const tok = new TextTokenizer(ckpt.tokenizerJson, ckpt.tokenizerConfig);
    const prompt = ChatTemplate.fromTokenizerConfig(ckpt.tokenizerConfig).render(
      [{ role: 'user', content: 'hi' }],
      {
        addGenerationPrompt: true,
      },
    );
    const ids = tok.encode(prompt, { specialTokens: true });
    const weights = readWeights(ckpt);
    const generated: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { logits } = referenceForward(
        ckpt.config,
        weights,
        ids.map((id) => ({ ids: [id], weights: [1] })),
      );
      const last = logits[logits.length - 1]!;
      let best = 0;
      for (let v = 1; v < tok.vocabSize; v++) if (last[v]! > last[best]!) best = v;
      if (ckpt.generation.eosTokenIds.includes(best)) break;
      generated.push(best);
      ids.push(best);
    }
    assert.equal(out, `${tok.decode(generated)}\n`);
  });

  it('fails with a clear message for a folder that is not a checkpoint', () => {
    assert.throws(
      () => reverie(['generate', '--model', join(dir, 'missing'), '--prompt', 'x']),
      (err: { stderr?: string }) => /reverie:.*missing/.test(err.stderr ?? ''),
    );
  });
});
