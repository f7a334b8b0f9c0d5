// `npm run bench`: our services against baselines measured in the same run, as ratios, so that
// they hold on a noisy machine. Every service runs as its own process from dist/, like in
// production. Prints the tables, writes bench/results/services-<time>.json and rewrites the
// "Services" section of bench/README.md. Each part is a module of bench/:
//   memory.ts      start-up time and idle memory
//   http.ts        rng and hasher vs bare node:http; webui /json
//   pipeline.ts    the whole pipeline at delays 0, against the bare loop's best client
//   workshop.ts    the rates at the workshop's delays, beside the original stack's
//   webui-scale.ts the web UI's sampler with 1,000 and 10,000 reporting workers
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startRedisServer } from '../src/lib/redis-server.js';
import { HTTP_SETTINGS, httpRounds, webuiJson } from './http.js';
import { footprint } from './memory.js';
import { PIPELINE_SETTINGS, pipelineRuns } from './pipeline.js';
import { repositoryRoot as root } from '../src/lib/paths.js';
import { canPin, onCleanup, prepareBundles, say, stopAll } from './processes.js';
import { render, type Results } from './render.js';
import { machine, runBench, updateReadmeSection } from './report.js';
import { SCALE_SETTINGS, webuiScale } from './webui-scale.js';
import { WORKSHOP_SECONDS, workshopRates } from './workshop.js';

async function main() {
  const began = performance.now();
  await prepareBundles();
  const redisServer = await startRedisServer();
  if (!redisServer) throw new Error('redis-server is needed: apt-get install -y redis-server');
  onCleanup(redisServer.stop);

  say('start-up and idle memory...');
  const memory = await footprint(redisServer.url);

  say(`rng and hasher vs bare node:http: ${HTTP_SETTINGS.rounds} rounds of ${HTTP_SETTINGS.roundSeconds} s...`);
  const http = await httpRounds();
  const pipeline = await pipelineRuns(redisServer.url, [http.rng, http.hasher], http.peak);
  await Promise.all([http.rng.stop(), http.hasher.stop()]);

  say('webui /json, 200 connections...');
  const json = await webuiJson(redisServer.url);

  say(`workshop delays: ${WORKSHOP_SECONDS} s...`);
  const workshop = await workshopRates(redisServer.url);

  const scale = await webuiScale();

  const results: Results = {
    date: new Date().toISOString(),
    machine: machine(),
    minutes: (performance.now() - began) / 60_000,
    settings: { http: { ...HTTP_SETTINGS, pinned: canPin }, pipeline: PIPELINE_SETTINGS, workshopSeconds: WORKSHOP_SECONDS, scale: SCALE_SETTINGS },
    http: http.rows,
    pipeline: pipeline.runs,
    workshop,
    scale,
    webuiJson: json.load,
    memory,
    loadedRssMB: {
      bare: Math.max(...[...http.peak].filter(([p]) => p.name === 'bare').map(([, mb]) => mb)),
      rng: http.peak.get(http.rng)!,
      hasher: http.peak.get(http.hasher)!,
      worker: pipeline.workerPeakMB,
      webui: json.peakMB,
    },
  };
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  const jsonFile = path.join(root, `bench/results/services-${results.date.replace(/[:.]/g, '-')}.json`);
  await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  const table = render(results);
  say(`\n${table}\nwritten: ${path.relative(root, jsonFile)}, bench/README.md (section "Services")`);
  await updateReadmeSection('Services', table);
}

await runBench(main, stopAll);
