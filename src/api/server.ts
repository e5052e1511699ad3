import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { App } from './app.ts';
import { attachWebSocket, type WebSocketAdapter } from './ws/adapter.ts';

/** A listening server: HTTP through the app's fetch handler, WebSocket through `ws`. */
export interface RunningServer {
  readonly server: Server;
  readonly ws: WebSocketAdapter;
  /** `http://host:port` as bound (the real port when 0 was asked). */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful: stop accepting, let in-flight HTTP and WebSocket requests finish (up to
   * `timeoutMs`), then cut what is left. Idempotent. The engine is not closed here.
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the Node server for an app.
 * @example const running = await startServer(createApp({ engine }), { host: '127.0.0.1', port: 0 });
 */
export async function startServer(app: App, options: { host: string; port: number }): Promise<RunningServer> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const ws = attachWebSocket(server, app.context);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | null = null;
  return {
    server,
    ws,
    port,
    url: `http://${host}:${port}`,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        const deadline = Date.now() + timeoutMs;
        // Stop accepting; keep-alive connections close once idle (Node ≥ 19 closes idle ones at once).
        const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await ws.close(Math.max(deadline - Date.now(), 0));
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((r) => {
          timer = setTimeout(() => r('timeout'), Math.max(deadline - Date.now(), 0));
        });
        if ((await Promise.race([httpClosed, timedOut])) === 'timeout') server.closeAllConnections();
        clearTimeout(timer);
        await httpClosed;
      })();
      return closing;
    },
  };
}
