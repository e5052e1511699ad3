import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { ApiConfig } from './config.ts';

/**
 * CORS as vLLM configures Starlette's middleware (`--allowed-origins`, `--allowed-methods`,
 * `--allowed-headers`, `--allow-credentials`; all `*` and no credentials by default): hono's cors
 * middleware, answering preflights before authentication (a browser's preflight carries no key)
 * and adding the headers to every response, errors included. `*` methods means all of them and
 * `*` headers echoes what the preflight asks for, as Starlette does; with credentials, `*` origins
 * echo the request's origin (a literal `*` is refused by browsers then). An OPTIONS that is not a
 * preflight goes on to the routes (405).
 */

const ALL_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'];

export function corsMiddleware(config: ApiConfig): MiddlewareHandler {
  const anyOrigin = config.allowedOrigins.includes('*');
  const handler = cors({
    origin: anyOrigin
      ? config.allowCredentials
        ? (origin) => origin || null
        : '*'
      : [...config.allowedOrigins],
    allowMethods: config.allowedMethods.includes('*') ? ALL_METHODS : [...config.allowedMethods],
    allowHeaders: config.allowedHeaders.includes('*') ? [] : [...config.allowedHeaders],
    credentials: config.allowCredentials,
    exposeHeaders: ['X-Request-Id'],
    maxAge: 600,
  });
  return (c, next) => {
    const preflight = c.req.header('origin') && c.req.header('access-control-request-method');
    if (c.req.method === 'OPTIONS' && !preflight) return next();
    return handler(c, next);
  };
}
