import { parseArgs } from 'node:util';
import { rowLogits } from '../model/batch.ts';
import { checkSlidingWindow } from '../model/hf-config.ts';
import { defaultCheckpointDir } from '../model/model-dir.ts';
import { openModel } from '../model/open-model.ts';
import type { Device } from '../model/runner.ts';

/** Argmax over the tokenizer's ids (padded vocabulary rows are never real tokens). */
function argmax(logits: Float32Array, limit: number): number {
  let best = 0;
  for (let i = 1; i < limit; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * `reverie generate --prompt TEXT [--model DIR] [--max-tokens N] [--raw] [--no-thinking]`:
 * one greedy generation straight on the runner, streamed to stdout.
 */
export async function generateCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      prompt: { type: 'string' },
      model: { type: 'string' },
      'max-tokens': { type: 'string', default: '256' },
      raw: { type: 'boolean', default: false },
      'no-thinking': { type: 'boolean', default: false },
      device: { type: 'string', default: 'cpu' },
    },
  });
  if (values.prompt === undefined)
    throw new Error('usage: reverie generate --prompt TEXT [--model DIR] [--max-tokens N]');
  if (!['cpu', 'webgpu', 'cuda'].includes(values.device!))
    throw new Error(`--device must be cpu, webgpu or cuda`);
  const dir = values.model ?? defaultCheckpointDir();
  const model = await openModel(dir, {
    device: values.device as Device,
    onProgress: (m) => process.stderr.write(`  ${m}\n`),
  });
  const { tokenizer, runner, checkpoint } = model;
  let text = values.prompt;
  if (!values.raw) {
    if (!model.chatTemplate) throw new Error(`${dir}: the tokenizer has no chat_template; use --raw`);
    text = model.chatTemplate.render([{ role: 'user', content: values.prompt }], {
      addGenerationPrompt: true,
      enableThinking: !values['no-thinking'],
    });
  }
  const prompt = tokenizer.encode(text, { specialTokens: true });
  const maxTokens = Number(values['max-tokens']);
  checkSlidingWindow(checkpoint.config, prompt.length + maxTokens);
  const eos = new Set(checkpoint.generation.eosTokenIds);
  const limit = Math.min(tokenizer.vocabSize, checkpoint.config.vocabSize);
  const stream = tokenizer.createStreamDecoder();
  process.stderr.write(`model ${checkpoint.manifest.name}, prompt ${prompt.length} tokens\n`);
  const started = performance.now();
  let out = await runner.step([{ seq: 0, count: prompt.length, bagSize: 1, ids: Int32Array.from(prompt) }]);
  let generated = 0;
  while (generated < maxTokens) {
    const next = argmax(rowLogits(out, 0), limit);
    generated++;
    if (eos.has(next)) break;
    process.stdout.write(stream.push(next));
    out = await runner.step([{ seq: 0, count: 1, bagSize: 1, ids: Int32Array.of(next) }]);
  }
  process.stdout.write(`${stream.flush()}\n`);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s)\n`,
  );
  await runner.close();
}
