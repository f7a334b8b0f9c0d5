// How every Node bundle is built: the services and the CLI (scripts/build.ts), and the bench's
// baselines (bench/run.ts), so that ours and the baselines start the same way.
import type { BuildOptions } from 'esbuild';

export const nodeBundle: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // .mjs: a bundle copied anywhere on its own (an image's /app, the bench's temp dir) is still
  // ESM. A .js with no package.json beside it is first compiled as CommonJS, then again as ESM
  // when that fails, which costs every service memory at start and idle (bench/README.md's RSS).
  outExtension: { '.js': '.mjs' },
  // Some dependencies are CommonJS and call require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};
