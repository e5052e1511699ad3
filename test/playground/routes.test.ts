import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createApp } from '../../src/api/app.ts';
import { parseApiConfig } from '../../src/api/config.ts';
import { FakeEngine } from '../api/fake-engine.ts';

/** How the playground's files are served (through `app.request()`, no socket, no browser). */

const STATIC = join(import.meta.dirname, '..', '..', 'src', 'api', 'playground', 'static');
const keyed = () => createApp({ engine: new FakeEngine(), config: parseApiConfig({ apiKeys: ['k1'] }) });

describe('playground routes', () => {
  it('/ and /playground redirect (relatively, for path-prefix proxies) to /playground/', async () => {
    const app = keyed();
    for (const path of ['/', '/playground']) {
      const res = await app.request(path);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get('location'), 'playground/', path);
      assert.equal(new URL(res.headers.get('location')!, `http://h${path}`).pathname, '/playground/');
    }
  });

  it('serves every file with its content type, a strict CSP, no-cache and an ETag, without the key', async () => {
    const app = keyed();
    const types: Record<string, string> = {
      '': 'text/html; charset=utf-8',
      'index.html': 'text/html; charset=utf-8',
      'main.js': 'text/javascript; charset=utf-8',
      'style.css': 'text/css; charset=utf-8',
      'icon.svg': 'image/svg+xml',
    };
    for (const file of readdirSync(STATIC).filter((f) => /\.(js|css|svg)$/.test(f))) {
      types[file] ??= file.endsWith('.js') ? 'text/javascript; charset=utf-8' : '';
    }
    for (const [file, type] of Object.entries(types)) {
      const res = await app.request(`/playground/${file}`);
      assert.equal(res.status, 200, file);
      if (type) assert.equal(res.headers.get('content-type'), type, file);
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
      ]) {
        assert.ok(csp.includes(directive), `${file}: ${directive} in "${csp}"`);
      }
      assert.ok(!csp.includes('unsafe'), csp);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      const body = await res.text();
      assert.equal(body, readFileSync(join(STATIC, file || 'index.html'), 'utf8'), file);

      // Revalidation: the same ETag gets a 304 with no body.
      const etag = res.headers.get('etag');
      assert.ok(etag, `${file}: ETag`);
      const again = await app.request(`/playground/${file}`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304, file);
      assert.equal(await again.text(), '');
    }
  });

  it('the page loads nothing from outside: every src/href in index.html is relative', () => {
    const html = readFileSync(join(STATIC, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 3, refs.join(' '));
    for (const ref of refs) assert.ok(!/^[a-z]+:|^\/\//i.test(ref), `${ref} is relative`);
    for (const file of readdirSync(STATIC).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(join(STATIC, file), 'utf8');
      assert.ok(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(code), `${file} names no outside URL`);
    }
  });

  it('the API behind it still needs the key; unknown files and sources are 404', async () => {
    const app = keyed();
    assert.equal((await app.request('/v1/models')).status, 401);
    assert.equal((await app.request('/v1/models', { headers: { authorization: 'Bearer k1' } })).status, 200);
    for (const path of ['/playground/nope.js', '/playground/types.d.ts', '/playground/tsconfig.json']) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    }
    // Files come from a fixed map, never from the request path: an encoded ../ finds nothing.
    assert.equal((await app.request('/playground/%2e%2e%2froute.ts')).status, 404);
  });

  it('REVERIE_PLAYGROUND=false: no page, and its paths need the key like any other', async () => {
    const app = createApp({
      engine: new FakeEngine(),
      config: parseApiConfig({ apiKeys: ['k1'], playground: false }),
    });
    assert.equal((await app.request('/playground/')).status, 401);
    const res = await app.request('/playground/', { headers: { authorization: 'Bearer k1' } });
    assert.equal(res.status, 404);
    assert.equal((await app.request('/health')).status, 200);
  });
});
