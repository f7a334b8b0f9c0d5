// Each chapter's cheat sheet (`dockercoins lab <chapter> --dry-run`, default options) against
// the workshop's pages: the commands in their order (lab-sheets.json, written from the pages),
// each one on the pages as attendees type it, or marked as a departure with its reason. What is
// particular to a chapter (its departures, its options) is in that chapter's own test file.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { canReadWorkshop, dryRun, unmarked, workshopText } from '../helpers/workshop.js';

const sheets = JSON.parse(await readFile(new URL('lab-sheets.json', import.meta.url), 'utf8')) as Record<string, { pages: string[]; commands: string[] }>;

for (const [chapter, { pages, commands: expected }] of Object.entries(sheets)) {
  test(`lab ${chapter} --dry-run: the commands of ${pages.join(', ')} in their order, each as the workshop types it or marked`, async (t) => {
    const { commands } = await dryRun(chapter);
    assert.deepEqual(commands.map((c) => c.command), expected);
    if (!canReadWorkshop(t)) return;
    assert.deepEqual(unmarked(commands, await workshopText(pages, {})), [], 'on the pages, or marked as departures');
  });
}
