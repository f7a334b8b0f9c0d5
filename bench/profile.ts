// `npm run bench:profile`: where rng's and hasher's CPU goes, next to the bare node:http server
// doing the same work. Each server runs with --cpu-prof under the same fixed request rate, then
// at full speed (autocannon, delays 0, default log level): at a fixed rate CPU per request
// compares like with like; at full speed, each server's as the "Services" table measures it.
// The profile's samples are mapped through the bundle's source map to the package or source
// file they run in. Rewrites the "Profile" section of bench/README.md.
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { ZERO_DELAYS } from './http.js';
import { LAST_CPU, pin, prepareBundles, say, start, stopAll, type Bundle } from './processes.js';
import { int, machine, runBench, updateReadmeSection } from './report.js';

const RATE = Number(process.env.BENCH_PROFILE_RATE ?? 5000);
/**
 * The loads: the fixed rate, then as fast as autocannon goes (no overallRate), then as fast as
 * one connection goes: one request at a time, as each worker calls in the pipeline.
 */
const LOADS: { label: string; rate?: number; connections: number }[] = [
  { label: `${int(RATE)}/s`, rate: RATE, connections: 10 },
  { label: 'full speed', connections: 10 },
  { label: 'one connection', connections: 1 },
];
const SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const BODY = Buffer.alloc(32, 7);

/** Where a sample's time is counted: a package or source file, or a part of node. */
function group(url: string, functionName: string, where: { source?: string }): string {
  if (url.startsWith('node:')) {
    const module = url.slice(5).replace(/^internal\//, '');
    if (/^(_http|http)/.test(module)) return 'node:http (parser, headers, response)';
    if (/^(net|stream|streams\/|stream_base)/.test(module)) return 'node streams and sockets (JS)';
    if (module.startsWith('crypto')) return 'crypto (the work itself)';
    return 'node, other (events, timers, ticks)';
  }
  if (functionName === 'writev' || functionName === 'writeBuffer' || functionName === 'writeString' || functionName === 'writeUtf8String') return 'socket writes (system calls)';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (!url) return 'V8 and native, other';
  const source = where.source ?? '';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)/.exec(source);
  if (pkg?.[1] === 'fastify') return `fastify ${pkg[2]!.replace(/^lib\//, '').replace(/\.js$/, '')}`;
  if (pkg) return pkg[1]!;
  return source.replace(/.*\/(src|bench)\//, '$1/') || 'bundle, unmapped';
}

/**
 * CPU µs per request by group, from a .cpuprofile and the bundle's source map, counting only
 * the samples taken within `window` (µs of the monotonic clock, which V8's profile uses too).
 */
async function breakdown(profileDir: string, bundleMap: string, requests: number, window: [number, number]): Promise<Map<string, number>> {
  const [file] = await readdir(profileDir);
  const profile = JSON.parse(await readFile(path.join(profileDir, file!), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const map = new SourceMap(JSON.parse(await readFile(bundleMap, 'utf8')));
  const groups = new Map<number, string>();
  for (const { id, callFrame: cf } of profile.nodes) {
    const entry = cf.url.endsWith('.mjs') ? map.findEntry(cf.lineNumber, cf.columnNumber) : {};
    const source = 'originalSource' in entry ? String(entry.originalSource) : undefined;
    // Idle is no request's work; (program) is V8 and node outside JS that the profiler cannot
    // attribute to a function (the event loop, the HTTP parser's C): counted, as its own row.
    groups.set(id, cf.functionName === '(idle)' ? '' : cf.functionName === '(program)' ? '(program)' : group(cf.url, cf.functionName, { source }));
  }
  const us = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const g = groups.get(id)!;
    if (g && at >= window[0] && at <= window[1]) us.set(g, (us.get(g) ?? 0) + delta / requests);
  });
  return us;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function profiled(name: Bundle, method: 'GET' | 'POST', bundleMap: string, load: (typeof LOADS)[number]): Promise<{ us: Map<string, number>; requests: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dockercoins-profile-${name}-`));
  try {
    const proc = await start(name, ZERO_DELAYS, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    pin(proc.child.pid!, LAST_CPU);
    pin(process.pid, '0');
    const url = `${proc.url}${method === 'GET' ? '/32' : '/'}`;
    const body = method === 'POST' ? BODY : undefined;
    await autocannon({ url, method, body, connections: 10, duration: 2 }); // warm-up
    const from = monotonicUs();
    const result = await autocannon({ url, method, body, connections: load.connections, duration: SECONDS, ...(load.rate && { overallRate: load.rate }) });
    const to = monotonicUs();
    await proc.stop();
    return { us: await breakdown(dir, bundleMap, result.requests.total, [from, to]), requests: result.requests.total };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const bundles = await prepareBundles();
  const pairs = [
    { method: 'GET', ours: 'rng' },
    { method: 'POST', ours: 'hasher' },
  ] as const;
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}, by \`npm run bench:profile\`.`,
    '',
    `CPU time per request (µs) by where it runs: each server alone, under ${int(RATE)} requests/s, then at full speed, for ${SECONDS} s each (autocannon, 10 connections; then one connection at full speed: one request at a time, as each worker calls in the pipeline; delays 0, default log level, after a 2 s warm-up at full speed), profiled with \`node --cpu-prof\` (the samples of the measured seconds only, divided by their requests), samples mapped to packages through the bundle's source map. Idle is not counted; "(program)" is V8's native time it cannot attribute to a function. The profiler adds its own cost to every row, more at full speed.`,
  ];
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const fmt = (n = 0) => n.toFixed(2);
  for (const { method, ours } of pairs) {
    const runs = [];
    for (const load of LOADS) {
      say(`profiling bare ${method} and ${ours} at ${load.label}...`);
      const bare = await profiled('bare', method, path.join(bundles, 'bare.mjs.map'), load);
      const mine = await profiled(ours, method, path.join(bundles, `${ours}.mjs.map`), load);
      runs.push({ label: load.label, bare, mine });
    }
    const last = runs.at(-1)!;
    const names = [...new Set(runs.flatMap((r) => [...r.bare.us.keys(), ...r.mine.us.keys()]))].sort((a, b) => (last.mine.us.get(b) ?? 0) - (last.mine.us.get(a) ?? 0));
    lines.push(
      '',
      `| ${method}: where the CPU goes (µs/request) | ${runs.map((r) => `bare, ${r.label} | ${ours}, ${r.label} | ${ours} − bare`).join(' | ')} |`,
      `|---|${runs.map(() => '---:|---:|---:|').join('')}`,
    );
    for (const name of names) {
      const cells = runs.map((r) => [r.bare.us.get(name) ?? 0, r.mine.us.get(name) ?? 0] as const);
      if (Math.max(...cells.flat()) >= 0.1) lines.push(`| ${name} | ${cells.map(([b, m]) => `${fmt(b)} | ${fmt(m)} | ${fmt(m - b)}`).join(' | ')} |`);
    }
    lines.push(`| **all** | ${runs.map((r) => `${fmt(total(r.bare.us))} | ${fmt(total(r.mine.us))} | ${fmt(total(r.mine.us) - total(r.bare.us))}`).join(' | ')} |`);
    lines.push(`| requests | ${runs.map((r) => `${int(r.bare.requests)} | ${int(r.mine.requests)} |`).join(' | ')} |`);
  }
  const text = lines.join('\n');
  say(`\n${text}`);
  await updateReadmeSection('Profile', text);
}

await runBench(main, stopAll);
