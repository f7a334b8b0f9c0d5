// The "Services" section of bench/README.md, from one run's results.
import type { HttpRow, Load } from './http.js';
import { IDLE_FROM_SECONDS, IDLE_TO_SECONDS, type Footprint, type Service } from './memory.js';
import { ceilings, MODES, PIPELINE_SETTINGS, type PipelineRun } from './pipeline.js';
import { int, ratioText } from './report.js';
import type { ScaleRow } from './webui-scale.js';
import type { WorkshopRow } from './workshop.js';

export interface Results {
  date: string;
  machine: string;
  minutes: number;
  settings: {
    http: { rounds: number; roundSeconds: number; connections: number; pinned: boolean };
    pipeline: typeof PIPELINE_SETTINGS;
    workshopSeconds: number;
    scale: { reporters: number[]; windowSeconds: number };
  };
  http: HttpRow[];
  pipeline: PipelineRun[];
  workshop: WorkshopRow[];
  scale: ScaleRow[];
  webuiJson: Load;
  memory: Footprint;
  loadedRssMB: Record<Service, number>;
}

const table = (head: string[], align: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
const kb = (bytes: number) => (bytes / 1024).toFixed(bytes < 10_240 ? 1 : 0);
const errorsText = (n: number) => (n ? `, ${n} error${n === 1 ? '' : 's'}` : '');
/** A rate that may be below 10 a second. */
const rate = (n: number) => (n < 10 ? n.toFixed(1) : int(n));

export function render(r: Results): string {
  return [
    `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}, by \`npm run bench\` (${Math.round(r.minutes)} min).`,
    '',
    ...httpSection(r),
    '',
    ...pipelineSection(r),
    '',
    ...workshopSection(r),
    '',
    ...scaleSection(r),
    '',
    ...memorySection(r),
  ].join('\n');
}

function httpSection(r: Results): string[] {
  const s = r.settings.http;
  return [
    `**rng and hasher against bare node:http** (bench/bare.ts: the same work, no framework), delays 0, default log level, autocannon ${s.connections} connections, ${s.rounds} interleaved rounds of ${s.roundSeconds} s, the other servers stopped during each${s.pinned ? ', the server on the last CPU and autocannon on the first' : ''}. req/s, CPU and latencies: the median round. autocannon is one process, near a full core itself (its column), so req/s are the load generator's limit as much as the server's, and the ratio is of the server's own CPU per request (/proc): the bare server's µs/request over ours, i.e. the requests ours answers per CPU-second against the bare server's, the median of the rounds' ratios (range), each to the bare server measured in the same round. The req/s ratio is given beside it.`,
    '',
    ...table(
      ['target', 'req/s', 'server CPU (% of a core)', 'autocannon CPU', 'server µs/request', 'p50 ms', 'p99 ms', 'errors', 'ratio to bare, CPU per request (range)', 'req/s ratio (range)'],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      r.http.map((h) => [
        h.target,
        int(h.reqPerSec),
        `${Math.round(h.serverCpu * 100)} %`,
        `${Math.round(h.clientCpu * 100)} %`,
        h.cpuUsPerRequest.toFixed(1),
        String(h.p50),
        String(h.p99),
        String(h.errors),
        h.ratio ? ratioText(h.ratio) : '1',
        h.rateRatio ? ratioText(h.rateRatio) : '1',
      ]),
    ),
    '',
    `webui GET /json, 200 connections, 5 s: ${int(r.webuiJson.reqPerSec)} req/s, p50 ${r.webuiJson.p50} ms, p99 ${r.webuiJson.p99} ms, ${r.webuiJson.errors} errors.`,
  ];
}

function pipelineSection(r: Results): string[] {
  const s = r.settings.pipeline;
  const ours = MODES.filter((m) => !m.bare);
  const rows = ceilings(r.pipeline).map(({ workers, ceiling, ratios }) => {
    const cell = (mode: string) => {
      const p = r.pipeline.find((x) => x.workers === workers && x.mode === mode)!;
      const exited = p.workersExited ? `, ${p.workersExited} exited: void` : '';
      return `${int(p.rate.median)} (${int(p.rate.min)}-${int(p.rate.max)}; ${Math.round(p.warmupSeconds)} s)${errorsText(p.workerErrors)}${exited}`;
    };
    const ratio = (mode: string) => (ratios[mode] ? ratioText(ratios[mode]) : 'no ceiling');
    return [String(workers), ...MODES.map((m) => cell(m.name)), ceiling?.replace('bare, ', '') ?? 'none', ...ours.map((m) => ratio(m.name))];
  });
  return [
    `**The whole pipeline**, delays 0 (1 rng, 1 hasher, N worker processes, real Redis): hashes/s, the median of ${s.rounds} rounds of ${s.roundSeconds} s (range; warm-up), counted in Redis from half a second after one of the workers' flushes to half a second after another (a mode's workers flush in step, once a second from their resume), the modes taking turns (the others' workers stopped), after a warm-up in the same turns (${s.warmupWindowSeconds} s windows, so that no mode waits stopped while another warms) until every mode's workers had done ${int(s.warmupUnitsPerWorker)} units each and its rate was steady (its last two windows within 15 %), or had run ${s.warmupMaxSeconds} s (give or take a turn): every mode takes each turn, so their warm-up times are the same. bare: bench/bare-worker.ts, the loop alone, on two bare servers, with kept-alive connections through undici and through node:http (our worker's client); the ceiling is the better of the two at each row, and each ratio is the median of the rounds' ratios to it (range).`,
    '',
    ...table(
      ['workers', ...MODES.map((m) => m.name), 'ceiling', ...ours.map((m) => `${m.name.replace('ours, ', '')} / ceiling`)],
      ['---:', ...MODES.map(() => '---:'), '---', ...ours.map(() => '---:')],
      rows,
    ),
    '',
    `Where the CPU goes, in the same rounds: CPU µs per hash (/proc, the median round) of the mode's workers together, its rng and its hasher; the bare loops call the bare servers (bench/bare.ts). "Profile"'s one-connection columns show one server alone under the same calls.`,
    '',
    ...table(
      ['workers', 'mode', 'workers (µs/hash)', 'rng (µs/hash)', 'hasher (µs/hash)', 'all (µs/hash)'],
      ['---:', '---', '---:', '---:', '---:', '---:'],
      r.pipeline.map((p) => {
        const { workers, rng, hasher } = p.cpuUsPerHash;
        return [String(p.workers), p.mode, ...[workers, rng, hasher, workers + rng + hasher].map((us) => us.toFixed(0))];
      }),
    ),
  ];
}

function workshopSection(r: Results): string[] {
  return [
    `**At the workshop's delays** (100 ms: the worker's sleep, rng's one-at-a-time answer, hasher's), the default connection mode, the three cases side by side for ${r.settings.workshopSeconds} s, each with its own rng and hasher; hashes/s from the workers' own count. Original: the original stack (contract.md, 60 s medians on one machine); theory: one worker does a unit in 0.3 s, one rng serves 10 calls/s.`,
    '',
    ...table(
      ['workers', 'rng', 'ours (hashes/s)', 'original', 'theory', 'ours / original'],
      ['---:', '---:', '---:', '---:', '---:', '---:'],
      r.workshop.map((w) => [String(w.workers), String(w.rng), `${w.rate.toFixed(2)}${errorsText(w.workerErrors)}`, String(w.original), w.theory.toFixed(2), (w.rate / w.original).toFixed(2)]),
    ),
  ];
}

function scaleSection(r: Results): string[] {
  return [
    `**The web UI's sampler at scale**: N fake workers write a report a second each under the store's keys (as workers do at each flush) to a redis-server of their own; one page holds /events open. Over ${r.settings.scale.windowSeconds} s: the dashboards the page received per second (the sampler aims at 2; in brackets, those saying Redis could not be read), the Redis commands per second the webui caused (INFO commandstats, leaving out the reports' writes, measured with the webui stopped) and the CPU Redis spent on them, the webui's CPU per sample (/proc), the event a page receives at each sample and what it receives on opening /events, and the webui's RSS.`,
    '',
    ...table(
      ['reporting workers', 'samples/s (with an error)', 'webui → Redis (commands/s)', 'Redis CPU for them (ms/s)', 'webui CPU per sample (ms)', 'webui CPU (% of a core)', 'event per sample (KB)', 'on opening (KB)', 'webui RSS (MB)', 'the reports written (commands/s)'],
      ['---:', '---:', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      r.scale.map((s) => [
        int(s.reporters),
        `${s.samplesPerSec.toFixed(2)}${s.samplesWithError ? ` (${s.samplesWithError})` : ''}`,
        `${rate(s.webuiCommandsPerSec)}: ${Object.entries(s.webuiCommands).map(([c, n]) => `${c} ${rate(n)}`).join(', ')}`,
        s.redisMsPerSec.toFixed(1),
        s.webuiCpuMsPerSample.toFixed(1),
        String(Math.round(s.webuiCpuShare * 100)),
        kb(s.sampleEventBytes),
        kb(s.firstBytes),
        String(s.webuiRssMB),
        int(s.writerCommandsPerSec),
      ]),
    ),
  ];
}

function memorySection(r: Results): string[] {
  const m = r.memory;
  return [
    ...table(
      ['service', 'start-up to first healthy answer (ms, median of 3)', 'RSS 3 s after start (MB)', 'idle RSS (MB)', 'of which private (MB)', 'loaded RSS (MB)'],
      ['---', '---:', '---:', '---:', '---:', '---:'],
      (['bare', 'rng', 'hasher', 'worker', 'webui'] as const).map((name) => [
        name === 'bare' ? 'bare node:http (baseline)' : name,
        int(m.startupMs[name]),
        String(m.startRssMB[name]),
        String(m.idleRssMB[name]),
        String(m.idlePrivateMB[name]),
        String(r.loadedRssMB[name]),
      ]),
    ),
    '',
    `All five run side by side with the default delays, the worker working at its workshop pace against this rng and hasher. Idle: the median of a sample a second from ${IDLE_FROM_SECONDS} to ${IDLE_TO_SECONDS} s after start, once V8 has handed back the garbage of start-up (it does so 15-25 s after start). Private: RssAnon, the resident memory that is this process's own; the rest of RSS is mostly the node binary's pages, shared by every node process on the machine (and every container of the same image). Loaded: peak RSS during the runs above (bare: its HTTP rounds; worker: the pipeline).`,
  ];
}
