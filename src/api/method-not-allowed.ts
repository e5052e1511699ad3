import type { Hono } from 'hono';
import { methodNotAllowed } from './errors.ts';

/**
 * After every route is registered: a catch-all per known path that answers other methods with 405
 * and an `Allow` header (as Starlette routes do for vLLM), instead of 404. HEAD is allowed where
 * GET is (hono answers HEAD from the GET route).
 */
export function addMethodNotAllowed(app: Hono): void {
  const byPath = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === 'ALL') continue; // middleware
    let methods = byPath.get(route.path);
    if (!methods) byPath.set(route.path, (methods = new Set()));
    methods.add(route.method);
  }
  for (const [path, methods] of byPath) {
    if (methods.has('GET')) methods.add('HEAD');
    const allow = [...methods].sort();
    app.all(path, (c) => {
      throw methodNotAllowed(c.req.method, c.req.path, allow);
    });
  }
}
