import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { makeKeyChecker } from '../auth.ts';
import type { ApiContext } from '../common/context.ts';
import { ApiError, errorResponse, invalidRequest, unauthorized, unavailable } from '../errors.ts';
import { StreamSession } from './session.ts';
import { selectProtocol, upgradeCredentials } from './subprotocol.ts';

/** The WebSocket endpoint's path. */
export const WS_PATH = '/v1/stream';

export interface WebSocketAdapter {
  /** Open connections. */
  readonly connections: () => number;
  /**
   * Stops accepting upgrades, lets live requests finish (up to `timeoutMs`), then closes every
   * socket (1001 going away).
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Answers an upgrade with the response HTTP gives for the same error (`errorResponse`: status,
 * headers, OpenAI's body) and closes the socket.
 */
function refuse(socket: Duplex, err: ApiError): void {
  const res = errorResponse(err);
  void res.arrayBuffer().then((body) => {
    const head = [`HTTP/1.1 ${res.status} ${STATUS_CODES[res.status]}`];
    for (const [name, value] of res.headers) head.push(`${name}: ${value}`);
    head.push(`content-length: ${body.byteLength}`, 'connection: close');
    socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), Buffer.from(body)]));
  });
}

/**
 * Serves `/v1/stream` on a Node HTTP server with `ws`: the same API key check as HTTP at the
 * upgrade (from `Authorization`, or for browsers from a `reverie.bearer.<base64url key>`
 * subprotocol offered beside `reverie.v1`, which the server then selects), a heartbeat that
 * closes connections whose pong is missing, a hard cap on frame size
 * (twice the message limit; `ws` closes with 1009 beyond it, smaller oversize messages get an
 * `error`), and one {@link StreamSession} per socket.
 *
 * @example const ws = attachWebSocket(server, app.context);
 */
export function attachWebSocket(server: Server, ctx: ApiContext): WebSocketAdapter {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 2 * ctx.config.maxBodyBytes,
    handleProtocols: selectProtocol,
  });
  const authorized = makeKeyChecker(ctx.config.apiKeys);
  const sessions = new Map<WebSocket, StreamSession>();
  const alive = new WeakSet<WebSocket>();
  let accepting = true;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== WS_PATH) return refuse(socket, new ApiError('not_found', 'No WebSocket endpoint here'));
    if (!accepting) return refuse(socket, unavailable('The server is shutting down'));
    const credentials = upgradeCredentials(req.headers);
    if (!credentials.ok)
      return refuse(socket, invalidRequest(credentials.message, null, 'invalid_subprotocol'));
    if (!authorized(credentials.authorization)) return refuse(socket, unauthorized());
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const session = new StreamSession(
      ctx,
      { send: (text) => ws.send(text), bufferedAmount: () => ws.bufferedAmount },
      req.headers,
    );
    sessions.set(ws, session);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data, isBinary) =>
      session.onMessage(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), isBinary),
    );
    ws.on('close', () => {
      session.close();
      sessions.delete(ws);
    });
    ws.on('error', () => ws.terminate());
  });

  const heartbeat = setInterval(() => {
    for (const ws of sessions.keys()) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, ctx.config.wsHeartbeatMs);
  heartbeat.unref();

  return {
    connections: () => sessions.size,
    async close(timeoutMs = 10_000) {
      accepting = false;
      clearInterval(heartbeat);
      server.off('upgrade', onUpgrade);
      const idle = Promise.all([...sessions.values()].map((s) => s.idle()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      for (const [ws, session] of sessions) {
        session.close();
        ws.close(1001, 'server shutting down');
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
