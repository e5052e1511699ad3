import { execFileSync } from 'node:child_process';
import { defaultCheckpointDir } from '../model/model-dir.ts';
import type { StageSample } from './memory-stage.ts';
import { table } from './stats.ts';

/**
 * `reverie bench memory`: where the server's resident memory goes. Each stage runs in a fresh
 * process (memory-stage.ts) that loads the server up to that point: bare node, the server's
 * modules, the engine ready (worker thread, onnxruntime, session, tokenizers), then rounds of
 * concurrent mixed-mode requests with distinct prompts. It measures the runtime it is started
 * with: `node dist/cli/main.js bench memory` (what `npm start` runs) or tsx on the sources.
 */

export interface MemoryBenchOptions {
  checkpoint?: string;
  rounds: number;
  concurrency: number;
  log?: (s: string) => void;
}

export interface MemoryBenchResult {
  /** `dist` (compiled) or `tsx` (TypeScript sources through tsx). */
  runtime: 'dist' | 'tsx';
  checkpoint: string;
  samples: StageSample[];
}

export function benchMemory(o: MemoryBenchOptions): MemoryBenchResult {
  const checkpoint = o.checkpoint ?? defaultCheckpointDir();
  const fromSources = import.meta.url.endsWith('.ts');
  const script = new URL(fromSources ? './memory-stage.ts' : './memory-stage.js', import.meta.url);
  const loader = fromSources ? ['--import', 'tsx'] : [];
  const samples: StageSample[] = [];
  for (const stage of ['node', 'modules', 'engine', 'load']) {
    o.log?.(`bench memory: ${stage}`);
    const out = execFileSync(
      process.execPath,
      [...loader, '--expose-gc', script.pathname, stage, checkpoint, String(o.rounds), String(o.concurrency)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    for (const line of out.split('\n').filter(Boolean)) samples.push(JSON.parse(line) as StageSample);
  }
  return { runtime: fromSources ? 'tsx' : 'dist', checkpoint, samples };
}

const LABELS: Record<string, string> = {
  node: 'node (the stage script alone)',
  modules: '+ server modules (API, telemetry, engine façade)',
  engine: '+ engine ready (worker thread, onnxruntime, session, tokenizers)',
};

export function formatMemory(r: MemoryBenchResult): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  let previous = 0;
  const rows = r.samples.map((s) => {
    const label =
      s.stage === 'load' ? `+ ${s.requests} requests (KV ${mib(s.kvBytes ?? 0)} MiB)` : LABELS[s.stage]!;
    const row = [
      label,
      mib(s.rssBytes),
      `${s.rssBytes >= previous ? '+' : ''}${mib(s.rssBytes - previous)}`,
      mib(s.heapUsedBytes),
    ];
    previous = s.rssBytes;
    return row;
  });
  return [
    `bench memory (${r.runtime}): ${r.checkpoint}`,
    table(['stage', 'RSS MiB', 'Δ MiB', 'main heap MiB'], rows),
  ].join('\n');
}
