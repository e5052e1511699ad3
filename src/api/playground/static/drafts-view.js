// Superposed decoding's drafts as they grow: the live drafts side by side (best score first, as the
// server ranks them each step) and the pool of finished ones under them.

/** @typedef {import('./types.js').Message<'response.drafts'>} DraftsMessage */

/**
 * Makes `list` hold exactly `count` items (reused across steps: the columns stay put and only
 * their text changes, so the drafts can be watched growing).
 * @param {HTMLOListElement} list
 * @param {number} count
 * @returns {HTMLLIElement[]}
 */
function resize(list, count) {
  while (list.children.length > count) list.lastElementChild?.remove();
  while (list.children.length < count) {
    const item = document.createElement('li');
    item.className = 'draft';
    const head = document.createElement('div');
    head.className = 'draft-head';
    const text = document.createElement('p');
    text.className = 'draft-text';
    item.append(head, text);
    list.append(item);
  }
  return /** @type {HTMLLIElement[]} */ ([...list.children]);
}

export class DraftsView {
  #root;
  #grid;
  #pool;
  #stepLabel;
  #steps = 0;

  /** @param {HTMLElement} root the run's `.drafts` section */
  constructor(root) {
    this.#root = root;
    this.#grid = /** @type {HTMLOListElement} */ (root.querySelector('.draft-grid'));
    this.#pool = /** @type {HTMLOListElement} */ (root.querySelector('.draft-pool'));
    this.#stepLabel = /** @type {HTMLElement} */ (root.querySelector('.drafts-step'));
  }

  /** Updates received so far. */
  get steps() {
    return this.#steps;
  }

  /** @param {DraftsMessage} msg */
  update(msg) {
    this.#root.hidden = false;
    this.#steps++;
    this.#stepLabel.textContent = `· step ${msg.step}`;
    const live = msg.drafts.filter((d) => !d.finished);
    const finished = msg.drafts.filter((d) => d.finished);
    for (const [list, drafts] of /** @type {const} */ ([
      [this.#grid, live],
      [this.#pool, finished],
    ])) {
      resize(list, drafts.length).forEach((item, i) => {
        const d = drafts[i];
        item.classList.toggle('finished', d.finished);
        /** @type {HTMLElement} */ (item.firstElementChild).textContent =
          `${d.finished ? 'finished' : `#${i + 1}`} · score ${d.score.toFixed(2)}`;
        /** @type {HTMLElement} */ (item.lastElementChild).textContent = d.text;
      });
    }
  }
}
