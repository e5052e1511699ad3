import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChatTemplate } from '../../src/model/chat-template.ts';
import { loadCheckpoint, readWeights } from '../../src/model/checkpoint.ts';
import { referenceForward } from '../../src/model/reference-forward.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { writeHfModel } from '../helpers/hf-models.ts';

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

  it('convert: a sharded bf16 Qwen3 folder, with what it found and progress on stderr; --dtype fp16', async () => {
    const src = join(dir, 'Qwen3-tiny');
    await writeHfModel(src, 'qwen3', { shards: 2 });
    const out = join(dir, 'models', 'qwen3-tiny');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', CLI, 'convert', src, '--out', out, '--dtype', 'fp16'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    for (const line of [
      /architecture {2}Qwen3ForCausalLM: 2 layers, hidden 64, 4 heads \(2 KV\) of 32, tied embeddings, q\/k norm/,
      /vocabulary {4}151,936 \(tokenizer 151,669; the rest is padding, never sampled\)/,
      /eos {11}151645 <\|im_end\|>, 151643 <\|endoftext\|>/,
      /thinking {6}<think> … <\/think>; default mode hard; soft thinking τ 0\.6, top-k 10/,
      /chat template yes \(reads enable_thinking, tools\)/,
      /graph {9}reading weights tensor by tensor \(2 files\)/,
      /graph {9}layer 2\/2: /,
      /wrote .*model\.fp16\.onnx \(fp16\)/,
    ])
      assert.match(run.stderr, line);
    assert.ok(existsSync(join(out, 'model.fp16.onnx')));
    assert.equal(JSON.parse(readFileSync(join(out, 'reverie.json'), 'utf8')).dtype, 'fp16');
  });

  it('fails with a clear message for a folder that is not a checkpoint', () => {
    assert.throws(
      () => reverie(['generate', '--model', join(dir, 'missing'), '--prompt', 'x']),
      (err: { stderr?: string }) => /reverie:.*missing/.test(err.stderr ?? ''),
    );
  });
});
