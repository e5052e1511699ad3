import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { type App, createApp } from '../../src/api/app.ts';
import { type ApiConfig, parseApiConfig } from '../../src/api/config.ts';
import { type RunningServer, startServer } from '../../src/api/server.ts';
import type { EngineOptionsInput } from '../../src/engine/config.ts';
import { createEngine } from '../../src/engine/engine.ts';
import type { Engine } from '../../src/engine/types.ts';
import type { Telemetry } from '../../src/telemetry/telemetry.ts';
import { sharedCheckpoint } from '../helpers/shared-checkpoint.ts';
import { tinyWithTemplate } from '../helpers/template-checkpoint.ts';

/**
 * A live server for end-to-end tests: the REAL engine (worker thread, ONNX runtime) on a tiny
 * random-weight checkpoint (shared, see shared-checkpoint.ts), served on 127.0.0.1 on an ephemeral port.
 */
export interface LiveServer {
  url: string;
  engine: Engine;
  app: App;
  running: RunningServer;
  /** The checkpoint's model id. */
  model: string;
  close(): Promise<void>;
}

export async function startLiveServer(
  options: {
    config?: Partial<ApiConfig>;
    engine?: Partial<EngineOptionsInput>;
    latent?: boolean;
    /** Serve these checkpoint folders instead of writing the tiny one (the first is `model`). */
    checkpointDirs?: string[];
    /** The app's telemetry (default: from the environment, i.e. metrics only). */
    telemetry?: (engine: Engine) => Telemetry;
  } = {},
): Promise<LiveServer> {
  const dirs = options.checkpointDirs ?? [
    await sharedCheckpoint({ seed: 7, name: 'tiny', latent: options.latent ?? false }),
  ];
  const engine = createEngine({ checkpointDirs: dirs, threads: 1, ...options.engine });
  try {
    await engine.ready();
  } catch (err) {
    engine.destroy();
    throw err;
  }
  const app = createApp({
    engine,
    config: parseApiConfig(options.config),
    ...(options.telemetry && { telemetry: options.telemetry(engine) }),
  });
  const running = await startServer(app, { host: '127.0.0.1', port: 0 });
  return {
    url: running.url,
    engine,
    app,
    running,
    model: engine.models[0]!.name,
    async close() {
      await running.close(5_000);
      await engine.close(5_000);
      await app.telemetry.shutdown();
    },
  };
}

/** A live server on the tiny model shipping `template`, and an `openai` client of it. */
export interface TemplateServer {
  live: LiveServer;
  client: OpenAI;
  /** Stops the server and removes the checkpoint copy. */
  close(): Promise<void>;
}

/** {@link startLiveServer} on a copy of the tiny checkpoint whose chat template is `template`. */
export async function startTemplateServer(template: string): Promise<TemplateServer> {
  const root = mkdtempSync(join(tmpdir(), 'reverie-template-'));
  try {
    const live = await startLiveServer({
      checkpointDirs: [await tinyWithTemplate(join(root, 'tiny'), template)],
    });
    const client = new OpenAI({
      baseURL: `${live.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      timeout: 60_000,
    });
    return {
      live,
      client,
      async close() {
        await live.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/** A request that cannot end early: EOS is banned, 16 rows of 990 tokens (about 2 s on a CPU). */
export const LONG_REQUEST = {
  model: 'tiny',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 990,
  n: 16,
  temperature: 1,
  seed: 1,
  logit_bias: { 256: -100, 258: -100 },
  thinking: { mode: 'off' },
};

/**
 * Rows still running once a one-token probe request has gone through the engine. The engine's
 * stats snapshot is refreshed by events, so a cancel alone can leave it stale; the probe's events
 * carry a fresh one (a live 16-row request would show up in it).
 */
export async function runningAfterProbe(
  live: LiveServer,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${live.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: 'tiny',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 1,
      thinking: { mode: 'off' },
    }),
  });
  await res.json();
  return live.engine.stats().running;
}
