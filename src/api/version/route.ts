import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { z } from 'zod';

/** `GET /version`: reverie's version, as vLLM's `{"version": …}`. */

export const versionSchema = z.object({ version: z.string() }).meta({ id: 'Version' });

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function versionRoutes(): Hono {
  return new Hono().get('/version', (c) => c.json({ version: VERSION }));
}
