// `dockercoins lab check --clusters FILE`: the instructor's class check, every cluster of the file
// checked end to end; a table, a JSON report and an HTML page; exit code 0 only if all passed.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { repositoryRoot } from '../../lib/paths.js';
import { numberOption } from '../number-option.js';
import { ClustersFileError, parseClusters } from './clusters-file.js';
import type { CheckOptions } from './context.js';
import { checkClusters } from './live-view.js';
import { renderHtml, renderJson, renderTable, type CheckReport } from './report.js';

interface CommandValues extends Omit<CheckOptions, 'stepSeconds'> {
  clusters: string;
  timeout: number;
  report?: string;
  html?: string;
}

export function checkCommand(): Command {
  return new Command('check')
    .description("the class check: every cluster of a file checked end to end, at most --concurrency at a time")
    .requiredOption('--clusters <file>', 'one cluster a line: HOST [registry=HOST:PORT] [LABEL] (HOST: tcp://, ssh://, unix:// or a context name)')
    .option('--concurrency <n>', 'clusters checked at a time', numberOption(1, 100), 4)
    .option('--nodes <n>', 'nodes every cluster must have Ready', numberOption(1, 1000))
    .option('--registry <host:port>', 'registry of every cluster, unless its line names one ($REGISTRY)', process.env.REGISTRY ?? '127.0.0.1:5000')
    .option('--redis-image <image>', 'redis image, pushed to each registry ($REDIS_IMAGE)', process.env.REDIS_IMAGE ?? 'redis:7')
    .option('--node-image <image>', "build argument NODE_IMAGE (default: the Dockerfile's) ($NODE_IMAGE)", process.env.NODE_IMAGE)
    .option('--probe-image <image>', 'base of the probe image built and pulled on every node ($PROBE_IMAGE)', process.env.PROBE_IMAGE ?? 'busybox:1.35')
    .option('--build-host <docker-host>', 'engine that builds and pushes the images (default: each cluster, its manager)')
    .addOption(new Option('--endpoint-mode <mode>', 'vip, or dnsrr with no-ipvs.yml (engines without IPVS)').choices(['vip', 'dnsrr']).default('vip'))
    .option('--context <dir>', 'the repository: build context of the images', repositoryRoot)
    .option('--timeout <seconds>', 'longest time of one step', numberOption(10, 3600), 300)
    .option('--report <file>', 'write the results as JSON')
    .option('--html <file>', 'write the results as one self-contained HTML page')
    .action(runCheck);
}

async function runCheck(values: CommandValues): Promise<void> {
  let clusters;
  try {
    clusters = parseClusters(await readFile(values.clusters, 'utf8'), values.clusters);
  } catch (err) {
    const why = err instanceof ClustersFileError ? err.message : `cannot read ${values.clusters}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    process.stderr.write(`dockercoins lab check: ${why}\n`);
    process.exitCode = 2;
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const started = new Date();
  const run = randomBytes(3).toString('hex');
  const results = await checkClusters(clusters, { ...values, stepSeconds: values.timeout }, run, stop.signal);
  const report: CheckReport = { ok: results.every((r) => r.ok), started: started.toISOString(), seconds: (Date.now() - started.getTime()) / 1000, clusters: results };
  process.stdout.write(`\n${renderTable(report)}`);
  if (values.report) await writeFile(values.report, renderJson(report));
  if (values.html) await writeFile(values.html, renderHtml(report));
  process.exitCode = report.ok ? 0 : 1;
}
