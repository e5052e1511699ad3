import { freemem } from 'node:os';

/**
 * The KV cache budget of one model. Unless configured, it is what the configuration can use:
 * every sequence at full length (max_num_seqs × max_model_len, in whole blocks) plus a share for
 * the prefix cache, capped by a fraction of the memory still free, so a small model on a big
 * machine does not reserve gigabytes it will never touch (the prefix cache fills whatever budget
 * it is given, lazily).
 */

/** Of the budget, what the prefix cache may hold (it evicts beyond; requests take it back on demand). */
export const PREFIX_CACHE_SHARE = 0.2;
/** Of the free memory at start, the most a derived budget takes (all models together). */
export const FREE_MEMORY_SHARE = 0.5;

export interface KvBudget {
  bytes: number;
  /** true: derived from the configuration; false: REVERIE_KV_BUDGET_BYTES. */
  derived: boolean;
  /** KV bytes of one position (keys and values of every layer, at the runner's KV precision). */
  bytesPerPosition: number;
  /** max_num_seqs sequences of max_model_len positions. */
  sequencesBytes: number;
  /** Free memory seen at start (MemAvailable, or what the cgroup limit leaves). */
  freeBytes: number;
  /** The derived budget was cut to FREE_MEMORY_SHARE of the free memory. */
  capped: boolean;
}

/**
 * Memory free for the server to take now: the system's available memory, or less when a cgroup
 * limit (containers) leaves less above what the process already holds.
 */
export function freeMemory(): number {
  const system = freemem();
  const limit = process.constrainedMemory?.() ?? 0;
  // No limit reads as 0 or as a huge number (cgroup v1's "unlimited").
  if (limit <= 0 || limit >= 2 ** 60) return system;
  return Math.max(0, Math.min(system, limit - process.memoryUsage.rss()));
}

export interface KvBudgetInput {
  /** REVERIE_KV_BUDGET_BYTES, when set. */
  configured?: number;
  maxNumSeqs: number;
  maxModelLen: number;
  /** The runner's KV geometry (`Runner.kvBytesPerPosition`, `Runner.kvBlockSize`). */
  bytesPerPosition: number;
  blockSize: number;
  /** Models served by this engine: they share the free memory. */
  models: number;
  freeBytes: number;
}

export function kvBudget(input: KvBudgetInput): KvBudget {
  const block = input.blockSize;
  const blocksPerSequence = Math.ceil(input.maxModelLen / block);
  const sequencesBytes = input.maxNumSeqs * blocksPerSequence * block * input.bytesPerPosition;
  const facts = { bytesPerPosition: input.bytesPerPosition, sequencesBytes, freeBytes: input.freeBytes };
  if (input.configured !== undefined) {
    return { ...facts, bytes: input.configured, derived: false, capped: false };
  }
  const wanted = Math.ceil(sequencesBytes / (1 - PREFIX_CACHE_SHARE));
  const cap = Math.floor((FREE_MEMORY_SHARE * input.freeBytes) / input.models);
  const blockBytes = block * input.bytesPerPosition;
  // Whole blocks, and at least one sequence at full length.
  const bytes = Math.max(
    blocksPerSequence * blockBytes,
    Math.floor(Math.min(wanted, cap) / blockBytes) * blockBytes,
  );
  return { ...facts, bytes, derived: true, capped: cap < wanted };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * One line for the start-up log.
 * @example describeKvBudget(b, 64, 512) // "80.0 MiB (64 sequences × 512 positions × 2048 B = 64.0 MiB, 80% of it; the prefix cache up to 20%; 21.3 GiB free)"
 */
export function describeKvBudget(b: KvBudget, maxNumSeqs: number, maxModelLen: number): string {
  const free = `${(b.freeBytes / 2 ** 30).toFixed(1)} GiB free`;
  const share = `the prefix cache up to ${PREFIX_CACHE_SHARE * 100}%`;
  if (!b.derived) return `${mib(b.bytes)} (REVERIE_KV_BUDGET_BYTES; ${share}; ${free})`;
  const need = `${maxNumSeqs} sequences × ${maxModelLen} positions × ${b.bytesPerPosition} B = ${mib(b.sequencesBytes)}`;
  if (b.capped)
    return `${mib(b.bytes)} (${need} wanted; capped at ${FREE_MEMORY_SHARE * 100}% of ${free}; ${share})`;
  return `${mib(b.bytes)} (${need}, ${(1 - PREFIX_CACHE_SHARE) * 100}% of it; ${share}; ${free})`;
}
