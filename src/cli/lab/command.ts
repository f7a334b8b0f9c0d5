// `dockercoins lab <chapter>`, `lab --list`, `lab all` and `lab clean`: the commander wiring of
// the chapters of ./chapters.ts, each with the same options (./options.ts).
import { writeFile } from 'node:fs/promises';
import { Command as CliCommand, Option, type OptionValues } from 'commander';
import { chapterOf, chapters } from './chapters.js';
import { cleanScript } from './clean.js';
import { labOptions, sharedOptions } from './options.js';
import { runCoach } from './coach.js';
import { numberOption } from '../number-option.js';
import { minutes, runChapter, scriptChapter, type Chapter, type LabRun } from './runner.js';
import { unwatchableSteps } from './script.js';

export function labCommand(): CliCommand {
  const lab = new CliCommand('lab')
    .description("the workshop's chapters, run and checked step by step")
    .option('--list', 'the chapters in workshop order')
    .action((o: { list?: boolean }) => {
      if (!o.list) return lab.help();
      process.stdout.write(listing());
    });
  for (const entry of chapters) {
    const command = sharedOptions(lab.command(entry.name).description(`${entry.description} (workshop: ${entry.pages.join(', ')})`));
    coachOptions(command).action(async (values: OptionValues) => {
      const o = labOptions(values);
      if (!values.coach) return void (await runChapter(chapterOf(entry, o), o));
      const script = entry.script(o);
      const unwatchable = unwatchableSteps(script);
      if (unwatchable.length) command.error(`lab ${entry.name} --coach: the coach cannot check by watching ${unwatchable.join(', ')}; run the chapter instead (lab ${entry.name})`);
      await runCoach(script, o, entry.mistakes ?? [], values.idle as number);
    });
  }
  sharedOptions(lab.command('all').description('every chapter in workshop order on one cluster; stops at the first that fails; a summary at the end')).action(runAll);
  sharedOptions(lab.command('clean').description('the cluster back to clean: every stack, service, network, volume and image the chapters made')).action(async (values: OptionValues) => {
    const o = labOptions(values);
    await runChapter(scriptChapter(cleanScript(o), o), o);
  });
  return lab;
}

/** The coach's options; a chapter with a step it cannot check by watching refuses --coach, saying which. */
const coachOptions = (command: CliCommand) =>
  command
    // The coach prints no sheet and writes no report: said at once rather than ignored.
    .addOption(new Option('--coach', 'run none of the commands: show each step, watch the cluster while you type them, tick each step reached, point out mistakes').default(false).conflicts(['dryRun', 'report']))
    .option('--idle <seconds>', 'with --coach: say what it waits for after this long without a change', numberOption(5, 3600), 60);

/** `lab --list`: name, workshop pages, what it does. */
export function listing(): string {
  const width = Math.max(...chapters.map((c) => c.name.length));
  const numberWidth = `${chapters.length}.`.length;
  return chapters.map((c, i) => `${`${i + 1}.`.padStart(numberWidth)} ${c.name.padEnd(width)}  ${c.description}\n${' '.repeat(numberWidth + 1 + width)}  workshop: ${c.pages.join(', ')}\n`).join('');
}

interface ChapterRun {
  chapter: string;
  run: LabRun;
  /** The figure of its key step (its ✓ or ✗ line), or why it stopped. */
  key: string;
}

/** `lab all`: each chapter with the same options; one report and one summary for all. */
async function runAll(values: OptionValues): Promise<void> {
  const o = labOptions({ ...values, report: undefined });
  const runs: ChapterRun[] = [];
  for (const entry of chapters) {
    if (!o.dryRun) process.stdout.write(`\n== dockercoins lab ${entry.name} (workshop: ${entry.pages.join(', ')})\n`);
    const chapter = chapterOf(entry, o);
    const run = await runChapter(chapter, o);
    runs.push({ chapter: entry.name, run, key: keyFigure(chapter, run) });
    // A chapter that ran to its end on an engine that lacks what it shows leaves the cluster as the next one expects.
    if (!run.ok && !run.engineLacks) break;
  }
  if (o.dryRun) return;
  const summary = summaryLines(runs, chapters.length);
  process.stdout.write(`\n${summary.join('\n')}\n`);
  if (values.report) await writeFile(values.report as string, `${JSON.stringify({ ok: runs.every((r) => r.run.ok), summary, chapters: runs }, null, 2)}\n`);
}

const keyFigure = (chapter: Chapter, run: LabRun) =>
  run.ok ? (run.results.find((r) => r.title === chapter.keyStep) ?? run.results.at(-1))?.figure ?? '' : (run.reason ?? run.engineLacks?.join('; ') ?? 'stopped');

/** One line per chapter (✓/✗, time, key figure), those not run, and the total. */
export function summaryLines(runs: ChapterRun[], total: number): string[] {
  const width = Math.max(...chapters.map((c) => c.name.length));
  const lines = runs.map((r) => `${r.run.ok ? '✓' : '✗'} ${r.chapter.padEnd(width)}  ${minutes(r.run.seconds).padStart(12)}  ${r.key}`);
  const notRun = chapters.slice(runs.length).map((c) => `- ${c.name.padEnd(width)}  not run`);
  const ok = runs.filter((r) => r.run.ok).length;
  const seconds = runs.reduce((sum, r) => sum + r.run.seconds, 0);
  return ['Summary:', ...lines, ...notRun, `${ok} of ${total} chapters passed in ${minutes(seconds)}`];
}
