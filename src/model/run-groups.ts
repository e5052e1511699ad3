/**
 * How to feed and split one engine step. The graph takes rectangular inputs ([B, S, K] bags,
 * [B, S, D] embeddings), so one run pads every row to the longest chunk S and the widest bag K of
 * the batch. Mixing a 512-token prompt chunk with 15 decode rows would compute 16 × 512 positions
 * instead of 527, and one soft-thinking row whose bag holds thousands of ids would make every row
 * gather that many embeddings (K·D floats per position).
 *
 * Two remedies, both chosen by one multiply-add cost model:
 * - a row whose bag is wider than `denseFrom` ids goes through the graph's dense path instead: its
 *   mixture becomes one vocabulary-wide weight row multiplied by E (V·D per position, whatever the
 *   bag), and it no longer widens the other rows' bags;
 * - when padding still costs more than an extra run, rows go to separate runs: prompt chunks apart
 *   from decode rows, wide bags apart from narrow ones.
 * Rows are independent, so the outputs are the same either way.
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
  /** Cost of one bag entry: gathering, weighting and summing one embedding row (≈ a few × hidden size). */
  bagEntryCost: number;
  /** Cost of one position fed densely: the [V] × [V, D] product (≈ vocab × hidden). */
  denseCost: number;
  /** Bags of at least this many ids are fed densely (the size where a gather costs as much). */
  denseFrom: number;
  /** Fixed cost of one extra `session.run`, in the same units. */
  runCost: number;
}

/** Whether a row's bag goes through the dense path. */
export function isDense(row: RowShape, m: CostModel): boolean {
  return row.bagSize >= m.denseFrom;
}

/** A group's cost from its rows, longest chunk, widest sparse bag and dense positions. */
function groupCost(rows: number, S: number, K: number, densePositions: number, m: CostModel): number {
  return rows * S * (m.positionCost + K * m.bagEntryCost) + densePositions * m.denseCost + m.runCost;
}

/** Multiply-adds of one padded run over these rows. */
export function runCost(rows: readonly RowShape[], m: CostModel): number {
  let S = 0;
  let K = 1;
  let dense = 0;
  for (const r of rows) {
    S = Math.max(S, r.count);
    if (isDense(r, m)) dense += r.count;
    else K = Math.max(K, r.bagSize);
  }
  return groupCost(rows.length, S, K, dense, m);
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

/** Running maxima and sums over rows in one order: the cost terms of every prefix. */
function prefixTerms(order: number[], rows: readonly RowShape[], m: CostModel) {
  const S = [0];
  const K = [1];
  const dense = [0];
  for (const i of order) {
    const r = rows[i]!;
    S.push(Math.max(S.at(-1)!, r.count));
    K.push(isDense(r, m) ? K.at(-1)! : Math.max(K.at(-1)!, r.bagSize));
    dense.push(dense.at(-1)! + (isDense(r, m) ? r.count : 0));
  }
  return { S, K, dense };
}

/** `group`, or its narrow and wide rows apart when two runs cost less than one. */
function splitByBag(group: number[], rows: readonly RowShape[], m: CostModel): number[][] {
  const sorted = [...group].sort((a, b) => rows[a]!.bagSize - rows[b]!.bagSize);
  const n = sorted.length;
  const head = prefixTerms(sorted, rows, m);
  const tail = prefixTerms([...sorted].reverse(), rows, m); // tail.X[j]: the last j rows
  let best = groupCost(n, head.S[n]!, head.K[n]!, head.dense[n]!, m);
  let at = 0;
  for (let i = 1; i < n; i++) {
    if (rows[sorted[i - 1]!]!.bagSize === rows[sorted[i]!]!.bagSize) continue;
    const j = n - i;
    const c =
      groupCost(i, head.S[i]!, head.K[i]!, head.dense[i]!, m) +
      groupCost(j, tail.S[j]!, tail.K[j]!, tail.dense[j]!, m);
    if (c < best) {
      best = c;
      at = i;
    }
  }
  return at === 0 ? [group] : [sorted.slice(0, at), sorted.slice(at)];
}
