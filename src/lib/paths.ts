// Where the repository and the bundles are, whether this code runs bundled in dist/ (the CLI)
// or from src/ with tsx (tests, bench).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root, also the images' build context. */
export const repositoryRoot = path.basename(here) === 'dist' ? path.dirname(here) : path.resolve(here, '../..');

/** What `npm run build` makes: dist/<service>.mjs, dist/cli.mjs, dist/public/. */
export const distDir = path.join(repositoryRoot, 'dist');
