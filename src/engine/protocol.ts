import type { Checkpoint } from '../model/checkpoint.ts';
import type { ResolvedDevice } from '../model/execution-provider.ts';
import type { EngineOptions } from './config.ts';
import type { KvBudget } from './kv-budget.ts';
import type { ResolvedRequest } from './resolve-request.ts';
import {
  EngineError,
  type EngineErrorCode,
  type EngineEvent,
  type EngineStats,
  type FlowStats,
  type StepSample,
} from './types.ts';

/** Messages between the engine façade (main thread) and the engine worker. All structured-clonable. */

export interface WorkerData {
  options: EngineOptions;
}

export type ToWorker =
  /** A request resolved on the main thread (resolve-request.ts). */
  | { type: 'submit'; request: ResolvedRequest }
  | { type: 'cancel'; id: string }
  /** Flow control: the request's reader took `events` more; the worker may send that many more. */
  | { type: 'credit'; id: string; events: number }
  | { type: 'shutdown' };

/** A model as loaded by the worker: the verified checkpoint (plain data) and derived facts. */
export interface LoadedModel {
  checkpoint: Checkpoint;
  maxModelLen: number;
  /** The weights the graph runs: `none` (float), `int8` or `int4`. */
  quantization: 'none' | 'int8' | 'int4';
  /** Where the model runs (`auto` resolved) and, if `auto` fell back to the CPU, why. */
  device: ResolvedDevice;
  deviceFallback?: string;
  kvBudget: KvBudget;
}

/** The worker's part of EngineStats (the façade adds its own view of the state and flow control). */
export type WorkerStats = Omit<EngineStats, 'state' | keyof FlowStats>;

export function emptyWorkerStats(): WorkerStats {
  return {
    running: 0,
    waiting: 0,
    kvUsage: 0,
    prefixCacheUsage: 0,
    kvBytes: 0,
    preemptions: 0,
    prefixCacheQueries: 0,
    prefixCacheHits: 0,
    promptTokensComputed: 0,
    stepTimeMs: 0,
    forwardTimeMs: 0,
    kvResidentSteps: 0,
    kvSettles: 0,
  };
}

/** EngineError does not survive structured cloning as a class: it travels as plain fields. */
export interface WireError {
  code: EngineErrorCode;
  message: string;
  param: string | null;
}

export type WireEvent = Exclude<EngineEvent, { type: 'error' }> | { type: 'error'; error: WireError };

export type FromWorker =
  | { type: 'ready'; models: LoadedModel[] }
  | { type: 'fatal'; message: string }
  | { type: 'events'; items: [string, WireEvent[]][]; stats: WorkerStats; steps: StepSample[] };

export function toWire(ev: EngineEvent): WireEvent {
  if (ev.type !== 'error') return ev;
  return { type: 'error', error: { code: ev.error.code, message: ev.error.message, param: ev.error.param } };
}

export function fromWire(ev: WireEvent): EngineEvent {
  if (ev.type !== 'error') return ev;
  return { type: 'error', error: new EngineError(ev.error.code, ev.error.message, ev.error.param) };
}
