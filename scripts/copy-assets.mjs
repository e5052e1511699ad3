// `npm run build`, after tsc: copies what tsc does not emit but dist/ serves (the playground's
// hand-written HTML, CSS, JavaScript and SVG), so the compiled server finds them beside its code.
import { cpSync } from 'node:fs';
import { extname } from 'node:path';

const ASSETS = ['api/playground/static'];
const SERVED = new Set(['.html', '.css', '.js', '.svg']);

for (const dir of ASSETS) {
  cpSync(new URL(`../src/${dir}`, import.meta.url), new URL(`../dist/${dir}`, import.meta.url), {
    recursive: true,
    filter: (src) => !extname(src) || SERVED.has(extname(src)),
  });
}
