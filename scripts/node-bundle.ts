// How every Node bundle is built: the services and the CLI (scripts/build.ts), and the bench's
// baselines (bench/run.ts), so that ours and the baselines start the same way.
import type { BuildOptions } from 'esbuild';

export const nodeBundle: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Some dependencies are CommonJS and call require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};
