// Bundles each service into one file under dist/ (what the images run), the CLI, and the
// web page's script; copies the page's static files and writes each one's brotli and gzip
// forms beside it, which the webui serves as they are (@fastify/static preCompressed).
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { build } from 'esbuild';
import { nodeBundle } from './node-bundle.js';

const services = ['rng', 'hasher', 'worker', 'webui'] as const;

await mkdir('dist/public', { recursive: true });
await Promise.all([
  build({
    entryPoints: Object.fromEntries([
      ...services.map((s) => [s, `src/${s}/main.ts`]),
      ['cli', 'src/cli/main.ts'],
    ]),
    ...nodeBundle,
    outdir: 'dist',
    splitting: false,
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
  }),
  build({
    entryPoints: { app: 'src/webui/client/main.ts' },
    outdir: 'dist/public',
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'esm',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  }),
  cp('src/webui/public', 'dist/public', { recursive: true }),
]);

// Source maps are fetched only by developer tools: left as they are.
const pages = (await readdir('dist/public')).filter((name) => !/\.(map|br|gz)$/.test(name));
await Promise.all(
  pages.map(async (name) => {
    const file = path.join('dist/public', name);
    const content = await readFile(file);
    const brotli = promisify(brotliCompress)(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
    await Promise.all([writeFile(`${file}.br`, await brotli), writeFile(`${file}.gz`, await promisify(gzip)(content, { level: 9 }))]);
  }),
);
