// rng and hasher against a bare node:http server doing the same work (bench/bare.ts), delays
// 0, at the default log level: interleaved rounds, each ratio taken within its round.
import autocannon from 'autocannon';
import { ALL_CPUS, LAST_CPU, inTurns, peakRss, pin, start, type Proc } from './processes.js';
import { median, spread, type Spread } from './report.js';

export const HTTP_SETTINGS = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
  roundSeconds: Number(process.env.BENCH_ROUND_SECONDS ?? 3),
  /** Same load for the bare server and ours. */
  connections: 10,
};
const BODY = Buffer.alloc(32, 7);
export const ZERO_DELAYS = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', WORK_DELAY_MS: '0' };

export interface Load {
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

export interface HttpRow extends Load {
  target: string;
  /** Each round's rate over its baseline's in the same round; none for a baseline. */
  ratio?: Spread;
}

export async function load(url: string, options: { method?: 'GET' | 'POST'; connections?: number; seconds?: number } = {}): Promise<Load> {
  const result = await autocannon({
    url,
    method: options.method ?? 'GET',
    body: options.method === 'POST' ? BODY : undefined,
    headers: options.method === 'POST' ? { 'content-type': 'application/octet-stream' } : undefined,
    connections: options.connections ?? HTTP_SETTINGS.connections,
    duration: options.seconds ?? HTTP_SETTINGS.roundSeconds,
  });
  return {
    reqPerSec: result.requests.total / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

interface Target {
  name: string;
  proc: Proc;
  /** The row this one is a ratio of. */
  baseline?: string;
  run: () => Promise<Load>;
}

/**
 * The HTTP rounds. BENCH_AB_DIST=<another build's dist/> adds that build's rng and hasher as
 * rows of their own, in the same rounds: an A/B comparison of a change.
 */
export async function httpRounds(): Promise<{ rows: HttpRow[]; peak: Map<Proc, number>; rng: Proc; hasher: Proc }> {
  const bare = await start('bare');
  const rng = await start('rng', ZERO_DELAYS);
  const hasher = await start('hasher', ZERO_DELAYS);
  const targets: Target[] = [
    { name: 'bare GET', proc: bare, run: () => load(`${bare.url}/32`) },
    { name: 'rng GET /32', proc: rng, baseline: 'bare GET', run: () => load(`${rng.url}/32`) },
    { name: 'bare POST', proc: bare, run: () => load(`${bare.url}/`, { method: 'POST' }) },
    { name: 'hasher POST /', proc: hasher, baseline: 'bare POST', run: () => load(`${hasher.url}/`, { method: 'POST' }) },
  ];
  const other = process.env.BENCH_AB_DIST;
  if (other) {
    const rngB = await start('rng', ZERO_DELAYS, { dir: other });
    const hasherB = await start('hasher', ZERO_DELAYS, { dir: other });
    targets.push(
      { name: `rng GET /32 (${other})`, proc: rngB, baseline: 'bare GET', run: () => load(`${rngB.url}/32`) },
      { name: `hasher POST / (${other})`, proc: hasherB, baseline: 'bare POST', run: () => load(`${hasherB.url}/`, { method: 'POST' }) },
    );
  }
  const servers = [...new Set(targets.map((t) => t.proc))];
  for (const p of servers) pin(p.child.pid!, LAST_CPU);
  pin(process.pid, '0');
  const turns = Object.fromEntries(targets.map((t) => [t.name, { procs: [t.proc], run: t.run }]));
  try {
    const { result, peak } = await peakRss(servers, async () => {
      await inTurns(turns, 1); // warm-up (JIT, connections), not kept
      return inTurns(turns, HTTP_SETTINGS.rounds);
    });
    const rows = targets.map((t): HttpRow => {
      const loads = result[t.name]!;
      const mid = loads.find((l) => l.reqPerSec === median(loads.map((x) => x.reqPerSec)))!;
      const base = t.baseline && result[t.baseline]!;
      return {
        target: t.name,
        ...mid,
        errors: loads.reduce((sum, l) => sum + l.errors, 0),
        ratio: base ? spread(loads.map((l, round) => l.reqPerSec / base[round]!.reqPerSec)) : undefined,
      };
    });
    return { rows, peak, rng, hasher };
  } finally {
    for (const p of servers) if (p !== rng && p !== hasher) await p.stop();
    for (const pid of [rng.child.pid!, hasher.child.pid!, process.pid]) pin(pid, ALL_CPUS);
  }
}

/** webui GET /json under 200 connections, after a 1 s warm-up. */
export async function webuiJson(redisUrl: string): Promise<{ load: Load; peakMB: number }> {
  const webui = await start('webui', { REDIS_URL: redisUrl });
  try {
    await load(`${webui.url}/json`, { connections: 200, seconds: 1 });
    const { result, peak } = await peakRss([webui], () => load(`${webui.url}/json`, { connections: 200, seconds: 5 }));
    return { load: result, peakMB: peak.get(webui)! };
  } finally {
    await webui.stop();
  }
}
