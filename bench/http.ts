// rng and hasher against a bare node:http server doing the same work (bench/bare.ts), delays
// 0, at the default log level: interleaved rounds, each ratio taken within its round. The ratio
// is of the server's CPU per request: autocannon, one process on the other core, is near a full
// core itself (its CPU is in the table), so req/s measure the load generator as much as the server.
import autocannon from 'autocannon';
import { ALL_CPUS, LAST_CPU, cpuMs, inTurns, peakRss, pin, start, type Proc } from './processes.js';
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

export interface ServerLoad extends Load {
  /** The server's CPU time per request answered, µs. */
  cpuUsPerRequest: number;
  /** The server's CPU and autocannon's, each as a share of one core over the round. */
  serverCpu: number;
  clientCpu: number;
}

export interface HttpRow extends ServerLoad {
  target: string;
  /** Each round: the baseline's CPU per request over ours (the requests per CPU-second, ours over the baseline's); none for a baseline. */
  ratio?: Spread;
  /** Each round's req/s over its baseline's: bounded by autocannon as much as by the server. */
  rateRatio?: Spread;
}

/** `load` against `proc`, with the CPU it and this process (autocannon) spent meanwhile. */
async function serverLoad(proc: Proc, url: string, options: Parameters<typeof load>[1] = {}): Promise<ServerLoad> {
  const [server, client, started] = [cpuMs(proc), process.cpuUsage(), performance.now()];
  const result = await load(url, options);
  const wallMs = performance.now() - started;
  const serverMs = cpuMs(proc) - server;
  const { user, system } = process.cpuUsage(client);
  return {
    ...result,
    cpuUsPerRequest: (serverMs * 1000) / Math.max(1, (result.reqPerSec * wallMs) / 1000),
    serverCpu: serverMs / wallMs,
    clientCpu: (user + system) / 1000 / wallMs,
  };
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
  run: () => Promise<ServerLoad>;
}

/**
 * The HTTP rounds. BENCH_AB_DIST=<another build's dist/> adds that build's rng and hasher as
 * rows of their own, in the same rounds: an A/B comparison of a change.
 */
export async function httpRounds(): Promise<{ rows: HttpRow[]; peak: Map<Proc, number>; rng: Proc; hasher: Proc }> {
  const bare = await start('bare');
  const rng = await start('rng', ZERO_DELAYS);
  const hasher = await start('hasher', ZERO_DELAYS);
  const get = (name: string, proc: Proc, baseline?: string): Target => ({ name, proc, baseline, run: () => serverLoad(proc, `${proc.url}/32`) });
  const post = (name: string, proc: Proc, baseline?: string): Target => ({ name, proc, baseline, run: () => serverLoad(proc, `${proc.url}/`, { method: 'POST' }) });
  const targets = [get('bare GET', bare), get('rng GET /32', rng, 'bare GET'), post('bare POST', bare), post('hasher POST /', hasher, 'bare POST')];
  const other = process.env.BENCH_AB_DIST;
  if (other) {
    const rngB = await start('rng', ZERO_DELAYS, { dir: other });
    const hasherB = await start('hasher', ZERO_DELAYS, { dir: other });
    targets.push(get(`rng GET /32 (${other})`, rngB, 'bare GET'), post(`hasher POST / (${other})`, hasherB, 'bare POST'));
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
        ratio: base ? spread(loads.map((l, round) => base[round]!.cpuUsPerRequest / l.cpuUsPerRequest)) : undefined,
        rateRatio: base ? spread(loads.map((l, round) => l.reqPerSec / base[round]!.reqPerSec)) : undefined,
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
