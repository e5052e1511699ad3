import { parentPort, workerData } from 'node:worker_threads';
import { StructuredOutputCompiler } from '../decoding/structured/grammar-compiler.ts';
import { grammarVocabulary } from '../decoding/structured/vocabulary.ts';
import { openModel } from '../model/open-model.ts';
import type { ModelRunner } from '../model/runner.ts';
import { decodeContext } from './decode-context.ts';
import { FREE_MEMORY_SHARE, freeMemory, kvBudget } from './kv-budget.ts';
import { EngineLoop } from './loop.ts';
import { resolveMaxModelLen } from './model-len.ts';
import {
  emptyWorkerStats,
  type FromWorker,
  type LoadedModel,
  type ToWorker,
  toWire,
  type WireEvent,
  type WorkerData,
  type WorkerStats,
} from './protocol.ts';
import { EngineError } from './types.ts';

/**
 * The engine worker: owns the ORT sessions (whose `run` blocks the thread), the schedulers and the
 * decoders. It loops step after step while there is work, handling submit/cancel messages between
 * steps, and posts each step's events in one message.
 */

const port = parentPort!;
const { options } = workerData as WorkerData;
const loops = new Map<string, EngineLoop>();
/** Every opened model's runner, closed (ORT sessions released) before the worker exits. */
const runners: ModelRunner[] = [];
let outbox: [string, WireEvent[]][] = [];
let wake: (() => void) | null = null;
let shuttingDown = false;

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

function stats(): WorkerStats {
  const s = emptyWorkerStats();
  let used = 0;
  let cached = 0;
  let capacity = 0;
  for (const ex of loops.values()) {
    const sch = ex.scheduler;
    s.running += sch.running.length;
    s.waiting += sch.waiting.length;
    used += sch.kv.usedBlocks - sch.kv.cachedBlocks;
    cached += sch.kv.cachedBlocks;
    capacity += sch.kv.capacityBlocks;
    s.kvBytes += ex.kvBytes();
    s.preemptions += sch.preemptions;
    s.prefixCacheQueries += sch.prefix.queries;
    s.prefixCacheHits += sch.prefix.hits;
    s.promptTokensComputed += ex.prefillPositions;
    s.stepTimeMs += ex.stepMs;
    s.forwardTimeMs += ex.forwardMs;
  }
  for (const runner of runners) {
    s.kvResidentSteps += runner.residentSteps;
    s.kvSettles += runner.kvSettles;
  }
  s.kvUsage = capacity > 0 ? used / capacity : 0;
  s.prefixCacheUsage = capacity > 0 ? cached / capacity : 0;
  return s;
}

function flush(): void {
  const steps = [];
  for (const ex of loops.values()) {
    steps.push(...ex.steps);
    ex.steps = [];
  }
  post({ type: 'events', items: outbox, stats: stats(), steps });
  outbox = [];
}

function emit(id: string, events: import('./types.ts').EngineEvent[]): void {
  outbox.push([id, events.map(toWire)]);
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'submit') {
    const ex = loops.get(msg.request.model);
    if (!ex)
      emit(msg.request.id, [
        {
          type: 'error',
          error: new EngineError('model_not_found', `unknown model ${msg.request.model}`, 'model'),
        },
      ]);
    else ex.submit(msg.request, performance.now());
  } else if (msg.type === 'cancel') {
    for (const ex of loops.values()) ex.cancel(msg.id);
  } else if (msg.type === 'credit') {
    for (const ex of loops.values()) ex.credit(msg.id, msg.events);
  } else if (msg.type === 'shutdown') {
    shuttingDown = true;
    for (const ex of loops.values())
      ex.failAll(new EngineError('unavailable', 'the engine is shutting down'));
  }
  // Every message changes what the stats say (queue, KV): report after each one.
  flush();
  wake?.();
});

async function load(): Promise<void> {
  const loaded: LoadedModel[] = [];
  // Measured once, before any model takes its share.
  const freeBytes = freeMemory();
  for (const dir of options.checkpointDirs) {
    const model = await openModel(dir, {
      device: options.device,
      threads: options.threads,
      kvDtype: options.kvDtype,
      quantization: options.quantization,
      residentKv: options.residentKv,
    });
    const { runner, checkpoint } = model;
    runners.push(runner);
    const kv = { bytesPerPosition: runner.kvBytesPerPosition, blockSize: runner.kvBlockSize };
    let maxModelLen: number;
    try {
      maxModelLen = resolveMaxModelLen(checkpoint.config, kv, {
        maxModelLen: options.maxModelLen,
        kvBudgetBytes: options.kvBudgetBytes,
        budgetCapBytes: Math.floor((FREE_MEMORY_SHARE * freeBytes) / options.checkpointDirs.length),
      });
    } catch (err) {
      // Its runner is closed with the others as the worker exits.
      throw new Error(`${checkpoint.manifest.name}: ${(err as Error).message}`);
    }
    const ctx = decodeContext(checkpoint, model.tokenizer, model.graph.embeddingRms, {
      loadNgram: true,
      maxModelLen,
    });
    const budget = kvBudget({
      configured: options.kvBudgetBytes,
      maxNumSeqs: options.maxNumSeqs,
      maxModelLen,
      ...kv,
      models: options.checkpointDirs.length,
      freeBytes,
    });
    const engineLoop = new EngineLoop(
      runner,
      ctx,
      {
        maxNumSeqs: options.maxNumSeqs,
        maxBatchedTokens: options.maxBatchedTokens,
        kvBudgetBytes: budget.bytes,
        prefixCache: options.prefixCache,
        maxBufferedEvents: options.maxBufferedEvents,
      },
      emit,
      {
        // Built on the first constrained request: XGrammar loads and reads the vocabulary then.
        structured: new StructuredOutputCompiler(() =>
          grammarVocabulary(
            checkpoint.tokenizerJson,
            model.tokenizer,
            checkpoint.config.vocabSize,
            ctx.eosIds,
            [ctx.thinkStartId, ctx.thinkEndId].filter((id): id is number => id !== null),
          ),
        ),
        onWork: () => wake?.(),
      },
    );
    loops.set(checkpoint.manifest.name, engineLoop);
    loaded.push({
      checkpoint,
      maxModelLen,
      quantization: model.graph.quantization?.weights ?? 'none',
      device: runner.device,
      ...(runner.deviceFallback !== undefined && { deviceFallback: runner.deviceFallback }),
      kvBudget: budget,
    });
  }
  post({ type: 'ready', models: loaded });
}

async function loop(): Promise<void> {
  const now = () => performance.now();
  while (!shuttingDown) {
    let worked = false;
    for (const ex of loops.values()) {
      if (!ex.hasWork()) continue;
      await ex.step(now);
      worked = true;
    }
    if (outbox.length > 0 || worked) flush();
    // Let submit/cancel messages in between steps; sleep when idle.
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (worked) setImmediate(resolve);
    });
    wake = null;
  }
}

/**
 * Ends the worker once no `session.run` is in flight: the main thread must never terminate a
 * worker mid-run, since onnxruntime-node's completion callback then throws into a torn-down
 * environment and aborts the whole process (`terminate called after throwing Napi::Error`).
 */
async function exitCleanly(code: number): Promise<void> {
  for (const runner of runners.splice(0)) await runner.close().catch(() => {});
  process.exit(code);
}

load()
  .then(loop)
  .then(
    () => exitCleanly(0),
    (err: unknown) => {
      post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
      return exitCleanly(1);
    },
  );
