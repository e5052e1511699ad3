import { Worker } from 'node:worker_threads';
import { ChatTemplate } from '../model/chat-template.ts';
import { TextTokenizer } from '../model/tokenizer.ts';
import { type EngineOptionsInput, parseEngineOptions } from './config.ts';
import { FlowControl } from './flow-control.ts';
import { modelFacts } from './model-facts.ts';
import {
  emptyWorkerStats,
  type FromWorker,
  fromWire,
  type LoadedModel,
  type ToWorker,
  type WorkerStats,
} from './protocol.ts';
import type { RequestChannel } from './request-channel.ts';
import { resolveRequest } from './resolve-request.ts';
import {
  type Engine,
  EngineError,
  type EngineEvent,
  type EngineStats,
  type GenerateRequest,
  type ModelInfo,
  type StepSample,
} from './types.ts';

/**
 * The engine façade on the main thread. The model, the scheduler and the decoders run in a worker
 * thread (ORT's `run` blocks its thread); this side validates and admits requests, routes events
 * to each request's channel, and keeps the last stats snapshot.
 *
 * @example
 * const engine = createEngine({ checkpointDirs: ['models/reverie-reasoner'] });
 * await engine.ready();
 */
export function createEngine(input: EngineOptionsInput): Engine {
  return new WorkerEngine(input);
}

/**
 * The worker's entry: the compiled `worker.js` beside this file in a build (`dist/`); from the
 * TypeScript sources (tsx), a bootstrap that registers tsx in the worker first, since worker
 * threads do not inherit the parent's programmatic loaders.
 */
/** How long a stopping worker may take to finish its step and exit before it is terminated. */
const WORKER_EXIT_MS = 10_000;

const WORKER_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './worker-bootstrap.mjs' : './worker.js',
  import.meta.url,
);

class WorkerEngine implements Engine {
  readonly models: ModelInfo[] = [];
  readonly #options;
  readonly #worker: Worker;
  readonly #byName = new Map<string, ModelInfo>();
  readonly #channels = new Map<string, RequestChannel>();
  /** Requests submitted but not yet scheduled (the queue-limit count). */
  readonly #unscheduled = new Set<string>();
  /** Requests whose cancel went to the worker: a request is cancelled once, whatever asked. */
  readonly #cancelled = new Set<string>();
  /** Removes a live request's abort listener from its signal. */
  readonly #unlisten = new Map<string, () => void>();
  #state: EngineStats['state'] = 'starting';
  #stats: WorkerStats = emptyWorkerStats();
  readonly #ready: Promise<void>;
  #idle: (() => void) | null = null;
  #stopping: Promise<void> | null = null;
  #exited = false;
  readonly #stepListeners = new Set<(step: StepSample) => void>();
  readonly #flow: FlowControl;

  constructor(input: EngineOptionsInput) {
    this.#options = parseEngineOptions(input);
    this.#flow = new FlowControl(this.#options, {
      credit: (id, events) => this.#send({ type: 'credit', id, events }),
      stalled: (id) => this.#stalled(id),
    });
    this.#worker = new Worker(WORKER_ENTRY, {
      workerData: { options: this.#options },
    });
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          this.#onReady(msg.models);
          resolve();
        } else if (msg.type === 'fatal') {
          this.#die(`the engine failed: ${msg.message}`);
          reject(new Error(msg.message));
        } else this.#onEvents(msg);
      });
      this.#worker.on('error', (err) => {
        this.#die(`the engine crashed: ${err.message}`);
        reject(err);
      });
      this.#worker.on('exit', (code) => {
        this.#exited = true;
        if (this.#state !== 'closed') this.#die(`the engine exited (code ${code})`);
        reject(new Error(`the engine exited (code ${code})`));
      });
    });
    // Callers await ready(); an unobserved rejection here must not crash the process.
    this.#ready.catch(() => {});
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  stats(): EngineStats {
    return {
      ...this.#stats,
      ...this.#flow.stats(),
      state: this.#state,
      // Requests still in transit to the worker count as waiting too.
      waiting: Math.max(this.#stats.waiting, this.#unscheduled.size),
    };
  }

  /**
   * Submits a request. Admission problems (unknown model, invalid parameters, full queue, engine
   * not running) throw an EngineError right here, before any event.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<EngineEvent> {
    if (this.#state !== 'ready') throw new EngineError('unavailable', `the engine is ${this.#state}`);
    const model = this.#byName.get(request.model);
    if (!model)
      throw new EngineError('model_not_found', `the model ${request.model} does not exist`, 'model');
    if (this.#channels.has(request.id))
      throw new EngineError('invalid_value', `duplicate request id ${request.id}`);
    if (this.#unscheduled.size >= this.#options.queueLimit) {
      throw new EngineError('overloaded', `the queue is full (${this.#options.queueLimit} requests waiting)`);
    }
    // The one resolution of the request's parameters; the worker receives the result.
    const resolved = resolveRequest(request, model.facts);
    const channel = this.#flow.channel(request.id);
    channel.onAbandon = () => this.cancel(request.id);
    this.#channels.set(request.id, channel);
    this.#unscheduled.add(request.id);
    if (signal) {
      const onAbort = () => this.cancel(request.id);
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.#unlisten.set(request.id, () => signal.removeEventListener('abort', onAbort));
      }
    }
    this.#send({ type: 'submit', request: resolved });
    return channel;
  }

  onStep(listener: (step: StepSample) => void): () => void {
    this.#stepListeners.add(listener);
    return () => this.#stepListeners.delete(listener);
  }

  /**
   * Cancels a live request, once: an abort of its signal, its reader leaving (iterator return,
   * an abandoned channel) and a WebSocket `response.cancel` may all ask; the worker hears it once.
   */
  cancel(id: string): void {
    if (!this.#channels.has(id) || this.#cancelled.has(id)) return;
    this.#cancelled.add(id);
    this.#send({ type: 'cancel', id });
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state === 'dead') {
      // A dead worker exits by itself once its sessions are released; wait for it.
      await this.#stopWorker();
      return;
    }
    this.#state = 'closed';
    if (this.#channels.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#idle = resolve;
        }),
        new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    this.#failAll(new EngineError('unavailable', 'the engine was closed'));
    await this.#stopWorker();
  }

  destroy(): void {
    if (this.#state === 'closed' && this.#channels.size === 0) return;
    this.#state = 'closed';
    this.#failAll(new EngineError('unavailable', 'the engine was destroyed'));
    void this.#stopWorker();
  }

  /**
   * Asks the worker to stop and waits for it to exit: it finishes the step in flight, releases its
   * ORT sessions and exits. Terminating it mid-`session.run` instead aborts the whole process
   * (onnxruntime-node's callback throws into the torn-down worker). Only a worker that does not
   * exit within WORKER_EXIT_MS (a runaway step) is terminated. Idempotent.
   */
  #stopWorker(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      const timer = setTimeout(() => void this.#worker.terminate(), WORKER_EXIT_MS);
      timer.unref();
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#send({ type: 'shutdown' });
    });
    return this.#stopping;
  }

  #send(msg: ToWorker): void {
    this.#worker.postMessage(msg);
  }

  #onReady(models: LoadedModel[]): void {
    for (const loaded of models) {
      const { checkpoint } = loaded;
      const tokenizer = new TextTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
      const info: ModelInfo = {
        facts: modelFacts({
          manifest: checkpoint.manifest,
          tokenizer,
          maxModelLen: loaded.maxModelLen,
          vocabSize: checkpoint.config.vocabSize,
        }),
        name: checkpoint.manifest.name,
        root: checkpoint.dir,
        manifest: checkpoint.manifest,
        maxModelLen: loaded.maxModelLen,
        quantization: loaded.quantization,
        device: loaded.device,
        ...(loaded.deviceFallback !== undefined && { deviceFallback: loaded.deviceFallback }),
        kvBudget: loaded.kvBudget,
        tokenizer,
        chatTemplate: checkpoint.tokenizerConfig.chat_template
          ? ChatTemplate.fromTokenizerConfig(checkpoint.tokenizerConfig)
          : null,
        created: Math.floor(Date.now() / 1000),
      };
      this.models.push(info);
      this.#byName.set(info.name, info);
    }
    if (this.#state === 'starting') this.#state = 'ready';
  }

  #onEvents(msg: Extract<FromWorker, { type: 'events' }>): void {
    this.#stats = msg.stats;
    for (const step of msg.steps) for (const listener of this.#stepListeners) listener(step);
    for (const [id, events] of msg.items) {
      const channel = this.#channels.get(id);
      if (!channel) continue;
      for (const wire of events) {
        const ev = fromWire(wire);
        if (ev.type === 'scheduled') this.#unscheduled.delete(id);
        channel.push(ev);
      }
      if (channel.ended) this.#end(id);
    }
  }

  /** Flow control gave up on a paused request: the worker drops it, its reader gets why after what it left unread. */
  #stalled(id: string): void {
    const channel = this.#channels.get(id);
    if (!channel) return;
    this.cancel(id);
    this.#flow.forget(id);
    const seconds = this.#options.stallTimeoutMs / 1000;
    channel.push({
      type: 'error',
      error: new EngineError(
        'slow_reader',
        `the client read nothing for ${seconds} s with ${this.#options.maxBufferedEvents} events waiting; request cancelled`,
      ),
    });
    this.#end(id);
  }

  #end(id: string): void {
    this.#unlisten.get(id)?.();
    this.#unlisten.delete(id);
    this.#cancelled.delete(id);
    this.#flow.forget(id);
    this.#channels.delete(id);
    this.#unscheduled.delete(id);
    if (this.#channels.size === 0) this.#idle?.();
  }

  #failAll(error: EngineError): void {
    for (const [id, channel] of this.#channels) {
      channel.push({ type: 'error', error });
      this.#end(id);
    }
  }

  #die(message: string): void {
    if (this.#state === 'dead') return;
    this.#state = 'dead';
    this.#failAll(new EngineError('unavailable', message));
  }
}
