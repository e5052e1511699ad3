import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EvalReport } from '../../src/eval/report.ts';
import {
  checkpointDigest,
  previousReports,
  type ReuseKey,
  reusableReport,
  type StoredVariantReport,
} from '../../src/eval/reuse.ts';

/** `npm run eval:models -- --reuse` keeps a report only for the same checkpoint bytes and settings. */

const root = mkdtempSync(join(tmpdir(), 'reverie-reuse-'));

function checkpoint(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'reverie.json'), JSON.stringify({ format: 'reverie-checkpoint/1', name, files }));
  return dir;
}

function report(task: string, n: number, ks: number[] = [1, 8, 32]): EvalReport {
  return {
    eval: 'reverie',
    url: 'http://127.0.0.1:1',
    model: 'm',
    task,
    n,
    samples: 32,
    config: { ks, budgets: [], maxTokens: 16, thinkingMaxTokens: 64, seed: 0 },
    modes: [],
    failures: [],
    requests: n,
    durationMs: 1,
  };
}

describe('eval:models --reuse', () => {
  const a = checkpoint('a', { 'model.safetensors': '11', 'config.json': '22' });
  const sameFilesOtherOrder = checkpoint('b', { 'config.json': '22', 'model.safetensors': '11' });
  const otherWeights = checkpoint('c', { 'model.safetensors': '12', 'config.json': '22' });

  it('digests the manifest files map, not its order', () => {
    assert.equal(checkpointDigest(a), checkpointDigest(sameFilesOtherOrder));
    assert.notEqual(checkpointDigest(a), checkpointDigest(otherWeights));
    assert.throws(() => checkpointDigest(checkpoint('empty', {})), /lists no files/);
  });

  it('reuses only a report of the same variant, task, checkpoint and settings', () => {
    const digest = checkpointDigest(a);
    const stored: Record<string, StoredVariantReport[]> = {
      reachability: [
        { variant: 'sft', checkpoint: digest, report: report('reachability', 100) },
        { variant: 'latent', report: report('reachability', 100) }, // an older file: no digest
      ],
    };
    const key: ReuseKey = {
      variant: 'sft',
      task: 'reachability',
      checkpoint: digest,
      n: 100,
      ks: [1, 8, 32],
      budgets: [],
      maxTokens: 16,
      seed: 0,
    };
    assert.equal(reusableReport(stored, key), stored.reachability![0]!.report);
    assert.equal(reusableReport(stored, { ...key, checkpoint: checkpointDigest(otherWeights) }), null);
    assert.equal(reusableReport(stored, { ...key, n: 200 }), null);
    assert.equal(reusableReport(stored, { ...key, ks: [1, 8] }), null);
    assert.equal(reusableReport(stored, { ...key, seed: 1 }), null);
    assert.equal(reusableReport(stored, { ...key, maxTokens: 32 }), null);
    assert.equal(reusableReport(stored, { ...key, task: 'arithmetic' }), null);
    assert.equal(reusableReport(stored, { ...key, variant: 'latent' }), null);
    const failed = {
      ...report('reachability', 100),
      failures: [{ question: 0, mode: 'hard' as const, kind: 'greedy' as const, error: 'x' }],
    };
    const withFailure = { reachability: [{ variant: 'sft', checkpoint: digest, report: failed }] };
    assert.equal(reusableReport(withFailure, key), null);
  });

  it('reads the byTask map of an earlier results file, or nothing', () => {
    assert.deepEqual(previousReports(join(root, 'missing.json')), {});
    const path = join(root, 'eval-results.json');
    writeFileSync(
      path,
      JSON.stringify({ byTask: { arithmetic: [{ variant: 'sft', report: report('arithmetic', 5) }] } }),
    );
    assert.equal(previousReports(path).arithmetic![0]!.report.n, 5);
  });
});
