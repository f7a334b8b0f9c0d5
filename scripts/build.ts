// Bundles each service into one file under dist/ (what the images run), the CLI, and the
// web page's script; copies the page's static files.
import { cp, mkdir } from 'node:fs/promises';
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
