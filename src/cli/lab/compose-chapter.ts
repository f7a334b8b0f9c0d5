// The workshop's Compose chapters (sampleapp, composescale, hastyconclusions, composedown), as
// their pages read: the app started in the background, its containers and logs, the workers
// scaled to 2 and to 10, the latency of rng and hasher side by side, the app removed. Runs
// `docker-compose` in the repository, on the build engine (a developer's machine).
import { stripVTControlCharacters } from 'node:util';
import { measureRate, readCounters } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { cheatSheet, runSteps, type Chapter, type Command, type LabStep, type StepContext } from './runner.js';
import { expectedPlateau, oneWorkerRate } from './swarm-state.js';

export interface ComposeLabOptions extends LabOptions {
  /** Host ports of rng and hasher (the workshop's 8001 and 8002). */
  rngPort: number;
  hasherPort: number;
}

interface ComposeState {
  up: boolean;
}

type Step = LabStep<ComposeLabOptions, ComposeState>;
type Ctx = StepContext<ComposeLabOptions, ComposeState>;

const services = ['rng', 'hasher', 'webui', 'redis', 'worker'];
const workshopPorts = { WEBUI_PORT: 8000, RNG_PORT: 8001, HASHER_PORT: 8002 };

/** What docker-compose.yml reads from the environment, where the lab's options differ from the workshop's. */
function composeEnv(o: ComposeLabOptions): { env: Record<string, string>; departure?: string } {
  const env: Record<string, string> = {};
  const why: string[] = [];
  const ports = { WEBUI_PORT: o.port, RNG_PORT: o.rngPort, HASHER_PORT: o.hasherPort };
  for (const [name, port] of Object.entries(ports))
    if (port !== workshopPorts[name as keyof typeof ports]) env[name] = String(port);
  if (Object.keys(env).length) why.push("other host ports (--port, --rng-port, --hasher-port): the workshop's are taken here");
  if (o.nodeImage) env.NODE_IMAGE = o.nodeImage;
  if (o.redisImage !== 'redis') env.REDIS_IMAGE = o.redisImage;
  if (o.nodeImage || o.redisImage !== 'redis') why.push('other base images (--node-image, --redis-image): no registry is reachable here');
  return { env, departure: why.join('; ') || undefined };
}

export function composeLabSteps(o: ComposeLabOptions): Step[] {
  const { env, departure } = composeEnv(o);
  const compose = (args: string[], extra: Partial<Command> = {}): Command => ({ program: 'docker-compose', args, env, build: true, ...extra });
  const webui = o.webuiUrl ?? `http://127.0.0.1:${o.port}`;
  const waitOptions = (ctx: Ctx) => ({ timeoutMs: o.timeoutSeconds * 1000, signal: ctx.signal, progress: ctx.progress });
  const runAll = async (ctx: Ctx, commands: Command[]) => {
    for (const command of commands) await ctx.run(command);
  };
  /** Scales the workers and measures the speed against the page's figure (± 30 %). */
  const scaleStep = (workers: number, expected: number, why: string): Step => ({
    title: `Scale the workers to ${workers}`,
    commands: [compose(['up', '-d', '--scale', `worker=${workers}`])],
    expect: `${workers} worker containers; about ${expected.toFixed(1)} hashes/s (${why})`,
    async run(ctx) {
      await runAll(ctx, this.commands);
      await waitUntil(`${workers} running workers`, async () => ((await runningContainers(ctx, 'worker')) === workers ? true : undefined), waitOptions(ctx));
      return measured(ctx, workers, expected);
    },
  });
  const measured = async (ctx: Ctx, workers: number, expected: number) => {
    ctx.progress('letting the workers settle (5 s)');
    await sleep(5000, ctx.signal);
    const { rate } = await measureRate(webui, o.windowSeconds, ctx);
    const figure = `${workers} worker${workers > 1 ? 's' : ''}: ${rate.toFixed(1)} hashes/s over ${o.windowSeconds} s`;
    if (rate < expected * 0.7 || rate > expected * 1.3) throw new Failure(`${figure}; expected ${expected.toFixed(1)} ± 30 %`);
    return { figure, values: { workers, rate } };
  };
  /** docker-compose as the steps run it, for the lab's own checks (not printed). */
  const composeOut = async (ctx: Ctx, args: string[]) =>
    (await ctx.docker(args, { program: 'docker-compose', env, cwd: o.context, host: o.buildHost, signal: ctx.signal })).split('\n').filter(Boolean);
  const runningContainers = async (ctx: Ctx, service: string) => (await composeOut(ctx, ['ps', '-q', service])).length;

  return [
    {
      title: 'Start the app in the background',
      commands: [compose(['up', '-d'], { departure: [departure, 'straight to -d: the page first runs it in the foreground and stops it with ^C'].filter(Boolean).join('; ') })],
      expect: `${services.join(', ')} running (the images are built on first use)`,
      async run(ctx) {
        ctx.state.up = true;
        await runAll(ctx, this.commands);
        const running = await waitUntil(
          'every service running',
          async () => {
            const names = await composeOut(ctx, ['ps', '--services', '--filter', 'status=running']);
            if (services.every((s) => names.includes(s))) return names;
            throw new Error(`running: ${names.join(', ') || 'none'}`);
          },
          waitOptions(ctx),
        );
        return { figure: `${running.length} services running: ${running.sort().join(', ')}` };
      },
    },
    {
      title: 'Its containers and logs',
      commands: [compose(['ps'], { show: true }), compose(['logs', '--tail', '10', 'worker'], { show: true, departure: 'the worker only and no --follow: the lab reads the last lines and moves on' })],
      expect: 'ps lists each container Up with its ports; the worker logs "units of work done"',
      async run(ctx) {
        await ctx.run(this.commands[0]!);
        const line = await waitUntil(
          'the worker to report units of work',
          async () => (await ctx.run(this.commands[1]!)).split('\n').find((l) => l.includes('units of work done')),
          { ...waitOptions(ctx), everyMs: 2000 },
        );
        return { figure: `worker: "${logMessage(line)}"` };
      },
    },
    {
      title: 'The web UI',
      commands: [],
      expect: `${webui} answers; one worker makes about ${oneWorkerRate.toFixed(1)} hashes/s`,
      async run(ctx) {
        await waitUntil(`${webui}/json`, () => readCounters(webui, ctx.signal), waitOptions(ctx));
        return measured(ctx, 1, oneWorkerRate);
      },
    },
    scaleStep(2, 2 * oneWorkerRate, 'twice one worker'),
    scaleStep(10, expectedPlateau, 'not 10×: the speed plateaus'),
    {
      title: 'Latency of rng and hasher',
      commands: [],
      expect: `rng (localhost:${o.rngPort}) is much slower than hasher (localhost:${o.hasherPort}), more so at 10 requests at a time: rng is the bottleneck (the workshop's httping -c 3; the lab times GET / itself, httping is not everywhere)`,
      async run(ctx) {
        const host = new URL(webui).hostname;
        const rng = await latencies(`http://${host}:${o.rngPort}/`, ctx);
        const hasher = await latencies(`http://${host}:${o.hasherPort}/`, ctx);
        const ms = (n: number) => `${Math.round(n)} ms`;
        const figure = `rng ${ms(rng.one)} at 1 request at a time, ${ms(rng.ten)} at 10; hasher ${ms(hasher.one)} and ${ms(hasher.ten)}`;
        // rng answers one request at a time: behind the 10 workers' calls, 10 requests at once
        // wait about half again as long as one (the i-th waits for i-1 of them); hasher answers at once.
        if (!(rng.one > 5 * hasher.one && rng.ten > 1.2 * rng.one && hasher.ten < rng.one))
          throw new Failure(`${figure}; expected rng far slower than hasher, and slower still at 10 at a time`);
        return { figure: `${figure}: rng is the bottleneck`, values: { rngOneMs: rng.one, rngTenMs: rng.ten, hasherOneMs: hasher.one, hasherTenMs: hasher.ten } };
      },
    },
    {
      title: 'Remove the app',
      commands: [compose(['down'])],
      expect: 'no container of the app left',
      async run(ctx) {
        await runAll(ctx, this.commands);
        ctx.state.up = false;
        const left = await composeOut(ctx, ['ps', '-q']);
        if (left.length) throw new Failure(`${left.length} containers left after down`);
        return { figure: 'every container and the network removed' };
      },
    },
  ];
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
async function latencies(url: string, ctx: Ctx): Promise<{ one: number; ten: number }> {
  const timed = async () => {
    const started = performance.now();
    const res = await fetch(url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]) });
    await res.arrayBuffer();
    if (!res.ok) throw new Failure(`GET ${url} answered ${res.status}`);
    return performance.now() - started;
  };
  ctx.progress(`timing ${url}`);
  const sequential: number[] = [];
  for (let i = 0; i < 3; i++) sequential.push(await timed());
  const parallel = await Promise.all(Array.from({ length: 10 }, timed));
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return { one: mean(sequential), ten: mean(parallel) };
}

export function composeChapter(o: ComposeLabOptions): Chapter {
  const steps = composeLabSteps(o);
  const { env } = composeEnv(o);
  return {
    name: 'The Compose chapter',
    cheatSheet: () => cheatSheet(`The Compose chapter (docker-compose in ${o.context}, web UI on port ${o.port})`, steps, o),
    run: (io) =>
      runSteps(steps, o, { up: false } satisfies ComposeState, {
        needed: (s) => s.up,
        run: (ctx) => ctx.run({ program: 'docker-compose', args: ['down'], env, build: true }),
      }, io),
  };
}
