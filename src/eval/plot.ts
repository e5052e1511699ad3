import type { EvalReport } from './report.ts';

/**
 * A small hand-written SVG line chart: panels side by side, x on a log₂ scale (k, or a thinking
 * budget), y the accuracy in percent, one line per series with its 95% interval as error bars.
 */

export interface Point {
  x: number;
  y: number;
  low: number;
  high: number;
}

export interface Series {
  name: string;
  points: Point[];
}

export interface Panel {
  title: string;
  xLabel: string;
  series: Series[];
}

const W = 440;
const H = 320;
const M = { left: 52, right: 16, top: 34, bottom: 78 };
const COLOURS: Record<string, string> = {
  hard: '#1f77b4',
  soft: '#ff7f0e',
  fuzzy: '#2ca02c',
  latent: '#d62728',
  off: '#7f7f7f',
};
const FALLBACK = ['#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => (Math.round(x * 10) / 10).toString();

function colour(name: string, i: number): string {
  return COLOURS[name] ?? FALLBACK[i % FALLBACK.length]!;
}

function panelSvg(p: Panel, offsetX: number): string {
  const xs = [...new Set(p.series.flatMap((s) => s.points.map((pt) => pt.x)))].sort((a, b) => a - b);
  const lo = Math.log2(xs[0] ?? 1);
  const hi = Math.log2(xs[xs.length - 1] ?? 2);
  const span = hi > lo ? hi - lo : 1;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const pxAt = (x: number) =>
    offsetX + M.left + (xs.length < 2 ? plotW / 2 : ((Math.log2(x) - lo) / span) * plotW);
  const py = (y: number) => M.top + (1 - y) * plotH;
  const out = [
    `<text x="${offsetX + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`,
    `<rect x="${offsetX + M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let t = 0; t <= 100; t += 20) {
    const y = num(py(t / 100));
    out.push(
      `<line x1="${offsetX + M.left}" x2="${offsetX + M.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`,
      `<text x="${offsetX + M.left - 6}" y="${y}" dy="4" text-anchor="end">${t}</text>`,
    );
  }
  for (const x of xs) {
    out.push(`<text x="${num(pxAt(x))}" y="${M.top + plotH + 16}" text-anchor="middle">${x}</text>`);
  }
  out.push(
    `<text x="${offsetX + M.left + plotW / 2}" y="${M.top + plotH + 34}" text-anchor="middle">${esc(p.xLabel)}</text>`,
    `<text transform="translate(${offsetX + 14},${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">accuracy %</text>`,
  );
  p.series.forEach((s, i) => {
    const c = colour(s.name, i);
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    // Series side by side by a few pixels, so that equal values and their intervals stay visible.
    const shift = (i - (p.series.length - 1) / 2) * 3;
    const px = (x: number) => pxAt(x) + shift;
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((pt) => `${num(px(pt.x))},${num(py(pt.y))}`).join(' ')}"/>`,
    );
    for (const pt of pts) {
      const x = num(px(pt.x));
      out.push(
        `<line x1="${x}" x2="${x}" y1="${num(py(pt.low))}" y2="${num(py(pt.high))}" stroke="${c}"/>`,
        `<circle cx="${x}" cy="${num(py(pt.y))}" r="3" fill="${c}"/>`,
      );
    }
    const lx = offsetX + M.left + (i % 3) * 125;
    const ly = M.top + plotH + 52 + Math.floor(i / 3) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/>`,
      `<text x="${lx + 24}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  return out.join('\n');
}

/** Panels side by side as one SVG document. */
export function plotSvg(panels: readonly Panel[]): string {
  const width = W * Math.max(1, panels.length);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${H}" fill="white"/>`,
    ...panels.map((p, i) => panelSvg(p, i * W)),
    '</svg>',
    '',
  ].join('\n');
}

/** pass@k against k, one line per mode. */
export function passAtKPanel(r: EvalReport, title = `${r.task}: pass@k (${r.model})`): Panel {
  return {
    title,
    xLabel: `k (${r.samples} samples per question, n = ${r.n})`,
    series: r.modes.map((m) => ({
      name: m.mode,
      points: m.passAtK.map((p) => ({
        x: p.k,
        y: p.estimate.value,
        low: p.estimate.low,
        high: p.estimate.high,
      })),
    })),
  };
}

/** Greedy accuracy against the thinking budget, one line per mode; null without a sweep. */
export function budgetPanel(r: EvalReport, title = `${r.task}: accuracy vs thinking budget`): Panel | null {
  if (r.config.budgets.length === 0) return null;
  return {
    title,
    xLabel: `thinking budget (positions; greedy, n = ${r.n})`,
    series: r.modes.map((m) => ({
      name: m.mode,
      points: m.budgets.map((b) => ({
        x: b.budget,
        y: b.accuracy.value,
        low: b.accuracy.low,
        high: b.accuracy.high,
      })),
    })),
  };
}
