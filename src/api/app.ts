import { Hono } from 'hono';
import type { Engine } from '../engine/types.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { bearerAuth } from './auth.ts';
import { chatCompletionsRoutes } from './chat-completions/route.ts';
import type { ApiContext } from './common/context.ts';
import { completionsRoutes } from './completions/route.ts';
import { type ApiConfig, parseApiConfig } from './config.ts';
import { corsMiddleware } from './cors.ts';
import { errorResponse, routeNotFound } from './errors.ts';
import { healthRoutes } from './health/route.ts';
import { addMethodNotAllowed } from './method-not-allowed.ts';
import { metricsRoutes } from './metrics/route.ts';
import { modelsRoutes } from './models/route.ts';
import { isPlaygroundPath, playgroundRoutes } from './playground/route.ts';
import { requestIdMiddleware } from './request-id.ts';
import { responsesRoutes } from './responses/route.ts';
import { tokenizeRoutes } from './tokenize/route.ts';
import { versionRoutes } from './version/route.ts';

export interface CreateAppOptions {
  engine: Engine;
  config?: ApiConfig;
  /** Traces and metrics; created from the OTEL_* environment when omitted. */
  telemetry?: Telemetry;
}

/** The app and what the Node server and the WebSocket adapter share with it. */
export interface App {
  /** The fetch handler (also `app.request()` in tests). */
  readonly hono: Hono;
  readonly fetch: (request: Request) => Response | Promise<Response>;
  readonly request: Hono['request'];
  readonly context: ApiContext;
  readonly telemetry: Telemetry;
}

/**
 * Paths served without a key: `/health` and `/version` (as vLLM), `/metrics` unless
 * `metricsRequireKey` (Prometheus scrapes without one, as vLLM's), the playground's static files.
 */
function isOpenPath(path: string, config: ApiConfig): boolean {
  if (path === '/health' || path === '/version') return true;
  if (path === '/metrics') return !config.metricsRequireKey;
  return config.playground && isPlaygroundPath(path);
}

/**
 * The HTTP API as a fetch handler: no sockets, testable with `app.request()`.
 *
 * @example
 * const app = createApp({ engine });
 * const res = await app.request('/v1/models');
 */
export function createApp(options: CreateAppOptions): App {
  const config = options.config ?? parseApiConfig();
  const telemetry = options.telemetry ?? new Telemetry(options.engine);
  const context: ApiContext = { engine: options.engine, config, telemetry };
  const hono = new Hono();
  // Order matters: CORS answers preflights (which carry no key) and decorates every response,
  // errors included; the request id is known before auth can refuse.
  hono.use('*', corsMiddleware(config));
  hono.use('*', requestIdMiddleware());
  hono.use(
    '*',
    bearerAuth(config.apiKeys, (path) => isOpenPath(path, config)),
  );
  hono.route('/', healthRoutes(context));
  hono.route('/', versionRoutes());
  hono.route('/', modelsRoutes(context));
  hono.route('/', chatCompletionsRoutes(context));
  hono.route('/', completionsRoutes(context));
  hono.route('/', responsesRoutes(context));
  hono.route('/', tokenizeRoutes(context));
  hono.route('/', metricsRoutes(telemetry));
  if (config.playground) hono.route('/', playgroundRoutes());
  addMethodNotAllowed(hono);
  hono.notFound((c) => errorResponse(routeNotFound(c.req.method, c.req.path)));
  // The one place errors become responses.
  hono.onError((err) => errorResponse(err, config.retryAfterSeconds));
  return {
    hono,
    fetch: (request) => hono.fetch(request),
    request: hono.request.bind(hono),
    context,
    telemetry,
  };
}
