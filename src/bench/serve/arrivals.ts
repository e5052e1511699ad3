import { setTimeout as sleep } from 'node:timers/promises';
import { Rng } from '../../decoding/rng.ts';
import { nowMs } from '../stats.ts';

/**
 * When requests start: all at once under a concurrency cap, or as a Poisson process at a given
 * rate (exponential gaps from a seeded generator), optionally also under the cap.
 */

export interface ArrivalPlan {
  /** Requests per second; `Infinity` sends each as soon as the cap allows. */
  requestRate: number;
  /** Most requests in flight; `Infinity` for no cap. */
  maxConcurrency: number;
  seed: number;
}

/**
 * Send times of `count` Poisson arrivals at `rate` per second, ms from the start (the first at 0).
 * @example poissonOffsets(3, 4, 0) // [0, 2.93…, 563.66…]: gaps average 250 ms over many arrivals
 */
export function poissonOffsets(count: number, rate: number, seed: number): number[] {
  const offsets: number[] = [];
  if (!Number.isFinite(rate)) return Array.from({ length: count }, () => 0);
  const rng = new Rng(seed);
  let t = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(t);
    t += (-Math.log(1 - rng.next()) / rate) * 1000;
  }
  return offsets;
}

/** A counting semaphore: `acquire` resolves once fewer than `limit` holders remain. */
class Gate {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

/**
 * Starts `run(i)` for i = 0…count−1 on the plan's schedule and resolves when all have finished.
 * A request held back by the cap starts as soon as a slot frees; later arrivals keep their times.
 */
export async function dispatch(
  count: number,
  plan: ArrivalPlan,
  run: (index: number) => Promise<void>,
): Promise<void> {
  const offsets = poissonOffsets(count, plan.requestRate, plan.seed);
  const gate = new Gate(plan.maxConcurrency);
  const start = nowMs();
  const running: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + offsets[i]! - nowMs();
    if (wait > 0) await sleep(wait);
    await gate.acquire();
    running.push(run(i).finally(() => gate.release()));
  }
  await Promise.all(running);
}
