// The workshop's Compose chapters (sampleapp, composescale, hastyconclusions, composedown), as
// their pages read: the app started in the background, its containers and logs, the workers
// scaled to 2 and to 10, the latency of rng and hasher side by side, the app removed. Runs
// `docker-compose` in the repository, on the build engine (a developer's machine).
import { stripVTControlCharacters } from 'node:util';
import { fetchWithin, measureRate, readCounters } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { imageOptionsSet, workshopImages, type LabOptions } from './options.js';
import { departs, run, type Action, type ChapterScript, type Command, type Play, type Step } from './script.js';
import { waitOptions } from './stack.js';
import { expectedPlateau, oneWorkerRate } from './swarm-chapter.js';

const services = ['rng', 'hasher', 'webui', 'redis', 'worker'];
const workshopPorts = { WEBUI_PORT: 8000, RNG_PORT: 8001, HASHER_PORT: 8002 };
const portFlags = { WEBUI_PORT: '--port', RNG_PORT: '--rng-port', HASHER_PORT: '--hasher-port' };

/** What docker-compose.yml reads from the environment, where the lab's options differ from the workshop's. */
function composeEnv(o: LabOptions): { env: Record<string, string>; departure?: string } {
  const env: Record<string, string> = {};
  const why: string[] = [];
  const ports = { WEBUI_PORT: o.port, RNG_PORT: o.rngPort, HASHER_PORT: o.hasherPort };
  const moved = (Object.keys(ports) as (keyof typeof ports)[]).filter((name) => ports[name] !== workshopPorts[name]);
  for (const name of moved) env[name] = String(ports[name]);
  if (moved.length) why.push(`other host ports (${moved.map((name) => portFlags[name]).join(', ')}): the workshop's are taken here`);
  if (o.nodeImage) env.NODE_IMAGE = o.nodeImage;
  if (o.redisImage !== workshopImages.redisImage) env.REDIS_IMAGE = o.redisImage;
  const set = imageOptionsSet(o, ['nodeImage', 'redisImage']);
  if (set.length) why.push(`other base images (${set.join(', ')}): no registry is reachable here`);
  return { env, departure: why.join('; ') || undefined };
}

/** docker-compose as the page types it, with the variables the options set. */
const compose = (o: LabOptions, args: string[], extra: Partial<Command> = {}): Command => ({ program: 'docker-compose', args, env: composeEnv(o).env, build: true, ...extra });

const webuiUrl = (o: LabOptions) => o.webuiUrl ?? `http://127.0.0.1:${o.port}`;

/** docker-compose as the steps run it, for the lab's own queries. */
const composeOut = async (o: LabOptions, p: Play, args: string[]) =>
  (await p.docker(args, { program: 'docker-compose', env: composeEnv(o).env, cwd: o.context, host: o.buildHost, signal: p.signal })).split('\n').filter(Boolean);

/** Measures the speed against the page's figure (± 30 %). */
const speed = (o: LabOptions, workers: number, expected: number, why: string): Action => ({
  do: 'measure',
  what: `hashes/s over --window, after 5 s to settle: about ${expected.toFixed(1)} (${why}), ± 30 %`,
  async measure(p) {
    p.progress('letting the workers settle (5 s)');
    await sleep(5000, p.signal);
    const { rate } = await measureRate(webuiUrl(o), o.windowSeconds, p);
    const figure = `${workers} worker${workers > 1 ? 's' : ''}: ${rate.toFixed(1)} hashes/s over ${o.windowSeconds} s`;
    if (rate < expected * 0.7 || rate > expected * 1.3) throw new Failure(`${figure}; expected ${expected.toFixed(1)} ± 30 %`);
    return { figure, values: { workers, rate } };
  },
});

const startStep = (o: LabOptions, down: Command): Step => ({
  title: 'Start the app in the background',
  actions: [
    run(departs(compose(o, ['up', '-d']), composeEnv(o).departure, 'straight to -d: the page first runs it in the foreground and stops it with ^C'), { undo: { key: 'compose', actions: [run(down)] } }),
    {
      do: 'wait',
      for: `${services.join(', ')} running (the images are built on first use)`,
      async until(p) {
        const running = await waitUntil(
          'every service running',
          async () => {
            const names = await composeOut(o, p, ['ps', '--services', '--filter', 'status=running']);
            if (services.every((s) => names.includes(s))) return names;
            throw new Error(`running: ${names.join(', ') || 'none'}`);
          },
          waitOptions(p),
        );
        return { figure: `${running.length} services running: ${running.sort().join(', ')}` };
      },
    },
  ],
});

const containersAndLogsStep = (o: LabOptions): Step => ({
  title: 'Its containers and logs',
  actions: [
    run(compose(o, ['ps'], { show: true })),
    run(compose(o, ['logs', '--tail', '10', 'worker'], { show: true, departure: 'the worker only and no --follow: the lab reads the last lines and moves on' })),
    {
      do: 'expect',
      that: 'ps lists each container Up with its ports; the worker logs "units of work done" (read again until it does)',
      async check(p) {
        const find = async () => (await composeOut(o, p, ['logs', '--tail', '10', 'worker'])).find((l) => l.includes('units of work done'));
        const line = await waitUntil('the worker to report units of work', find, { ...waitOptions(p), everyMs: 2000 });
        return { figure: `worker: "${logMessage(line)}"` };
      },
    },
  ],
});

function webUiStep(o: LabOptions): Step {
  const webui = webuiUrl(o);
  return {
    title: 'The web UI',
    actions: [{ do: 'wait', for: `${webui}/json to answer`, until: (p) => waitUntil(`${webui}/json`, () => readCounters(webui, p.signal), waitOptions(p)).then(() => {}) }, speed(o, 1, oneWorkerRate, 'one hash every 0.3 s')],
  };
}

const scaleStep = (o: LabOptions, workers: number, expected: number, why: string): Step => ({
  title: `Scale the workers to ${workers}`,
  actions: [
    run(compose(o, ['up', '-d', '--scale', `worker=${workers}`])),
    { do: 'wait', for: `${workers} worker containers running`, until: (p) => waitUntil(`${workers} running workers`, async () => ((await composeOut(o, p, ['ps', '-q', 'worker'])).length === workers ? true : undefined), waitOptions(p)).then(() => {}) },
    speed(o, workers, expected, why),
  ],
});

const latencyStep = (o: LabOptions): Step => ({
  title: 'Latency of rng and hasher',
  actions: [
    {
      do: 'measure',
      what: `GET / of rng (localhost:${o.rngPort}) and hasher (localhost:${o.hasherPort}), 3 one after the other, then 10 at once (the workshop's httping -c 3; httping is not everywhere)`,
      async measure(p) {
        const host = new URL(webuiUrl(o)).hostname;
        const [rng, hasher] = [await latencies(`http://${host}:${o.rngPort}/`, p), await latencies(`http://${host}:${o.hasherPort}/`, p)];
        const ms = (n: number) => `${Math.round(n)} ms`;
        return { figure: `rng ${ms(rng.one)} at 1 request at a time, ${ms(rng.ten)} at 10; hasher ${ms(hasher.one)} and ${ms(hasher.ten)}`, values: { rngOneMs: rng.one, rngTenMs: rng.ten, hasherOneMs: hasher.one, hasherTenMs: hasher.ten } };
      },
    },
    {
      do: 'expect',
      that: 'rng much slower than hasher, more so at 10 requests at a time: rng is the bottleneck',
      check(p) {
        const f = p.figures as Record<string, number>;
        // rng answers one request at a time: behind the 10 workers' calls, 10 requests at once
        // wait about half again as long as one (the i-th waits for i-1 of them); hasher answers at once.
        if (!(f.rngOneMs! > 5 * f.hasherOneMs! && f.rngTenMs! > 1.2 * f.rngOneMs! && f.hasherTenMs! < f.rngOneMs!)) throw new Failure('expected rng far slower than hasher, and slower still at 10 at a time');
        return { figure: 'rng is the bottleneck' };
      },
    },
  ],
});

const removeAppStep = (o: LabOptions, down: Command): Step => ({
  title: 'Remove the app',
  actions: [
    run(down, { settles: ['compose'] }),
    {
      do: 'expect',
      that: 'no container of the app left',
      async check(p) {
        const left = await composeOut(o, p, ['ps', '-q']);
        if (left.length) throw new Failure(`${left.length} containers left after down`);
        return { figure: 'every container and the network removed' };
      },
    },
  ],
});

export function composeScript(o: LabOptions): ChapterScript {
  const down = compose(o, ['down']);
  return {
    name: 'The Compose chapter',
    header: `The Compose chapter (docker-compose in ${o.context}, web UI on port ${o.port})`,
    keyStep: 'Latency of rng and hasher',
    steps: [
      startStep(o, down),
      containersAndLogsStep(o),
      webUiStep(o),
      scaleStep(o, 2, 2 * oneWorkerRate, 'twice one worker'),
      scaleStep(o, 10, expectedPlateau, 'not 10×: the speed plateaus'),
      latencyStep(o),
      removeAppStep(o, down),
    ],
  };
}

/** The message of a Compose log line: after the colored "worker_1  |", our JSON line's msg. */
function logMessage(line: string): string {
  const text = stripVTControlCharacters(line).replace(/^[^|]*\|\s*/, '');
  try {
    return String((JSON.parse(text) as { msg?: unknown }).msg ?? text);
  } catch {
    return text.slice(0, 100);
  }
}

/** Mean milliseconds of GET `url`: 3 requests one after the other (httping -c 3), then 10 at once. */
async function latencies(url: string, p: Play): Promise<{ one: number; ten: number }> {
  const timed = async () => {
    const started = performance.now();
    const res = await fetchWithin(url, p.signal, 30_000);
    await res.arrayBuffer();
    if (!res.ok) throw new Failure(`GET ${url} answered ${res.status}`);
    return performance.now() - started;
  };
  p.progress(`timing ${url}`);
  const sequential: number[] = [];
  for (let i = 0; i < 3; i++) sequential.push(await timed());
  const parallel = await Promise.all(Array.from({ length: 10 }, timed));
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return { one: mean(sequential), ten: mean(parallel) };
}
