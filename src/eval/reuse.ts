import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalReport } from './report.ts';
import type { VariantReport } from './tables.ts';

/**
 * `npm run eval:models -- --reuse`: a variant whose checkpoint is byte for byte the one measured
 * last time keeps its earlier reports instead of being measured again (a 5-variant run is ~25 min
 * here; adding two RL variants to a deterministic rerun of the others need not pay for all five).
 * Identity is the sha256 of every file the manifest lists: the loader refuses a file that does not
 * match its listed sha256, so equal digests mean the server was serving the same bytes.
 */

/** The digest of a checkpoint folder: sha256 over its manifest's sorted `files` map. */
export function checkpointDigest(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'reverie.json'), 'utf8')) as {
    files?: Record<string, string>;
  };
  const files = Object.entries(manifest.files ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) throw new Error(`${dir}/reverie.json lists no files`);
  return createHash('sha256').update(JSON.stringify(files)).digest('hex');
}

/** A variant's report as docs/eval-results.json keeps it: with the digest of the served checkpoint. */
export interface StoredVariantReport extends VariantReport {
  checkpoint?: string;
}

/** The settings a reused report must have been measured with. */
export interface ReuseKey {
  variant: string;
  task: string;
  checkpoint: string;
  n: number;
  ks: readonly number[];
  budgets: readonly number[];
  maxTokens: number;
  seed: number;
}

/** The byTask map of an earlier docs/eval-results.json, or {} when there is none. */
export function previousReports(path: string): Record<string, StoredVariantReport[]> {
  if (!existsSync(path)) return {};
  const all = JSON.parse(readFileSync(path, 'utf8')) as { byTask?: Record<string, StoredVariantReport[]> };
  return all.byTask ?? {};
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The earlier report of this variant and task, when it was measured on the same checkpoint bytes
 * with the same settings (an older file without digests reuses nothing); otherwise null.
 */
export function reusableReport(
  previous: Record<string, StoredVariantReport[]>,
  key: ReuseKey,
): EvalReport | null {
  const hit = (previous[key.task] ?? []).find(
    (v) =>
      v.variant === key.variant &&
      v.checkpoint === key.checkpoint &&
      v.report.task === key.task &&
      v.report.n === key.n &&
      v.report.failures.length === 0 &&
      same(v.report.config.ks, key.ks) &&
      same(v.report.config.budgets, key.budgets) &&
      v.report.config.maxTokens === key.maxTokens &&
      v.report.config.seed === key.seed,
  );
  return hit ? hit.report : null;
}
