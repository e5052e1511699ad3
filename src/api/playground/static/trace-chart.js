// The thinking steps as SVG: per step a stacked bar of what the step FED (the top-k tokens' weights
// in the next input, after truncation and noise), a thin bar of their p, and the entropy as a line
// above. Hand-written SVG: a chart library would be the biggest file of the page.

/** @typedef {import('./types.js').TraceStep} TraceStep */

const SVG = 'http://www.w3.org/2000/svg';
/** Layout, in SVG units (1 unit = 1 CSS pixel: the SVG has no viewBox scaling). */
const STEP = 10;
const FED_W = 7;
const P_W = 2;
const LINE_H = 44;
const GAP = 8;
const BARS_H = 120;
const HEIGHT = LINE_H + GAP + BARS_H;
/** A short trace is stretched to the panel's width, up to this factor; a long one scrolls. */
const MAX_ZOOM = 4;
/** Ranks with their own colour (style.css: .rank-0 … .rank-7); deeper ranks share the last. */
const RANKS = 8;

/**
 * A token as it can be read: whitespace made visible.
 * @param {string} token
 */
export function showToken(token) {
  return token.replaceAll(' ', '␣').replaceAll('\n', '⏎').replaceAll('\t', '⇥') || '∅';
}

/**
 * @param {string} name
 * @param {Record<string, string | number>} attrs
 */
function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * Stacked rectangles from the bottom of the bar area, one per weight, plus the rest in grey.
 * @param {number} x
 * @param {number} width
 * @param {number[]} weights
 * @param {string} kind `fed` or `p`
 */
function stack(x, width, weights, kind) {
  const group = el('g', { class: kind });
  let y = HEIGHT;
  weights.forEach((w, rank) => {
    const h = Math.max(0, w) * BARS_H;
    y -= h;
    if (h > 0)
      group.append(el('rect', { x, y, width, height: h, class: `rank-${Math.min(rank, RANKS - 1)}` }));
  });
  const rest = y - LINE_H - GAP;
  if (rest > 0.25) group.append(el('rect', { x, y: LINE_H + GAP, width, height: rest, class: 'rest' }));
  return group;
}

/**
 * @param {TraceStep} step
 * @param {number} index
 */
function describe(step, index) {
  const tokens = step.top_k
    .map((t) => `‘${showToken(t.token)}’ fed ${t.fed.toFixed(3)} (p ${t.p.toFixed(3)})`)
    .join(', ');
  return `step ${index + 1}: shadow ‘${showToken(step.token)}’, entropy ${step.entropy.toFixed(3)} nats; ${tokens}`;
}

export class TraceChart {
  /** @type {TraceStep[]} */
  #steps = [];
  #maxEntropy = 0;
  /** The step the reader moved to with the keys or the mouse; null: follow the newest. */
  /** @type {number | null} */
  #selected = null;
  #svg;
  /** The focusable slider around the SVG (arrow keys step through). */
  #scroller;
  #detail;
  #scale;
  #line;
  #bars;

  /**
   * @param {SVGSVGElement} svg inside its scroller, an element with role="slider"
   * @param {HTMLOutputElement} detail where the selected (else the newest) step is spelled out
   * @param {HTMLElement} scale where the entropy line's scale is written
   */
  constructor(svg, detail, scale) {
    this.#scale = scale;
    this.#svg = svg;
    this.#scroller = /** @type {HTMLElement} */ (svg.parentElement);
    this.#detail = detail;
    svg.setAttribute('height', String(HEIGHT));
    this.#line = el('polyline', { class: 'entropy' });
    this.#bars = el('g', { class: 'steps' });
    svg.append(
      el('line', { x1: 0, x2: '100%', y1: LINE_H, y2: LINE_H, class: 'axis' }),
      this.#bars,
      this.#line,
    );
    this.#scroller.addEventListener('keydown', (ev) => this.#onKey(ev));
    svg.addEventListener('click', (ev) => {
      const group = /** @type {Element} */ (ev.target).closest('g.step');
      if (group) this.#select(Number(group.getAttribute('data-step')));
    });
  }

  /** Steps drawn so far. */
  get length() {
    return this.#steps.length;
  }

  /** @param {TraceStep} step */
  add(step) {
    const index = this.#steps.length;
    this.#steps.push(step);
    const x = index * STEP;
    const group = el('g', {
      class: 'step',
      'data-step': index,
      'data-fed': step.top_k.map((t) => t.fed).join(' '),
      'data-entropy': step.entropy,
    });
    const title = el('title', {});
    title.textContent = describe(step, index);
    group.append(
      title,
      stack(
        x,
        FED_W,
        step.top_k.map((t) => t.fed),
        'fed',
      ),
      stack(
        x + FED_W + 1,
        P_W,
        step.top_k.map((t) => t.p),
        'p',
      ),
    );
    this.#bars.append(group);
    this.#fit();
    // The line's scale is the largest entropy so far: redraw it when that grows (n points, cheap).
    this.#maxEntropy = Math.max(this.#maxEntropy, step.entropy);
    const top = this.#maxEntropy || 1;
    const points = this.#steps.map(
      (s, i) => `${i * STEP + FED_W / 2},${LINE_H - (s.entropy / top) * (LINE_H - 2)}`,
    );
    this.#line.setAttribute('points', points.join(' '));
    this.#scale.textContent = `${this.#steps.length} steps · entropy line from 0 (bottom) to ${top.toFixed(3)} nats (top)`;
    this.#scroller.setAttribute('aria-valuemax', String(this.#steps.length));
    if (this.#selected === null) {
      this.#show(index);
      this.#scroller.scrollLeft = this.#scroller.scrollWidth;
    }
  }

  /**
   * Sizes the drawing: drawn in units of STEP per step, shown at the panel's width when that is
   * at most MAX_ZOOM times wider (stretched horizontally only; lines keep their width through
   * `vector-effect: non-scaling-stroke`).
   */
  #fit() {
    const natural = this.#steps.length * STEP;
    const width = Math.max(natural, Math.min(this.#scroller.clientWidth, natural * MAX_ZOOM));
    this.#svg.setAttribute('viewBox', `0 0 ${natural} ${HEIGHT}`);
    this.#svg.setAttribute('preserveAspectRatio', 'none');
    this.#svg.setAttribute('width', String(width));
  }

  /** Spells a step out, for the eye (the output line) and for screen readers (the slider's value). @param {number} i */
  #show(i) {
    const text = describe(this.#steps[i], i);
    this.#detail.value = text;
    this.#scroller.setAttribute('aria-valuenow', String(i + 1));
    this.#scroller.setAttribute('aria-valuetext', text);
  }

  /** @param {number} index */
  #select(index) {
    if (this.#steps.length === 0) return;
    const i = Math.min(Math.max(index, 0), this.#steps.length - 1);
    this.#bars.querySelector('.selected')?.classList.remove('selected');
    this.#bars.children[i]?.classList.add('selected');
    this.#bars.children[i]?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    this.#selected = i;
    this.#show(i);
  }

  /** @param {KeyboardEvent} ev */
  #onKey(ev) {
    const last = this.#steps.length - 1;
    const at = this.#selected ?? last;
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: last }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    this.#select(to);
  }
}
