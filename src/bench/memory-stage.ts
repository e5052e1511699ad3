import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One process of `reverie bench memory` (see memory.ts): loads the server up to a stage, then
 * prints its resident memory as JSON lines on stdout. Everything is imported lazily so each stage
 * pays only for what it loads. Run with --expose-gc.
 *
 * argv: stage (node | modules | engine | load), checkpoint folder, rounds, concurrency.
 */

export interface StageSample {
  stage: string;
  rssBytes: number;
  heapUsedBytes: number;
  /** Load stage: requests sent so far, and the engine's KV bytes. */
  requests?: number;
  kvBytes?: number;
}

async function sample(stage: string, extra: Partial<StageSample> = {}): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(200);
  gc?.();
  const m = process.memoryUsage();
  const line: StageSample = { stage, rssBytes: m.rss, heapUsedBytes: m.heapUsed, ...extra };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main([stage, checkpoint, rounds, concurrency]: string[]): Promise<void> {
  if (stage === 'node') return sample('node');
  const [{ createApp }, { createEngine }, { Telemetry }, { parseMix, planRequests }] = await Promise.all([
    import('../api/app.ts'),
    import('../engine/engine.ts'),
    import('../telemetry/telemetry.ts'),
    import('./serve/workload.ts'),
  ]);
  if (stage === 'modules') return sample('modules');
  const engine = createEngine({ checkpointDirs: [checkpoint!] });
  await engine.ready();
  const telemetry = new Telemetry(engine);
  const app = createApp({ engine, telemetry });
  try {
    if (stage === 'engine') return await sample('engine');
    const perRound = Number(concurrency);
    const planned = planRequests({
      model: engine.models[0]!.name,
      numPrompts: Number(rounds) * perRound,
      mix: parseMix('discrete=1,hard=1,soft=1,fuzzy=1,superposed=1'),
      maxTokens: 64,
      seed: 0,
      distinctPrompts: true,
    });
    for (let r = 0; r < Number(rounds); r++) {
      const batch = planned.slice(r * perRound, (r + 1) * perRound);
      await Promise.all(
        batch.map(async (p) => {
          const res = await app.request('/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(p.body),
          });
          await res.text();
        }),
      );
      await sample('load', { requests: (r + 1) * perRound, kvBytes: engine.stats().kvBytes });
    }
  } finally {
    await engine.close();
    await telemetry.shutdown();
  }
}

await main(process.argv.slice(2));
