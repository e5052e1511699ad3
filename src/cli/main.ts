import { benchCommand } from './bench.ts';
import { evalCommand } from './eval.ts';
import { generateCommand } from './generate.ts';
import { convertCommand, makeTestModelCommand } from './model-commands.ts';
import { ngramBuildCommand } from './ngram.ts';
import { serveCommand } from './serve.ts';

/** The `reverie` command line: one small module per subcommand. */
const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  serve: {
    run: serveCommand,
    help:
      'serve [--host H] [--port P] [--models-dir DIR] [--device cpu|webgpu|cuda|auto] [--max-num-seqs N …]   ' +
      'OpenAI-compatible server (README: every flag and REVERIE_* variable)',
  },
  generate: {
    run: generateCommand,
    help: 'generate --prompt TEXT [--model DIR] [--max-tokens N]   greedy generation',
  },
  convert: {
    run: convertCommand,
    help: 'convert <hf-dir> [--out DIR] [--dtype fp32|fp16] [--quant none|int8|int4 …]   HF folder → reverie checkpoint',
  },
  'make-test-model': {
    run: makeTestModelCommand,
    help: 'make-test-model --out DIR [--arch llama|qwen2]   tiny random checkpoint',
  },
  ngram: {
    run: (argv) => ngramBuildCommand(argv),
    help: 'ngram build --corpus FILE --checkpoint DIR   n-gram store for superposed decoding',
  },
  eval: {
    run: evalCommand,
    help:
      'eval --task reachability|arithmetic|FILE.jsonl [--url URL] [--model M] [--modes hard,soft,fuzzy,latent] ' +
      '[--k 1,8,32] [--n N] [--budgets 1,2,4] [--json] [--plot out.svg]   accuracy through a running server',
  },
  bench: {
    run: benchCommand,
    help:
      'bench runtime|attention|decoding|engine|quality|kernels|memory|convert|structured [--quant fp32,int8,int4] [--json]   benchmarks\n' +
      '  bench serve [--url URL] [--num-prompts N] [--max-concurrency C | --request-rate R] [--mix MODE=W,...] ' +
      '[--soak] [--json]   load a running server (bench serve --help: every option)',
  },
};

function usage(): string {
  return [
    'usage: reverie <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([, c]) => `  ${c.help}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`reverie: unknown command "${name}"\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  await command.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`reverie: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
