import { parseArgs } from 'node:util';
import { decodeContext } from '../engine/decode-context.ts';
import { LocalEngine } from '../engine/local.ts';
import { DEVICES, type Device } from '../model/execution-provider.ts';
import { checkSlidingWindow } from '../model/hf-config.ts';
import { defaultCheckpointDir } from '../model/model-dir.ts';
import { openModel } from '../model/open-model.ts';

/**
 * `reverie generate --prompt TEXT [--model DIR] [--max-tokens N] [--raw] [--no-thinking]`:
 * one greedy generation through the engine's loop on this thread (no server), streamed to stdout.
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
  if (!(DEVICES as readonly string[]).includes(values.device!))
    throw new Error(`--device must be one of ${DEVICES.join(', ')}`);
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
  const ctx = decodeContext(checkpoint, tokenizer, model.graph.embeddingRms, {
    loadNgram: false,
    maxModelLen: checkpoint.config.maxPositions,
  });
  // Raw greedy decoding: think markers are tokens like any other (no thinking phase), every
  // token is printed as the tokenizer decodes it, and no checkpoint default (repetition penalty)
  // changes the argmax.
  const local = new LocalEngine(runner, { ...ctx, thinkStartId: null, thinkEndId: null });
  process.stderr.write(`model ${checkpoint.manifest.name}, prompt ${prompt.length} tokens\n`);
  const started = performance.now();
  let generated = 0;
  local.submit(
    {
      id: 'generate',
      model: checkpoint.manifest.name,
      prompt,
      startsInThinking: false,
      params: { temperature: 0, repetition_penalty: 1, max_tokens: maxTokens, skip_special_tokens: false },
    },
    (events) => {
      for (const ev of events) {
        if (ev.type === 'content') {
          generated += ev.tokenIds.length;
          process.stdout.write(ev.text);
        } else if (ev.type === 'finish' && ev.reason === 'stop')
          generated++; // the EOS
        else if (ev.type === 'error') throw ev.error;
      }
    },
  );
  await local.run();
  process.stdout.write('\n');
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s)\n`,
  );
  await runner.close();
}
