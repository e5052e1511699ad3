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
  return paddedCost(rows.length, S, K, m);
}

function paddedCost(rows: number, S: number, K: number, m: CostModel): number {
  return rows * S * (m.positionCost + K * m.bagEntryCost) + m.runCost;
}

/**
 * Groups of row indices, one `session.run` each, in the order to run them. Prompt chunks go apart
 * from decode rows when that is cheaper by `runCost`; then each group is split in two at the bag
 * size that makes it cheapest, if any does (ties keep fewer runs). A batch whose rows all have one
 * shape, the usual decode step, is one run without further work.
 */
export function planRuns(rows: readonly RowShape[], m: CostModel): number[][] {
  const all = rows.map((_, i) => i);
  if (rows.every((r) => r.count === rows[0]!.count && r.bagSize === rows[0]!.bagSize)) return [all];
  const cost = (group: number[]) =>
    runCost(
      group.map((i) => rows[i]!),
      m,
    );
  const prefill = all.filter((i) => rows[i]!.count > 1);
  const decode = all.filter((i) => rows[i]!.count === 1);
  const byPhase =
    prefill.length > 0 && decode.length > 0 && cost(prefill) + cost(decode) < cost(all)
      ? [prefill, decode]
      : [all];
  return byPhase.flatMap((group) => splitByBag(group, rows, m));
}

/** `group`, or its narrow and wide rows apart when two runs cost less than one. */
function splitByBag(group: number[], rows: readonly RowShape[], m: CostModel): number[][] {
  const sorted = [...group].sort((a, b) => rows[a]!.bagSize - rows[b]!.bagSize);
  const n = sorted.length;
  // Longest chunk among the last n − i rows, for every split point i.
  const tailS = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--) tailS[i] = Math.max(tailS[i + 1]!, rows[sorted[i]!]!.count);
  const widest = rows[sorted[n - 1]!]!.bagSize;
  let best = paddedCost(n, tailS[0]!, widest, m);
  let at = 0;
  let headS = 0;
  for (let i = 1; i < n; i++) {
    const K = rows[sorted[i - 1]!]!.bagSize;
    headS = Math.max(headS, rows[sorted[i - 1]!]!.count);
    if (K === rows[sorted[i]!]!.bagSize) continue;
    const c = paddedCost(i, headS, K, m) + paddedCost(n - i, tailS[i]!, widest, m);
    if (c < best) {
      best = c;
      at = i;
    }
  }
  return at === 0 ? [group] : [sorted.slice(0, at), sorted.slice(at)];
}
