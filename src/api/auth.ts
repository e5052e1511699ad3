import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { unauthorized } from './errors.ts';

/**
 * Bearer-key checking. Keys are compared as SHA-256 digests with `timingSafeEqual` (equal lengths,
 * constant time) and every key is tried, so timing reveals neither a key's length nor which one matched.
 */

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether an `Authorization` header carries one of `keys` (always true when there are none). */
export function makeKeyChecker(
  keys: readonly string[],
): (authorization: string | null | undefined) => boolean {
  const digests = keys.map(digest);
  return (authorization) => {
    if (digests.length === 0) return true;
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    const presented = digest(match ? match[1]!.trim() : '');
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    return ok && match !== null;
  };
}

/**
 * Hono middleware: 401 unless the request carries a valid key; paths for which `isOpen` holds pass
 * (`/health`, and the playground's static files, which hold no data: every call the page makes
 * sends the key).
 */
export function bearerAuth(
  keys: readonly string[],
  isOpen: (path: string) => boolean = (path) => path === '/health',
): MiddlewareHandler {
  const check = makeKeyChecker(keys);
  return async (c, next) => {
    if (isOpen(c.req.path) || check(c.req.header('authorization'))) return next();
    throw unauthorized();
  };
}
