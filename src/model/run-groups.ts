/**
 * How to split one engine step into `session.run` calls. The graph takes rectangular inputs
 * ([B, S, K] bags, [B, S, D] embeddings), so one run pads every row to the longest chunk S and the
 * widest bag K of the batch. Mixing a 512-token prompt chunk with 15 decode rows would compute
 * 16 × 512 positions instead of 527, and one soft-thinking row whose bag holds thousands of ids
 * would make every row gather that many embeddings (K·D floats per position). When padding costs
 * more than an extra run, the rows go to separate runs: prompt chunks apart from decode rows, wide
 * bags apart from narrow ones. Rows are independent, so the outputs are the same either way.
 */

/** What the planner needs of a row. */
export interface RowShape {
  /** New positions (S). */
  count: number;
  /** Bag entries per position (K). */
  bagSize: number;
}

export interface CostModel {
  /** Cost of one position's forward through the layers, in multiply-adds (≈ non-embedding parameters). */
  positionCost: number;
  /** Cost of one bag entry: gathering and weighting one embedding row (≈ hidden size). */
  bagEntryCost: number;
  /** Fixed cost of one extra `session.run`, in the same units. */
  runCost: number;
}

/** Multiply-adds of one padded run over these rows. */
export function runCost(rows: readonly RowShape[], m: CostModel): number {
  let S = 0;
  let K = 0;
  for (const r of rows) {
    S = Math.max(S, r.count);
    K = Math.max(K, r.bagSize);
  }
  return rows.length * S * (m.positionCost + K * m.bagEntryCost) + m.runCost;
}

/**
 * Groups of row indices, one `session.run` each, in the order to run them. Candidates: one run;
 * prompt chunks apart from decode rows; and each of those further split at a bag-size threshold.
 * The cheapest by `runCost` wins (ties keep fewer runs).
 */
export function planRuns(rows: readonly RowShape[], m: CostModel): number[][] {
  const all = rows.map((_, i) => i);
  if (rows.length < 2) return [all];
  const cost = (groups: number[][]) =>
    groups.reduce(
      (sum, g) =>
        sum +
        runCost(
          g.map((i) => rows[i]!),
          m,
        ),
      0,
    );
  const byBag = (group: number[]): number[][][] => {
    // Split at every distinct bag size: narrow rows in one run, wider ones in another.
    const sizes = [...new Set(group.map((i) => rows[i]!.bagSize))].sort((a, b) => a - b);
    const splits: number[][][] = [[group]];
    for (const t of sizes.slice(0, -1)) {
      splits.push([group.filter((i) => rows[i]!.bagSize <= t), group.filter((i) => rows[i]!.bagSize > t)]);
    }
    return splits;
  };
  const candidates: number[][][] = byBag(all);
  const prefill = all.filter((i) => rows[i]!.count > 1);
  const decode = all.filter((i) => rows[i]!.count === 1);
  if (prefill.length > 0 && decode.length > 0) {
    for (const p of byBag(prefill)) for (const d of byBag(decode)) candidates.push([...p, ...d]);
  }
  let best = candidates[0]!;
  let bestCost = cost(best);
  for (const c of candidates.slice(1)) {
    const k = cost(c);
    if (k < bestCost) {
      best = c;
      bestCost = k;
    }
  }
  return best.filter((g) => g.length > 0);
}
