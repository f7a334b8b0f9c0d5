// `dockercoins lab <chapter>`, `lab --list` and `lab all`: the commander wiring of the chapters
// of ./chapters.ts, each with the shared options (./options.ts) and its own.
import { writeFile } from 'node:fs/promises';
import { Command as CliCommand, type OptionValues } from 'commander';
import { chapters, type ChapterEntry } from './chapters.js';
import { labOptions, sharedOptions } from './options.js';
import { runChapter, type LabRun } from './runner.js';

export function labCommand(): CliCommand {
  const lab = new CliCommand('lab')
    .description("the workshop's chapters, run and checked step by step")
    .option('--list', 'the chapters in workshop order')
    .action((o: { list?: boolean }) => {
      if (!o.list) return lab.help();
      process.stdout.write(listing());
    });
  for (const entry of chapters) {
    const command = chapterOptions(entry, lab.command(entry.name).description(`${entry.description} (workshop: ${entry.pages.join(', ')})`));
    command.action(async (values: OptionValues) => {
      const o = labOptions(values);
      await runChapter(entry.create(o), o);
    });
  }
  sharedOptions(lab.command('all').description('every chapter in workshop order on one cluster; stops at the first that fails')).action(runAll);
  return lab;
}

const chapterOptions = (entry: ChapterEntry, command: CliCommand) => entry.options?.(sharedOptions(command)) ?? sharedOptions(command);

/** `lab --list`: name, workshop pages, what it does. */
export function listing(): string {
  const width = Math.max(...chapters.map((c) => c.name.length));
  return chapters.map((c, i) => `${i + 1}. ${c.name.padEnd(width)}  ${c.description}\n   ${' '.repeat(width)}  workshop: ${c.pages.join(', ')}\n`).join('');
}

/** `lab all`: each chapter with the options given and its own defaults; one report for all. */
async function runAll(values: OptionValues): Promise<void> {
  const runs: { chapter: string; run: LabRun }[] = [];
  for (const entry of chapters) {
    // A fresh command knows the chapter's own defaults without parsing anything.
    const o = labOptions({ ...chapterOptions(entry, new CliCommand()).opts(), ...values, report: undefined });
    if (!o.dryRun) process.stdout.write(`\n== dockercoins lab ${entry.name} (workshop: ${entry.pages.join(', ')})\n`);
    const run = await runChapter(entry.create(o), o);
    runs.push({ chapter: entry.name, run });
    if (!run.ok) break;
  }
  if (values.report) await writeFile(values.report as string, `${JSON.stringify({ ok: runs.every((r) => r.run.ok), chapters: runs }, null, 2)}\n`);
}
