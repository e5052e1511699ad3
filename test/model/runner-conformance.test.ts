import { kvBytesPerPosition } from '../../src/model/kv-store.ts';
import { ReferenceRunner } from '../../src/model/reference-runner.ts';
import { openTinyModel } from '../helpers/tiny-models.ts';
import { runnerConformance } from './runner-conformance.ts';

/** The runner conformance suite against the ONNX runner (float32 and float16 KV) and the float64 reference runner. */

runnerConformance('ONNX runner, float32 KV', async () => {
  const m = await openTinyModel('runner');
  return { ...m, kvBytesPerPosition: kvBytesPerPosition(m.cfg), tolerance: 1e-4, selfTolerance: 1e-4 };
});

runnerConformance('ONNX runner, float16 KV', async () => {
  const m = await openTinyModel('runner', {}, null, { kvDtype: 'float16' });
  return { ...m, kvBytesPerPosition: kvBytesPerPosition(m.cfg) / 2, tolerance: 2e-2, selfTolerance: 2e-2 };
});

runnerConformance('float64 reference runner', async () => {
  const m = await openTinyModel('runner');
  await m.runner.close();
  const runner = new ReferenceRunner(m.cfg, m.weights);
  // Its outputs are float64 rounded to float32.
  return {
    ...m,
    runner,
    kvBytesPerPosition: kvBytesPerPosition(m.cfg) * 2,
    tolerance: 1e-5,
    selfTolerance: 1e-5,
  };
});

runnerConformance('ONNX runner, KV resident between decode steps (host tensors)', async () => {
  const m = await openTinyModel('runner', {}, null, { residentKv: true });
  return { ...m, kvBytesPerPosition: kvBytesPerPosition(m.cfg), tolerance: 1e-4, selfTolerance: 1e-4 };
});
