// One request on the page: turns its server messages into the reasoning text, the per-step chart,
// the drafts, the answer(s), and the usage and timings once it ends.

import { DraftsView } from './drafts-view.js';
import { TraceChart } from './trace-chart.js';

/** @typedef {import('./types.js').ServerMessage} ServerMessage */
/** @typedef {import('./types.js').Message<'response.completed'>} Completed */

/**
 * @template {Element} [T=HTMLElement]
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {T}
 */
function $(root, selector) {
  return /** @type {T} */ (root.querySelector(selector));
}

/** @param {number} ms */
const millis = (ms) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);

export class RunView {
  /** The run's element (an `<article>`). */
  element;
  /** How it ended: null while it runs. */
  /** @type {'completed' | 'cancelled' | 'error' | null} */
  outcome = null;
  /** The answer of choice 0 once completed (the conversation goes on from it). */
  answer = '';
  #status;
  #reasoning;
  #reasoningText;
  #trace;
  #chart;
  #drafts;
  #answers;
  #draftCount;

  /**
   * @param {HTMLTemplateElement} template `#run-template`
   * @param {string} title what this run is (its mode)
   * @param {number} drafts superposed drafts asked for (0: none)
   */
  constructor(template, title, drafts) {
    this.#draftCount = drafts;
    this.element = /** @type {HTMLElement} */ (
      /** @type {DocumentFragment} */ (template.content.cloneNode(true)).firstElementChild
    );
    this.element.dataset.mode = title;
    $(this.element, '.run-title').textContent = title;
    this.#status = $(this.element, '.run-status');
    this.#reasoning = /** @type {HTMLDetailsElement} */ ($(this.element, '.reasoning'));
    this.#reasoningText = $(this.element, '.reasoning-text');
    this.#trace = $(this.element, '.trace');
    this.#chart = new TraceChart(
      $(this.element, '.trace-chart'),
      $(this.element, '.trace-detail'),
      $(this.element, '.trace-scale'),
    );
    this.#drafts = new DraftsView($(this.element, '.drafts'));
    this.#answers = /** @type {HTMLOListElement} */ ($(this.element, '.answers'));
    this.#setStatus('connecting');
  }

  /** @param {ServerMessage} msg */
  handle(msg) {
    switch (msg.type) {
      case 'response.created':
        this.#setStatus('streaming');
        this.element.dataset.responseId = msg.response_id;
        this.#labelReasoning(msg.choices);
        break;
      case 'response.reasoning.delta':
        // One chart per run: with n > 1 parallel samples (extra field `n`) it draws the first.
        if (msg.index !== 0) break;
        this.#reasoning.hidden = false;
        this.#reasoningText.textContent += msg.delta;
        if (msg.trace) {
          this.#trace.hidden = false;
          this.#chart.add(msg.trace);
        }
        break;
      case 'response.output_text.delta':
        this.#answerItem(msg.index).textContent += msg.delta;
        break;
      case 'response.drafts':
        this.#drafts.update(msg);
        break;
      case 'response.completed':
        this.outcome = 'completed';
        this.answer = this.#answers.children[0]?.textContent ?? '';
        this.#setStatus('done');
        this.#stats(msg);
        break;
      case 'response.cancelled':
        this.outcome = 'cancelled';
        this.#setStatus('cancelled');
        break;
      case 'error':
        this.fail(`${msg.error.message}${msg.error.code ? ` (${msg.error.code})` : ''}`);
        break;
    }
  }

  /**
   * Shows an error in place of the run (from the server, or from the page before sending).
   * @param {string} message
   */
  fail(message) {
    this.outcome = 'error';
    const box = $(this.element, '.run-error');
    box.textContent = message;
    box.hidden = false;
    this.#setStatus('error');
  }

  /** @param {number} choices */
  #labelReasoning(choices) {
    const summary = $(this.element, '.reasoning summary');
    if (this.#draftCount > 1)
      summary.textContent = `Reasoning (one thinking phase, shared by the ${this.#draftCount} drafts)`;
    else if (choices > 1) summary.textContent = `Reasoning of choice 1 of ${choices} (the chart draws it)`;
  }

  /** @param {string} status */
  #setStatus(status) {
    this.element.dataset.status = status;
    this.#status.textContent = status;
  }

  /** The answer of one choice (superposed decoding: the k ranked drafts), created on first use. @param {number} index */
  #answerItem(index) {
    while (this.#answers.children.length <= index) {
      const item = document.createElement('li');
      item.className = 'answer';
      this.#answers.append(item);
    }
    this.#answers.classList.toggle('many', this.#answers.children.length > 1);
    return /** @type {HTMLLIElement} */ (this.#answers.children[index]);
  }

  /** @param {Completed} msg */
  #stats(msg) {
    const u = msg.usage;
    const t = msg.timings;
    const rate = t.total_ms > 0 ? (u.completion_tokens / t.total_ms) * 1000 : 0;
    /** @type {[string, string][]} */
    const rows = [
      [
        'tokens',
        `prompt ${u.prompt_tokens} (cached ${u.prompt_tokens_details.cached_tokens}) · completion ${u.completion_tokens} (reasoning ${u.completion_tokens_details.reasoning_tokens})`,
      ],
      [
        'time',
        `queue ${millis(t.queue_ms)} · prefill ${millis(t.prefill_ms)} · first token ${millis(t.first_token_ms)} · total ${millis(t.total_ms)} · ${rate.toFixed(1)} tokens/s`,
      ],
      ['finish', msg.finish_reasons.map((r) => r ?? '—').join(', ')],
    ];
    if (this.#chart.length > 0) rows.push(['thinking', `${this.#chart.length} traced steps`]);
    const dl = $(this.element, '.stats');
    dl.replaceChildren(
      ...rows.flatMap(([term, value]) => {
        const dt = document.createElement('dt');
        const dd = document.createElement('dd');
        dt.textContent = term;
        dd.textContent = value;
        return [dt, dd];
      }),
    );
    dl.hidden = false;
  }
}
