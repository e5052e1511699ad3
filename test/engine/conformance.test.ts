import { Worker } from 'node:worker_threads';
import { createEngine } from '../../src/engine/engine.ts';
import { FakeEngine } from '../api/fake-engine.ts';
import { tinyCheckpoint } from '../helpers/engine-fixtures.ts';
import { engineConformance } from './engine-conformance.ts';

/** The Engine conformance suite against both implementations. */

// The worker engine's cancels are the messages it posts to its worker.
const workerCancels = new Map<string, number>();
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: never[]) {
  const m = message as { type?: string; id?: string };
  if (m?.type === 'cancel' && m.id) workerCancels.set(m.id, (workerCancels.get(m.id) ?? 0) + 1);
  return post.call(this, message, ...rest);
};

engineConformance('worker engine (tiny model)', {
  start: async () => createEngine({ checkpointDirs: [await tinyCheckpoint()], threads: 1 }),
  cancelsOf: (id) => workerCancels.get(id) ?? 0,
  // K and V × 2 layers × 2 KV heads × 16 dims × 4 bytes.
  kvBytesPerPosition: 512,
});

engineConformance('worker engine (tiny model, float16 KV)', {
  start: async () =>
    createEngine({ checkpointDirs: [await tinyCheckpoint()], threads: 1, kvDtype: 'float16' }),
  cancelsOf: (id) => workerCancels.get(id) ?? 0,
  kvBytesPerPosition: 256,
});

// The device-resident KV path (WebGPU's) through the whole engine, on host tensors.
engineConformance('worker engine (tiny model, KV resident between decode steps)', {
  start: async () => createEngine({ checkpointDirs: [await tinyCheckpoint()], threads: 1, residentKv: true }),
  cancelsOf: (id) => workerCancels.get(id) ?? 0,
  kvBytesPerPosition: 512,
});

let fake: FakeEngine;
engineConformance('FakeEngine (scripted)', {
  start: async () => {
    fake = new FakeEngine();
    return fake;
  },
  cancelsOf: (id) => fake.cancelled.filter((c) => c === id).length,
});
