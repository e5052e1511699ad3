// One WebSocket to /v1/stream, shared by every request of the page (the protocol multiplexes them
// by id), opened on first use and again after it closes.

/** @typedef {import('./types.js').ServerMessage} ServerMessage */

/** The subprotocol the server selects (docs/websocket.md). */
const PROTOCOL = 'reverie.v1';
const BEARER_PREFIX = 'reverie.bearer.';

/** Messages after which the server sends nothing more for a request. */
const FINAL = new Set(['response.completed', 'response.cancelled', 'error']);

/**
 * The subprotocol that carries an API key: a browser cannot set `Authorization` on a WebSocket,
 * and a key in the URL would land in logs. base64url without padding (`=` is not allowed in a
 * protocol name); UTF-8 first, so any key survives.
 * @param {string} key
 */
export function bearerProtocol(key) {
  let binary = '';
  for (const byte of new TextEncoder().encode(key)) binary += String.fromCharCode(byte);
  return BEARER_PREFIX + btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export class StreamConnection {
  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {Promise<WebSocket> | null} */
  #opening = null;
  #key = '';
  #nextId = 1;
  /** Live requests: id → the callback that receives their messages. */
  /** @type {Map<string, (msg: ServerMessage) => void>} */
  #live = new Map();
  #url;
  #onStrayError;

  /**
   * @param {string} url `ws(s)://…/v1/stream`
   * @param {(message: string) => void} onStrayError errors that name no live request
   */
  constructor(url, onStrayError) {
    this.#url = url;
    this.#onStrayError = onStrayError;
  }

  /** Requests in flight. */
  get liveIds() {
    return [...this.#live.keys()];
  }

  /**
   * Uses a new key from the next request on: the server checks the key once, at the upgrade.
   * @param {string} key
   */
  setKey(key) {
    if (key === this.#key) return;
    this.#key = key;
    this.close();
  }

  /**
   * Starts a chat request; `onMessage` gets each of its server messages, the last one being
   * `response.completed`, `response.cancelled` or `error`.
   * @param {Record<string, unknown>} request a chat completion body
   * @param {boolean} streamDrafts ask for `response.drafts` (superposed decoding)
   * @param {(msg: ServerMessage) => void} onMessage
   * @returns {Promise<string>} the request's id
   */
  async start(request, streamDrafts, onMessage) {
    const ws = await this.#open();
    const id = `r${this.#nextId++}`;
    this.#live.set(id, onMessage);
    ws.send(
      JSON.stringify({ type: 'response.create', id, request, ...(streamDrafts && { stream_drafts: true }) }),
    );
    return id;
  }

  /**
   * Asks the server to stop a request (it frees its KV cache); `response.cancelled` follows.
   * @param {string} id
   */
  cancel(id) {
    if (this.#live.has(id) && this.#ws?.readyState === WebSocket.OPEN) {
      this.#ws.send(JSON.stringify({ type: 'response.cancel', id }));
    }
  }

  /** Closes the socket; the server cancels what was still running on it. */
  close() {
    this.#ws?.close(1000);
  }

  /** @returns {Promise<WebSocket>} */
  #open() {
    if (this.#ws?.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    this.#opening ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#url, this.#key ? [PROTOCOL, bearerProtocol(this.#key)] : [PROTOCOL]);
      ws.addEventListener('open', () => {
        this.#ws = ws;
        this.#opening = null;
        resolve(ws);
      });
      ws.addEventListener('message', (ev) => this.#dispatch(String(ev.data)));
      ws.addEventListener('close', (ev) => {
        if (this.#ws !== ws) {
          // Never opened. Browsers hide the HTTP answer of a refused upgrade (a 401 reads as 1006).
          this.#opening = null;
          reject(
            new Error(
              `Could not open the WebSocket (close code ${ev.code}): is the server up, and the API key right?`,
            ),
          );
          return;
        }
        this.#ws = null;
        this.#endAll(`The WebSocket closed (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
      });
    });
    return this.#opening;
  }

  /** @param {string} text */
  #dispatch(text) {
    const msg = /** @type {ServerMessage} */ (JSON.parse(text));
    const listener = this.#live.get(msg.id ?? '');
    if (!listener) {
      // A cancel that crossed the request's last message on the wire: nothing to report.
      if (msg.type === 'error' && msg.error.code !== 'unknown_id') this.#onStrayError(msg.error.message);
      return;
    }
    if (FINAL.has(msg.type)) this.#live.delete(/** @type {string} */ (msg.id));
    listener(msg);
  }

  /** Every live request ends with an `error` when the socket goes away under it. @param {string} message */
  #endAll(message) {
    const live = [...this.#live];
    this.#live.clear();
    for (const [id, listener] of live) {
      listener({ type: 'error', id, error: { message, type: 'connection_error', param: null, code: null } });
    }
  }
}
