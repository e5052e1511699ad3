import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createApp } from '../api/app.ts';
import { ENGINE_ENV, flagName, parseServerConfig, type ServerFlags } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { createEngine } from '../engine/engine.ts';
import { describeKvBudget } from '../engine/kv-budget.ts';
import { listCheckpointDirs, modelsDir } from '../model/model-dir.ts';
import { telemetryConfigFromEnv } from '../telemetry/config.ts';
import { Telemetry } from '../telemetry/telemetry.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Settings `reverie serve` takes as flags (`maxNumSeqs` is `--max-num-seqs`); the rest are environment only. */
const FLAGS = [
  'host',
  'port',
  'modelsDir',
  'device',
  'allowedOrigins',
  'allowedMethods',
  'allowedHeaders',
  'toolCallParser',
  ...Object.keys(ENGINE_ENV),
] as (keyof ServerFlags)[];
/** Switches: `--allow-credentials` (as vLLM's) and `--metrics-require-key` mean true. */
const SWITCHES = ['allowCredentials', 'metricsRequireKey'] as (keyof ServerFlags)[];

/**
 * `reverie serve [--host H] [--port P] [--models-dir DIR] [--device cpu|webgpu|cuda|auto] [--allowed-origins JSON|LIST]
 * [--tool-call-parser auto|none|hermes|llama3_json] [--allow-credentials] [--metrics-require-key] [--max-num-seqs N …]`:
 * serves every checkpoint of the models folder (the default one first) over the OpenAI-compatible
 * API, with the API limits and engine knobs of the environment ({@link parseServerConfig}).
 * `/health` answers 503 until the models are loaded. SIGTERM or SIGINT: stop accepting, finish
 * in-flight requests (up to REVERIE_SHUTDOWN_TIMEOUT_MS), exit.
 */
export async function serveCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(FLAGS.map((key) => [flagName(key), { type: 'string' as const }])),
      ...Object.fromEntries(SWITCHES.map((key) => [flagName(key), { type: 'boolean' as const }])),
    },
  });
  const config = parseServerConfig({
    ...Object.fromEntries(FLAGS.map((key) => [key, values[flagName(key)] as string | undefined])),
    ...Object.fromEntries(SWITCHES.map((key) => [key, values[flagName(key)] ? 'true' : undefined])),
  });
  const root = config.modelsDir ?? modelsDir();
  const dirs = listCheckpointDirs(root);
  if (dirs.length === 0) {
    throw new Error(
      `no checkpoint in ${root}; make one with \`npm run reverie -- make-test-model --out ${root}/tiny-test\``,
    );
  }
  // OTEL_* variables choose the exporters (none by default; /metrics always); checked before any work.
  const telemetryConfig = telemetryConfigFromEnv();
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const engine = createEngine({ checkpointDirs: dirs, device: config.device, ...config.engine });
  const telemetry = new Telemetry(engine, { config: telemetryConfig, serviceVersion: version });
  const app = createApp({ engine, config, telemetry });
  const running = await startServer(app, { host: config.host, port: config.port });
  log(
    `reverie: listening on ${running.url} (loading ${dirs.length} model${dirs.length > 1 ? 's' : ''} from ${root})`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`reverie: ${signal}: finishing in-flight requests (up to ${config.shutdownTimeoutMs} ms)`);
    await Promise.all([running.close(config.shutdownTimeoutMs), engine.close(config.shutdownTimeoutMs)]);
    engine.destroy();
    await app.telemetry.shutdown();
    log('reverie: stopped');
  };
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => void shutdown(signal).finally(resolve));
    }
  });

  try {
    await engine.ready();
    for (const m of engine.models) {
      if (m.deviceFallback) log(`reverie: ${m.name} runs on the CPU: ${m.deviceFallback}`);
      else if (m.device !== 'cpu')
        log(
          `reverie: ${m.name} runs on ${m.device}${m.device === 'webgpu' && config.engine.residentKv !== false ? ' (KV cache resident on the GPU while a decode batch is unchanged)' : ''}`,
        );
      log(
        `reverie: KV cache budget of ${m.name}: ${describeKvBudget(m.kvBudget, config.engine.maxNumSeqs, m.maxModelLen)}`,
      );
    }
    log(`reverie: ready: ${engine.models.map((m) => m.name).join(', ')}`);
  } catch (err) {
    log(`reverie: the engine failed to start: ${(err as Error).message} (/health answers 503)`);
  }
  await stopped;
}
