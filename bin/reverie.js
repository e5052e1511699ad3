#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` → dist/, shipped in the package). In a source checkout
// that has not been built, falls back to the TypeScript sources through tsx (a dev dependency).
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('reverie: dist/ is missing and tsx is not installed: run `npm run build` first\n');
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
