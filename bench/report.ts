// What every benchmark writes beside its figures: the machine, and its own section of
// bench/README.md (each bench owns one "## <title>" section and leaves the others alone).
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repositoryRoot } from '../src/lib/paths.js';

export const benchDir = path.join(repositoryRoot, 'bench');

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** The middle value (the upper one of the two middles for an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A figure measured over rounds: the median round and the range of all of them. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export const spread = (xs: number[]): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** "0.81 (0.78-0.85)": a spread of ratios as the tables print it. */
export const ratioText = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;

/** A whole number with thousands separators. */
export const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Replaces the "## <title>" section of bench/README.md (up to the next "## "), or appends it. */
export async function updateReadmeSection(title: string, body: string): Promise<void> {
  const file = path.join(benchDir, 'README.md');
  const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const section = `## ${title}\n\n${body}\n`;
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^## ${escaped}\\n[\\s\\S]*?(?=^## |(?![\\s\\S]))`, 'm').exec(current);
  const next = match ? current.replace(match[0], `${section}\n`) : `${current.trimEnd()}\n\n${section}`;
  await writeFile(file, `${next.trimEnd()}\n`);
}

/** Runs a bench's main; a failure prints its stack and sets the exit code. `cleanup` runs either way. */
export async function runBench(main: () => Promise<void>, cleanup: () => Promise<void> = async () => {}): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}
