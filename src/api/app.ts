import { Hono } from 'hono';
import type { Engine } from '../engine/types.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { bearerAuth } from './auth.ts';
import { chatCompletionsRoutes } from './chat-completions/route.ts';
import type { ApiContext } from './common/context.ts';
import { completionsRoutes } from './completions/route.ts';
import { type ApiConfig, parseApiConfig } from './config.ts';
import { errorResponse, routeNotFound } from './errors.ts';
import { healthRoutes } from './health/route.ts';
import { metricsRoutes } from './metrics/route.ts';
import { modelsRoutes } from './models/route.ts';
import { isPlaygroundPath, playgroundRoutes } from './playground/route.ts';

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
  hono.use(
    '*',
    bearerAuth(config.apiKeys, (path) => path === '/health' || (config.playground && isPlaygroundPath(path))),
  );
  hono.route('/', healthRoutes(context));
  hono.route('/', modelsRoutes(context));
  hono.route('/', chatCompletionsRoutes(context));
  hono.route('/', completionsRoutes(context));
  hono.route('/', metricsRoutes(telemetry));
  if (config.playground) hono.route('/', playgroundRoutes());
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
