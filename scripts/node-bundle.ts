// How every Node bundle is built: the services and the CLI (scripts/build.ts), and the bench's
// baselines (bench/run.ts), so that ours and the baselines start the same way.
import type { BuildOptions } from 'esbuild';

export const nodeBundle: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // .mjs: a bundle copied anywhere on its own (an image's /app, the bench's temp dir) is still
  // ESM. A .js with no package.json beside it is first compiled as CommonJS, then again as ESM
  // when that fails: measured +13 MB of RSS at start for rng, +30-60 MB idle for worker and webui.
  outExtension: { '.js': '.mjs' },
  // Some dependencies are CommonJS and call require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};
