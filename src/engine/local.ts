import type { DecodeContext } from '../decoding/types.ts';
import type { Runner } from '../model/batch.ts';
import { EngineLoop, type LoopLimits } from './loop.ts';
import { resolveRequest } from './resolve-request.ts';
import type { EngineEvent, GenerateRequest } from './types.ts';

/**
 * The engine loop on the caller's own thread, without a worker or flow control: benchmarks and
 * `reverie generate` run requests through exactly the steps the server runs (resolution,
 * scheduler, batch builder, runner, decoders).
 *
 * @example
 * const local = new LocalEngine(model.runner, ctx);
 * local.submit({ id: 'a', model: ctx.name, prompt, startsInThinking: false, params }, (evs) => print(evs));
 * await local.run();
 */
export class LocalEngine {
  readonly loop: EngineLoop;
  readonly #ctx: DecodeContext;
  readonly #listeners = new Map<string, (events: EngineEvent[]) => void>();

  /** Default limits: every request admitted at once, no prefix cache, no flow control. */
  constructor(runner: Runner, ctx: DecodeContext, limits: Partial<LoopLimits> = {}) {
    this.#ctx = ctx;
    this.loop = new EngineLoop(
      runner,
      ctx,
      {
        maxNumSeqs: 256,
        maxBatchedTokens: 8192,
        kvBudgetBytes: 2 ** 31,
        prefixCache: false,
        maxBufferedEvents: Number.MAX_SAFE_INTEGER,
        ...limits,
      },
      (id, events) => this.#listeners.get(id)?.(events),
    );
  }

  /**
   * Resolves a request against the model and queues it; its events go to `onEvents` after each
   * step that produced some.
   * @throws EngineError for parameters the model refuses
   */
  submit(request: GenerateRequest, onEvents: (events: EngineEvent[]) => void = () => {}): void {
    const resolved = resolveRequest(request, this.#ctx);
    this.#listeners.set(request.id, (events) => {
      if (events.some((e) => e.type === 'done' || e.type === 'error')) this.#listeners.delete(request.id);
      onEvents(events);
    });
    this.loop.submit(resolved, performance.now());
  }

  /** Steps until no work is left; `onStep` receives each step's wall time in ms. */
  async run(onStep?: (ms: number) => void): Promise<void> {
    const now = () => performance.now();
    while (this.loop.hasWork()) {
      const t = now();
      await this.loop.step(now);
      onStep?.(now() - t);
    }
  }
}
