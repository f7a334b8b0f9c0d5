// The workshop's own text (../shared/workshop/slides, ../shared/seed), for pinning what a lab
// chapter prints against what attendees type: every command of a chapter's --dry-run is on the
// chapter's pages as written, or marked as a departure with its reason.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import path from 'node:path';
import { execa } from 'execa';
import { repositoryRoot as root } from '../../src/lib/paths.js';

const shared = process.env.SHARED ?? path.resolve(root, '../shared');

/**
 * True when ../shared (the workshop's pages) is here; else marks the test skipped, loudly (a
 * failure under CI=true, where it must be).
 */
export function canReadWorkshop(t: TestContext): boolean {
  if (existsSync(path.join(shared, 'workshop/slides'))) return true;
  if (process.env.CI === 'true') throw new Error(`the workshop's pages are not at ${shared} (CI=true): check out ../shared or set SHARED`);
  console.warn(`\n!!! SKIPPING: the workshop's pages are not at ${shared}; check out ../shared (or set SHARED) to run this test !!!\n`);
  t.skip(`no workshop pages at ${shared}`);
  return false;
}

/**
 * The commands of the chapter's pages, one string, continuation lines joined and spaces
 * collapsed; `vars` expanded ($NAME, ${NAME-default}); `loop` repeats the text once per value
 * of a for-loop variable (SERVICE).
 */
export async function workshopText(pages: string[], vars: Record<string, string>, loop?: { name: string; values: string[] }): Promise<string> {
  const files = pages.map((p) => (p === 'btp-manual' ? path.join(shared, 'seed/000_f0c21e5694ed891b.txt') : path.join(shared, `workshop/slides/${p.startsWith('compose') || p === 'sampleapp' || p === 'hastyconclusions' ? 'shared' : 'swarm'}-${p}.md`)));
  const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n').replaceAll(/\\\n\s*/g, ' ');
  const expand = (t: string, values: Record<string, string>) =>
    t.replaceAll(/\$\{(\w+)-[^}]*\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => values[(braced ?? bare)!] ?? whole);
  const copies = loop ? loop.values.map((v) => expand(text, { ...vars, [loop.name]: v })) : [expand(text, vars)];
  return copies.join('\n').replaceAll(/[ \t]+/g, ' ');
}

export interface SheetCommand {
  /** The command without the variables the lab sets in front of it. */
  command: string;
  departure?: string;
}

/** A chapter's cheat sheet (`dockercoins lab <chapter> --dry-run ...args`). */
export async function dryRun(chapter: string, ...args: string[]): Promise<{ stdout: string; commands: SheetCommand[] }> {
  const { stdout } = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', chapter, '--dry-run', ...args], { env: { NODE_IMAGE: '', REDIS_IMAGE: '', REGISTRY_IMAGE: '', DEBIAN_IMAGE: '' } });
  const lines = stdout.split('\n');
  const commands = lines.flatMap((line, i) => {
    if (!line || line.startsWith('#')) return [];
    // A departure, or a command of the lab's own: marked on the line after it.
    const departure = /^#\s+↑ (?:departs from the workshop|the lab's own check): (.*)$/.exec(lines[i + 1] ?? '')?.[1];
    return [{ command: line.replace(/^(\w+=(?!\$\()\S+ )+/, '').replace(/ {3}# (?:on|in) .*$/, ''), departure }];
  });
  return { stdout, commands };
}

/** The commands that are neither on the pages nor marked as departures. */
export const unmarked = (commands: SheetCommand[], text: string) => commands.filter((c) => !c.departure && !text.includes(c.command)).map((c) => c.command);
