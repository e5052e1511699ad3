import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import { secureHeaders } from 'hono/secure-headers';

/**
 * The browser playground: hand-written HTML, CSS and JavaScript modules in `static/`, served as
 * they are (no build step, nothing from outside the server). The page lives at `/playground/`
 * and refers to its files and to the API by relative URLs, so it also works behind a proxy that
 * mounts the server under a path prefix; `/` and `/playground` redirect to it, relatively too.
 */

/** Where the page lives. */
export const PLAYGROUND_PATH = '/playground/';

const STATIC_DIR = join(import.meta.dirname, 'static');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Whether a path is one of the playground's (served without an API key: the files hold no data). */
export function isPlaygroundPath(path: string): boolean {
  return path === '/' || path === '/playground' || path.startsWith(PLAYGROUND_PATH);
}

/** The static files, read once: a fixed set, so no request path ever reaches the file system. */
function loadAssets(): Map<string, { body: string; type: string }> {
  const assets = new Map<string, { body: string; type: string }>();
  for (const name of readdirSync(STATIC_DIR).sort()) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(STATIC_DIR, name), 'utf8'), type });
  }
  return assets;
}

/**
 * `GET /playground/` and its files. Every response carries a strict Content-Security-Policy:
 * scripts, styles, images and connections (fetch and the WebSocket) from this origin only, no
 * inline script or style, no frames, no form posts. Files are revalidated on each load
 * (`no-cache` with an ETag, so a 304 usually): their names carry no version, and a page of a
 * newer server must never run an older cached script.
 */
export function playgroundRoutes(): Hono {
  const assets = loadAssets();
  const app = new Hono();
  app.get('/', (c) => c.redirect('playground/', 302));
  app.get('/playground', (c) => c.redirect('playground/', 302));
  app.use(
    `${PLAYGROUND_PATH}*`,
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: 'DENY',
      // Plain HTTP is the default here (127.0.0.1); HSTS belongs to the TLS proxy in front, if any.
      strictTransportSecurity: false,
    }),
    etag(),
  );
  app.get(`${PLAYGROUND_PATH}:file{.*}`, (c) => {
    const asset = assets.get(c.req.param('file') || 'index.html');
    if (!asset) return c.notFound();
    return c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' });
  });
  return app;
}
