// The page's wiring: the model list, the settings form, the conversation, send and stop.

import { StreamConnection } from './connection.js';
import { RunView } from './run-view.js';
import { buildRequest, formValues, NOISE_MODES, NOISE_PARAM, thinkingModes } from './settings.js';

/** @typedef {import('./types.js').ModelEntry} ModelEntry */

/**
 * @template {Element} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
const byId = (id) => /** @type {T} */ (/** @type {unknown} */ (document.getElementById(id)));

const settings = /** @type {HTMLFormElement} */ (byId('settings'));
const composer = /** @type {HTMLFormElement} */ (byId('composer'));
const keyInput = /** @type {HTMLInputElement} */ (byId('api-key'));
const modelSelect = /** @type {HTMLSelectElement} */ (byId('model'));
const modeSelect = /** @type {HTMLSelectElement} */ (byId('mode'));
const compareBox = /** @type {HTMLInputElement} */ (byId('compare'));
const compareSelect = /** @type {HTMLSelectElement} */ (byId('compare-mode'));
const noiseSet = /** @type {HTMLFieldSetElement} */ (byId('noise'));
const noiseType = /** @type {HTMLSelectElement} */ (byId('noise-type'));
const draftsInput = /** @type {HTMLInputElement} */ (byId('drafts'));
const prompt = /** @type {HTMLTextAreaElement} */ (byId('prompt'));
const sendButton = /** @type {HTMLButtonElement} */ (byId('send'));
const stopButton = /** @type {HTMLButtonElement} */ (byId('stop'));
const transcript = byId('transcript');
const serverError = byId('server-error');
const runTemplate = /** @type {HTMLTemplateElement} */ (byId('run-template'));

// Relative to the page, so that a server mounted under a path prefix works as it is.
const api = (/** @type {string} */ path) => new URL(`../${path}`, location.href);
const wsUrl = api('v1/stream');
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const connection = new StreamConnection(wsUrl.href, (message) => showServerError(message));

/** @type {Map<string, ModelEntry>} */
const models = new Map();
/** Earlier turns the next request carries: user messages and the answers they got. */
/** @type {{ role: string, content: string }[]} */
let history = [];
/** Bumped by "New chat": a turn still in flight then no longer feeds the history. */
let chat = 0;
/** Runs of the turn in flight: request id → its view. */
/** @type {Map<string, RunView>} */
const live = new Map();

/** @param {string} message */
function showServerError(message) {
  serverError.textContent = message;
  serverError.hidden = message === '';
}

/** The key as typed; it lives in this input only (no storage, no cookie, no URL). */
const apiKey = () => keyInput.value.trim();

async function loadModels() {
  showServerError('');
  const key = apiKey();
  connection.setKey(key);
  /** @type {Response} */
  let res;
  try {
    res = await fetch(api('v1/models'), { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  } catch (err) {
    showServerError(`The server did not answer: ${/** @type {Error} */ (err).message}`);
    return;
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    showServerError(body?.error?.message ?? `GET /v1/models: HTTP ${res.status}`);
    return;
  }
  const previous = modelSelect.value;
  models.clear();
  modelSelect.replaceChildren();
  for (const model of /** @type {ModelEntry[]} */ (body.data)) {
    models.set(model.id, model);
    modelSelect.append(new Option(model.id, model.id));
  }
  if (models.size === 0) showServerError('No model is loaded yet (the server is starting): press Reload.');
  if (models.has(previous)) modelSelect.value = previous;
  onModelChange(true);
}

/**
 * Offers only what the model has (thinking modes from its manifest, drafts if it can superpose)
 * and shows its defaults as placeholders.
 * @param {boolean} pickDefaultMode
 */
function onModelChange(pickDefaultMode) {
  const model = models.get(modelSelect.value);
  if (!model) return;
  const modes = thinkingModes(model);
  for (const select of [modeSelect, compareSelect]) {
    for (const option of select.options) option.disabled = !modes.includes(option.value);
    if (!modes.includes(select.value)) select.value = 'off';
  }
  const fallback = /** @type {string} */ (model.defaults.thinking_mode ?? 'off');
  if (pickDefaultMode && modes.includes(fallback)) modeSelect.value = fallback;
  draftsInput.disabled = !model.modes.includes('superposed');
  for (const input of settings.querySelectorAll('input[data-default]')) {
    const value =
      model.defaults[/** @type {string} */ (/** @type {HTMLInputElement} */ (input).dataset.default)];
    /** @type {HTMLInputElement} */ (input).placeholder = value === undefined ? '' : `${value} (default)`;
  }
  byId('model-info').textContent =
    `${model.description} Modes: ${model.modes.join(', ')}. Context: ${model.max_model_len} positions.`;
  onModeChange();
}

/** Noise knobs only where some mode in play takes them; their label follows the noise type. */
function onModeChange() {
  const modes = [modeSelect.value, ...(compareBox.checked ? [compareSelect.value] : [])];
  noiseSet.disabled = !modes.some((m) => NOISE_MODES.includes(m));
  const type = /** @type {keyof typeof NOISE_PARAM | ''} */ (noiseType.value);
  byId('noise-value-label').textContent = type ? NOISE_PARAM[type] : 'scale';
  compareSelect.disabled = !compareBox.checked;
}

/** @param {boolean} busy */
function setBusy(busy) {
  sendButton.disabled = busy;
  stopButton.disabled = !busy;
}

/** Sends the message in one mode, or in two side by side with compare on. */
async function send() {
  const text = prompt.value.trim();
  const model = modelSelect.value;
  if (!text || sendButton.disabled) return;
  if (!model) {
    showServerError('Pick a model first (press Reload if the list is empty).');
    return;
  }
  const values = formValues(settings);
  const thisChat = chat;
  const modes = [modeSelect.value, ...(compareBox.checked ? [compareSelect.value] : [])];
  const messages = [...history, { role: 'user', content: text }];

  const turn = document.createElement('section');
  turn.className = 'turn';
  const question = document.createElement('p');
  question.className = 'user';
  question.textContent = text;
  const runs = document.createElement('div');
  runs.className = modes.length > 1 ? 'runs compare' : 'runs';
  turn.append(question, runs);
  transcript.append(turn);
  prompt.value = '';
  setBusy(true);

  const views = modes.map((mode) => {
    const drafts = Number(values.drafts ?? 0);
    const view = new RunView(runTemplate, drafts ? `${mode} · ${drafts} drafts` : mode, drafts);
    runs.append(view.element);
    return { mode, view };
  });
  const ended = views.map(async ({ mode, view }) => {
    let request;
    try {
      request = buildRequest(values, { model, mode, messages });
    } catch (err) {
      view.fail(/** @type {Error} */ (err).message);
      return;
    }
    /** @type {(value?: unknown) => void} */
    let done = () => {};
    const finished = new Promise((resolve) => (done = resolve));
    try {
      const id = await connection.start(request, Boolean(values.drafts), (msg) => {
        view.handle(msg);
        if (view.outcome) done();
      });
      live.set(id, view);
      await finished;
      live.delete(id);
    } catch (err) {
      view.fail(/** @type {Error} */ (err).message);
    }
  });
  await Promise.all(ended);
  setBusy(false);
  // The conversation goes on from the first run's answer, once it completed.
  if (views[0].view.outcome === 'completed' && thisChat === chat) {
    history = [...messages, { role: 'assistant', content: views[0].view.answer }];
  }
}

function stop() {
  for (const id of live.keys()) connection.cancel(id);
}

keyInput.addEventListener('change', () => void loadModels());
byId('reload-models').addEventListener('click', () => void loadModels());
modelSelect.addEventListener('change', () => onModelChange(true));
for (const control of [modeSelect, compareSelect, compareBox, noiseType]) {
  control.addEventListener('change', onModeChange);
}
settings.addEventListener('submit', (ev) => ev.preventDefault());
composer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void send();
});
prompt.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    composer.requestSubmit();
  }
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && live.size > 0) stop();
});
stopButton.addEventListener('click', stop);
byId('clear').addEventListener('click', () => {
  stop();
  chat++;
  history = [];
  transcript.replaceChildren();
});

void loadModels();
