// Scale on paper: what the web UI's sampler costs when many workers report, e.g. a big class or
// a 100-node Swarm. Fake workers write their reports once a second under the store's keys (as
// workers do at each flush) to a redis-server of their own; the webui runs as its own process
// and is observed from outside only: Redis's INFO commandstats, the process's CPU time from
// /proc, and its public /events stream, as an open page receives it.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { startRedisServer } from '../src/lib/redis-server.js';
import { KEYS, REPORT_TTL_SECONDS, type WorkerReport } from '../src/lib/store.js';
import { cpuMs, memoryMB, say, start } from './processes.js';

export const SCALE_SETTINGS = {
  reporters: [1_000, 10_000],
  /** Long enough for every window the dashboard keeps (10 s) to be full of reports. */
  fillSeconds: 11,
  /** The webui stopped (SIGSTOP): the workers' own commands, subtracted from the next window. */
  writersOnlySeconds: 4,
  windowSeconds: 8,
};
/** The commands this bench sends to read Redis's figures. */
const BENCH_COMMANDS = ['info', 'hello', 'client', 'select', 'ping'];
/** Reports go out in this many slices a second, as workers flush at different moments. */
const SLICES = 10;

export interface ScaleRow {
  reporters: number;
  /** Dashboards received per second by an open page (the sampler's target is 2). */
  samplesPerSec: number;
  /** Of those, the ones saying the store could not be read. */
  samplesWithError: number;
  /** Redis commands per second caused by the webui, by command. */
  webuiCommands: Record<string, number>;
  webuiCommandsPerSec: number;
  /** Redis's own CPU time spent on the webui's commands, ms per second. */
  redisMsPerSec: number;
  /** The fake reports' writes, commands per second (for scale). */
  writerCommandsPerSec: number;
  webuiCpuMsPerSample: number;
  /** Share of one core the webui used. */
  webuiCpuShare: number;
  /** Mean size of the event an open page receives at each sample, bytes. */
  sampleEventBytes: number;
  /** What a page receives at once when it opens /events, bytes. */
  firstBytes: number;
  webuiRssMB: number;
}

export async function webuiScale(): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const reporters of SCALE_SETTINGS.reporters) {
    say(`webui sampler: ${reporters.toLocaleString('en-US')} reporting workers...`);
    rows.push(await measure(reporters));
  }
  return rows;
}

async function measure(reporters: number): Promise<ScaleRow> {
  const redis = await startRedisServer();
  if (!redis) throw new Error('redis-server is needed: apt-get install -y redis-server');
  const writers = await writeReports(redis.url, reporters);
  const webui = await start('webui', { REDIS_URL: redis.url });
  const page = openEvents(webui.url);
  try {
    await delay(SCALE_SETTINGS.fillSeconds * 1000);
    webui.child.kill('SIGSTOP');
    const writersOnly = await commandRates(redis.url, SCALE_SETTINGS.writersOnlySeconds);
    webui.child.kill('SIGCONT');
    await delay(2000); // the sampler's late tick, and the page's backlog
    const cpuBefore = cpuMs(webui);
    const samplesBefore = page.counts();
    const all = await commandRates(redis.url, SCALE_SETTINGS.windowSeconds);
    const cpu = cpuMs(webui) - cpuBefore;
    const samples = page.counts();
    const event = sampleEvent(samplesBefore, samples);
    // The commands the workers issued with the webui stopped are theirs (today the two sets
    // do not overlap); the bench's own (INFO and its connection's) are left out.
    const webuiCommands = Object.fromEntries(
      Object.entries(all.calls).filter(([command, rate]) => rate > 0 && !writersOnly.calls[command] && !BENCH_COMMANDS.includes(command)),
    );
    const redisUsec = Object.keys(webuiCommands).reduce((sum, c) => sum + all.usec[c]!, 0);
    const second = openEvents(webui.url);
    await delay(1000);
    const firstBytes = second.firstBytes();
    second.close();
    return {
      reporters,
      samplesPerSec: event.count / all.seconds,
      samplesWithError: event.errors,
      webuiCommands,
      webuiCommandsPerSec: Object.values(webuiCommands).reduce((a, b) => a + b, 0),
      redisMsPerSec: redisUsec / 1000,
      writerCommandsPerSec: Object.entries(writersOnly.calls).reduce((sum, [c, n]) => sum + (BENCH_COMMANDS.includes(c) ? 0 : n), 0),
      webuiCpuMsPerSample: event.count ? cpu / event.count : NaN,
      webuiCpuShare: cpu / 1000 / all.seconds,
      sampleEventBytes: event.meanBytes,
      firstBytes,
      webuiRssMB: memoryMB(webui),
    };
  } finally {
    page.close();
    webui.child.kill('SIGCONT');
    await webui.stop();
    await writers.stop();
    await redis.stop();
  }
}

/** Fake workers' reports, each written once a second (in SLICES slices), until `stop()`. */
async function writeReports(url: string, reporters: number): Promise<{ stop(): Promise<void> }> {
  const writers = createClient({ url });
  await writers.connect();
  const names = Array.from({ length: reporters }, () => randomBytes(6).toString('hex'));
  let writing = true;
  const written = (async () => {
    for (let slice = 0; writing; slice = (slice + 1) % SLICES) {
      const started = performance.now();
      const at = Date.now();
      // Only the report (a worker's flush also counts its units, in a script): what the webui reads.
      const batch = writers.multi();
      for (const [i, name] of names.entries()) {
        if (i % SLICES === slice) batch.set(KEYS.workerPrefix + name, JSON.stringify(fakeReport(name, at)), { EX: REPORT_TTL_SECONDS });
      }
      await batch.execAsPipeline();
      await delay(Math.max(0, 1000 / SLICES - (performance.now() - started)));
    }
  })();
  return {
    async stop() {
      writing = false;
      await written;
      writers.destroy();
    },
  };
}

/** A report like a worker's: 3 units in its 1 s flush, calls spread over 2 rng and 1 hasher. */
function fakeReport(worker: string, at: number): WorkerReport {
  const stats = (calls: number) => ({ calls, totalMs: calls * 101, maxMs: 104 });
  return {
    worker,
    at,
    intervalMs: 1000,
    units: 3,
    rng: { 'rng-5f0c2a9b7e1d': stats(2), 'rng-a81e44c0d3b2': stats(1) },
    hasher: { 'hasher-3c9d7e2f10ab': stats(3) },
  };
}

/** Commands per second and Redis CPU µs per second, by command, over the next `seconds`. */
async function commandRates(url: string, seconds: number) {
  const read = async () => {
    const client = createClient({ url });
    await client.connect();
    const text = await client.info('commandstats');
    client.destroy();
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
    return { at: performance.now(), stats };
  };
  const before = await read();
  await delay(seconds * 1000);
  const after = await read();
  const elapsed = (after.at - before.at) / 1000;
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const [command, s] of after.stats) {
    const b = before.stats.get(command) ?? { calls: 0, usec: 0 };
    calls[command] = (s.calls - b.calls) / elapsed;
    usec[command] = (s.usec - b.usec) / elapsed;
  }
  return { calls, usec, seconds: elapsed };
}

type EventCounts = Map<string, { count: number; bytes: number; errors: number }>;

/** An open page's event stream: counts and sizes of the frames received, by event name. */
function openEvents(url: string) {
  const abort = new AbortController();
  const received: EventCounts = new Map();
  let first: { at: number; bytes: number } | undefined;
  let buffered = '';
  void (async () => {
    const response = await fetch(`${url}/events`, { signal: abort.signal });
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      const text = decoder.decode(chunk, { stream: true });
      // What arrives within 100 ms of the first byte is the opening burst.
      if (!first) first = { at: performance.now(), bytes: 0 };
      if (performance.now() - first.at < 100) first.bytes += Buffer.byteLength(text);
      buffered += text;
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end + 2);
        buffered = buffered.slice(end + 2);
        const name = /^event: (.*)$/m.exec(frame)?.[1];
        if (!name) continue;
        const seen = received.get(name) ?? { count: 0, bytes: 0, errors: 0 };
        // A dashboard that says the store could not be read (the sampler's deadline, say).
        const error = /"error":"/.test(frame) ? 1 : 0;
        received.set(name, { count: seen.count + 1, bytes: seen.bytes + Buffer.byteLength(frame), errors: seen.errors + error });
      }
    }
  })().catch(() => {});
  return {
    counts: (): EventCounts => new Map([...received].map(([k, v]) => [k, { ...v }])),
    firstBytes: () => first?.bytes ?? 0,
    close: () => abort.abort(),
  };
}

/** The event sent at each sample: the one received most often between two counts. */
function sampleEvent(before: EventCounts, after: EventCounts): { count: number; meanBytes: number; errors: number } {
  let best = { count: 0, meanBytes: 0, errors: 0 };
  for (const [name, a] of after) {
    const b = before.get(name) ?? { count: 0, bytes: 0, errors: 0 };
    const count = a.count - b.count;
    if (count > best.count) best = { count, meanBytes: (a.bytes - b.bytes) / count, errors: a.errors - b.errors };
  }
  return best;
}
