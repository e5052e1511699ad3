// Turns the settings form into chat completion bodies, exactly as the HTTP API takes them.

/** @typedef {import('./types.js').ModelEntry} ModelEntry */

/** Thinking modes, in the order the page offers them. */
export const THINKING_MODES = ['off', 'hard', 'soft', 'fuzzy', 'latent'];

/** The server refuses `thinking.noise` for other modes: the page never sends it there. */
export const NOISE_MODES = ['soft', 'fuzzy'];

/** The parameter each noise type takes (`ThinkingNoise` in openapi.yaml). */
export const NOISE_PARAM = /** @type {const} */ ({
  gaussian: 'scale',
  dirichlet: 'alpha',
  gumbel: 'temperature',
});

/**
 * Thinking modes a model offers: `off` always; the others when it has think markers and its
 * manifest lists the mode (`latent` only for checkpoints trained to read their hidden states).
 * @param {ModelEntry} model
 * @returns {string[]}
 */
export function thinkingModes(model) {
  return THINKING_MODES.filter((m) => m === 'off' || (model.thinking !== null && model.modes.includes(m)));
}

/**
 * The named fields of a form as text; fields that are empty or disabled are left out, so the
 * server's defaults apply to them.
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function formValues(form) {
  /** @type {Record<string, string>} */
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === 'string' && value.trim() !== '') values[name] = value.trim();
  }
  return values;
}

/**
 * A `/v1/chat/completions` body for one mode. Thinking requests always ask for the trace: drawing
 * it is the point of the page.
 * @param {Record<string, string>} values from {@link formValues}
 * @param {{ model: string, mode: string, messages: {role: string, content: string}[] }} what
 * @returns {Record<string, unknown>}
 * @throws {Error} when the extra fields are not a JSON object
 */
export function buildRequest(values, { model, mode, messages }) {
  /** @param {string} name */
  const num = (name) => (values[name] === undefined ? undefined : Number(values[name]));
  /** @type {Record<string, unknown>} */
  const thinking = { mode };
  if (mode !== 'off') {
    Object.assign(thinking, {
      max_tokens: num('thinking_max_tokens'),
      temperature: num('thinking_temperature'),
      top_k: num('thinking_top_k'),
      top_p: num('thinking_top_p'),
      trace: true,
      trace_top_k: num('trace_top_k'),
    });
    const type = /** @type {keyof typeof NOISE_PARAM | undefined} */ (values.noise_type);
    if (type && NOISE_MODES.includes(mode))
      thinking.noise = { type, [NOISE_PARAM[type]]: num('noise_value') };
    if (values.cold_stop) {
      thinking.cold_stop = { entropy_below: num('cold_entropy'), patience: num('cold_patience') };
    }
  }
  const drafts = num('drafts');
  const body = {
    model,
    messages,
    max_tokens: num('max_tokens'),
    temperature: num('temperature'),
    top_p: num('top_p'),
    top_k: num('top_k'),
    seed: num('seed'),
    thinking,
    superposition: drafts ? { drafts } : undefined,
    ...extraFields(values.extra),
  };
  // undefined fields vanish in JSON.stringify: the server's defaults apply to them.
  return body;
}

/**
 * Fields the form has no control for (`stop`, `logit_bias`, `n`, …), typed as JSON.
 * @param {string | undefined} text
 * @returns {Record<string, unknown>}
 */
function extraFields(text) {
  if (!text) return {};
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`Extra request fields: not JSON (${/** @type {Error} */ (err).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('Extra request fields: expected a JSON object such as {"stop": ["\\n"]}');
  }
  return parsed;
}
