import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

/**
 * The package as users get it: `npm pack` (which builds dist/), installed into an empty folder
 * without dev dependencies (so no tsx), then `npx reverie serve` on the default checkpoint it
 * ships, answering /health. The install is offline: the folder gets a lockfile made from the
 * project's own (production entries only), so npm takes every tarball from its local cache.
 */

const REPO = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // onnxruntime-node's postinstall would fetch CUDA files (see .npmrc); the CPU build is in the package.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_update_notifier: 'false' },
  });

/** A lockfile for a folder depending on the tarball only: the project's production packages, same paths. */
function appLock(tarball: string): unknown {
  const packages: Record<string, unknown> = {
    '': { name: 'app', version: '1.0.0', dependencies: { reverie: `file:${tarball}` } },
    'node_modules/reverie': {
      version: pkg.version,
      resolved: `file:${tarball}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  return { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

describe('npm package', () => {
  const root = mkdtempSync(join(tmpdir(), 'reverie-pack-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('installs into an empty folder and `npx reverie serve` answers /health', async () => {
    const tarball = npm(['pack', '--silent', '--pack-destination', root], REPO).trim().split('\n').at(-1)!;
    const app = join(root, 'app');
    mkdirSync(app);
    const dependency = `file:../${tarball}`;
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { reverie: dependency } }),
    );
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(appLock(`../${tarball}`)));
    npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], app);
    const installed = join(app, 'node_modules');
    assert.ok(existsSync(join(installed, 'reverie', 'dist', 'cli', 'main.js')), 'dist/ is in the package');
    assert.ok(!existsSync(join(installed, 'tsx')), 'tsx is not installed: the package runs without it');
    assert.ok(!existsSync(join(installed, 'reverie', 'src')), 'the TypeScript sources are not shipped');

    const { MODELS_DIR: _, ...env } = process.env;
    const server = spawn('npx', ['--offline', 'reverie', 'serve', '--port', '0'], {
      cwd: app,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...env, npm_config_update_notifier: 'false' },
      // Its own process group: npx does not pass SIGTERM on to the server it started.
      detached: true,
    });
    let log = '';
    server.stderr.setEncoding('utf8');
    const url = new Promise<string>((resolve, reject) => {
      server.stderr.on('data', (chunk: string) => {
        log += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(log);
        if (match) resolve(match[1]!);
      });
      server.once('exit', (code) => reject(new Error(`reverie serve exited (${code}): ${log}`)));
    });
    // The server inherits npx's stderr: the pipe closes once both have exited.
    const exited = new Promise<void>((resolve) => server.stderr.once('close', resolve));
    try {
      const base = await url;
      let status = 0;
      for (let i = 0; i < 300 && status !== 200; i++) {
        status = (await fetch(`${base}/health`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, log);
      const name = readFileSync(join(REPO, 'models', 'DEFAULT'), 'utf8').trim();
      assert.ok(log.includes(`ready: ${name}`), log);
      const page = await fetch(`${base}/playground/`);
      assert.equal(page.status, 200, 'the playground files ship in dist/');
      assert.match(await page.text(), /<html/i);
    } finally {
      process.kill(-server.pid!, 'SIGTERM');
      await exited;
    }
  });
});
