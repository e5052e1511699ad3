import type { Engine, EngineEvent, GenerateRequest } from '../../engine/types.ts';
import type { RequestTelemetry } from '../../telemetry/request-telemetry.ts';
import { type ApiError, toApiError } from '../errors.ts';
import { OutputAccumulator, type OutputDelta, type OutputOptions } from './output.ts';

/**
 * Submits a request and reads its events once, into the request's one output accumulator and its
 * telemetry. The engine refuses at submission (queue full, invalid for the model, engine not
 * running) by throwing, before the caller commits to a response, so those become a proper HTTP
 * status; later failures arrive as an `error` event, thrown from {@link Generation.deltas}.
 */

export interface StartOptions {
  engine: Engine;
  /** The request's span and metrics, started when the request arrived. */
  telemetry: RequestTelemetry | null;
  retryAfterSeconds: number;
  /** Aborting cancels the generation and frees its KV. */
  signal: AbortSignal;
  /** `gen_ai.request.stream`. */
  stream: boolean;
  output: OutputOptions;
}

/**
 * Turns what a request failed with into its ApiError and records it on the request's telemetry
 * (`error.type`: the error's code, else its type). Callers throw the result.
 */
export function failed(
  telemetry: RequestTelemetry | null,
  err: unknown,
  retryAfterSeconds?: number,
): ApiError {
  const e = toApiError(err, retryAfterSeconds);
  telemetry?.fail(e.code ?? e.type, e.message);
  return e;
}

/** A submitted request: its output so far, and its changes as they come. */
export class Generation {
  readonly output: OutputAccumulator;
  readonly #iterator: AsyncIterator<EngineEvent>;
  readonly #telemetry: RequestTelemetry | null;
  #started = false;

  constructor(
    iterator: AsyncIterator<EngineEvent>,
    telemetry: RequestTelemetry | null,
    output: OutputAccumulator,
  ) {
    this.#iterator = iterator;
    this.#telemetry = telemetry;
    this.output = output;
  }

  /**
   * The output's changes in order, ending with `done`. Read once. Ending the loop early (client
   * gone, slow reader) cancels the engine side.
   * @throws ApiError when the request fails
   */
  async *deltas(): AsyncGenerator<OutputDelta, void, undefined> {
    if (this.#started) throw new Error('a generation is read once');
    this.#started = true;
    let ended = false;
    try {
      for (let next = await this.#iterator.next(); !next.done; next = await this.#iterator.next()) {
        const ev = next.value;
        const deltas = this.output.push(ev);
        this.#telemetry?.event(ev, this.output);
        if (ev.type === 'error') {
          ended = true;
          throw toApiError(ev.error);
        }
        if (ev.type === 'done') ended = true;
        yield* deltas;
        if (ended) return;
      }
      ended = true;
      throw failed(this.#telemetry, new Error('the engine ended the request without a result'));
    } finally {
      if (!ended) {
        this.#telemetry?.cancelled();
        await this.#iterator.return?.();
      }
    }
  }

  /**
   * Reads the request to its end.
   * @throws ApiError when it fails
   */
  async collect(): Promise<OutputAccumulator> {
    for await (const _ of this.deltas());
    return this.output;
  }
}

/**
 * @returns the submitted request's generation
 * @throws ApiError when the engine refuses the request
 */
export function startGeneration(request: GenerateRequest, options: StartOptions): Generation {
  const telemetry = options.telemetry;
  telemetry?.submitted(request, options.stream);
  let iterator: AsyncIterator<EngineEvent>;
  try {
    iterator = options.engine.generate(request, options.signal)[Symbol.asyncIterator]();
  } catch (err) {
    throw failed(telemetry, err, options.retryAfterSeconds);
  }
  return new Generation(iterator, telemetry, new OutputAccumulator(options.output));
}
