import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promptOpensThinking } from '../../src/api/common/decoding.ts';
import { quantizationFromFlags } from '../../src/cli/model-commands.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { EngineEvent } from '../../src/engine/types.ts';
import { writeHfModel } from '../helpers/hf-models.ts';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** `reverie convert --quant …`: the manifest's `quantization` from the flags, or a clear error. */
describe('convert --quant flags', () => {
  it('no --quant keeps what the manifest says; --quant none clears it', () => {
    assert.equal(quantizationFromFlags({}), undefined);
    assert.equal(quantizationFromFlags({ quant: 'none' }), null);
  });

  it('--quant int4 takes the defaults; options override them', () => {
    assert.deepEqual(quantizationFromFlags({ quant: 'int4' }), {
      weights: 'int4',
      block_size: 32,
      zero_points: true,
      lm_head: 'int8',
      embedding: 'int8',
    });
    assert.deepEqual(
      quantizationFromFlags({
        quant: 'int4',
        'block-size': '64',
        symmetric: true,
        head: 'none',
        embedding: 'int4',
      }),
      { weights: 'int4', block_size: 64, zero_points: false, lm_head: 'none', embedding: 'int4' },
    );
    // Blocks are int4's: an int8 body with an int4 head takes them too.
    assert.equal(
      quantizationFromFlags({ quant: 'int8', head: 'int4', 'block-size': '128' })?.block_size,
      128,
    );
  });

  it('refuses what it cannot build, naming the flag', () => {
    const cases: [Parameters<typeof quantizationFromFlags>[0], RegExp][] = [
      [{ quant: 'int3' }, /--quant must be none, int8 or int4, not int3/],
      [{ 'block-size': '64' }, /--block-size needs --quant int8 or int4/],
      [{ quant: 'none', head: 'int8' }, /--head needs --quant/],
      [{ quant: 'int4', 'block-size': '48' }, /--block-size: block_size must be a power of two/],
      [{ quant: 'int4', 'block-size': '8' }, /--block-size/],
      [{ quant: 'int4', head: 'fp8' }, /--head: /],
      [{ quant: 'int8', symmetric: true }, /--symmetric is for int4 weights/],
      [{ quant: 'int8', 'block-size': '64' }, /--block-size is for int4 weights/],
    ];
    for (const [flags, message] of cases) assert.throws(() => quantizationFromFlags(flags), message);
  });
});

/**
 * `reverie convert --quant int4` of a Hugging Face Qwen3 folder (bf16, sharded, tied, q/k norms,
 * the real 151,936-row vocabulary) through the streamed conversion, then served by the engine:
 * the manifest and summary say int4, `--dtype fp16` is refused with it, and a request thinks softly
 * over the whole vocabulary (the dense p·E input, over the quantized table) and answers.
 */
describe('convert --quant int4 of a Qwen3 folder, served', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reverie-quant-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'Qwen3-tiny');
  const out = join(dir, 'models', 'qwen3-tiny');
  const convert = (...flags: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', CLI, 'convert', src, '--out', out, ...flags], {
      encoding: 'utf8',
    });

  it('writes the int4 graph, says so, and records it in the manifest', async () => {
    await writeHfModel(src, 'qwen3', { shards: 2 });
    const run = convert('--quant', 'int4');
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stderr,
      /weights {7}int4 in blocks of 32 with zero points; head int8, embedding int8; activations fp32/,
    );
    assert.match(run.stderr, /graph {9}layer 2\/2: /);
    assert.match(run.stderr, /wrote .*model\.int4(-u8u8)?\.onnx \(int4(-u8u8)?\)/);
    const manifest = JSON.parse(readFileSync(join(out, 'reverie.json'), 'utf8'));
    assert.equal(manifest.quantization.weights, 'int4');
    assert.equal(manifest.dtype, undefined);
  });

  it('refuses --dtype fp16 with a quantization, given or kept', () => {
    const both = convert('--quant', 'int8', '--dtype', 'fp16');
    assert.notEqual(both.status, 0);
    assert.match(both.stderr, /--quant builds graphs that compute in fp32: drop --dtype fp16/);
    const kept = convert('--dtype', 'fp16');
    assert.notEqual(kept.status, 0);
    assert.match(kept.stderr, /dtype fp16 and quantization exclude each other/);
    assert.equal(JSON.parse(readFileSync(join(out, 'reverie.json'), 'utf8')).quantization.weights, 'int4');
  });

  it('serves int4 through the engine: soft thinking over the whole vocabulary, then an answer', async () => {
    const engine = createEngine({ checkpointDirs: [out], threads: 1 });
    try {
      await engine.ready();
      const model = engine.models[0]!;
      assert.equal(model.quantization, 'int4');
      // A prompt that opens the think block (random weights would not emit <think> themselves).
      const text = `${model.chatTemplate!.render([{ role: 'user', content: 'Is 91 prime?' }], {
        addGenerationPrompt: true,
        enableThinking: true,
      })}<think>\n`;
      const prompt = model.tokenizer.encode(text, { specialTokens: true });
      assert.ok(promptOpensThinking(model, prompt));
      const events: EngineEvent[] = [];
      for await (const ev of engine.generate({
        id: 'q',
        model: model.name,
        prompt,
        startsInThinking: true,
        // No truncation and a flat τ: every step mixes ~all 151,936 rows, fed through the dense p·E input.
        params: {
          temperature: 0,
          max_tokens: 3,
          thinking: {
            mode: 'soft',
            max_tokens: 3,
            temperature: 100,
            top_k: 0,
            top_p: 1,
            min_p: 0,
            trace: true,
          },
        },
      }))
        events.push(ev);
      const last = events.at(-1)!;
      assert.equal(last.type, 'done', JSON.stringify(last));
      const thoughts = events.flatMap((e) => (e.type === 'reasoning' && e.trace ? [e.trace] : []));
      assert.ok(thoughts.length > 0, 'it thought');
      for (const t of thoughts) {
        // The heaviest id weighs under 1/4,748, so each bag holds more ids than the runner's
        // threshold for the dense input (V/32 = 4,748 of 151,936 rows).
        assert.ok(t.top.every((e) => e.fed > 0));
        assert.ok(t.top[0]!.fed < 32 / 151_936, `heaviest ${t.top[0]!.fed}`);
      }
      assert.ok(events.some((e) => e.type === 'content' || e.type === 'finish'));
    } finally {
      await engine.close();
    }
  });
});
