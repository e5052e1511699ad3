import type { Generation } from './generation.ts';
import type { OutputAccumulator, OutputDelta } from './output.ts';

/**
 * Renders a request's output changes in one protocol: chat completion chunks, text completion
 * chunks, WebSocket messages — and, next, Responses API events. One mapper per endpoint; every
 * one reads the same accumulator (output.ts).
 */
export interface ChunkMapper<C> {
  /** What goes out before any output (chat's role chunks). */
  start?(): C[];
  /** What one change becomes (nothing for a change the protocol does not show). */
  map(delta: OutputDelta, output: OutputAccumulator): C[];
}

/**
 * The chunks of a generation in order: the one loop every streaming endpoint runs.
 * @throws ApiError when the request fails (after the chunks before it)
 * @example for await (const chunk of mapChunks(generation, chatChunkMapper(prepared))) send(chunk);
 */
export async function* mapChunks<C>(
  generation: Generation,
  mapper: ChunkMapper<C>,
): AsyncGenerator<C, void, undefined> {
  yield* mapper.start?.() ?? [];
  for await (const delta of generation.deltas()) yield* mapper.map(delta, generation.output);
}
