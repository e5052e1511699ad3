import { serveCommand } from '../../src/cli/serve.ts';

/** Runs `reverie serve` in a child process for serve.test.ts (the same as `npm start -- ARGS`). */
serveCommand(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`reverie: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
