// The docs' relative links lead somewhere: each target exists, and each #anchor names a heading
// of its page (GitHub's slugs: lower case, punctuation dropped, spaces as hyphens).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { repositoryRoot as root } from '../../src/lib/paths.js';

const pages = ['README.md', 'CONTRIBUTING.md', 'bench/README.md', ...readdirSync(path.join(root, 'docs')).map((f) => `docs/${f}`)];

const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
}

it('every relative link of the docs leads to a file, and its #anchor to a heading of it', () => {
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(path.join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(root, page) : path.join(root, path.dirname(page), file);
      if (!existsSync(resolved)) broken.push(`${page}: ${target} (no such file)`);
      else if (anchor && (statSync(resolved).isDirectory() || !anchors(resolved).has(anchor))) broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});
