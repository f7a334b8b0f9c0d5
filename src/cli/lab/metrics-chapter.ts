// The workshop's metrics chapter, its Prometheus part, on the running app: the Prometheus stack
// built, pushed and deployed as the page does (stacks/prometheus.yml, on a stand-in image of
// Debian's packages), its targets found by DNS (tasks.<service>) and up, then the page's
// question, how much CPU dockercoins_worker uses, answered from the workers' own /metrics (no
// cAdvisor here), and one step beyond the page: rng found as the bottleneck from the app's
// metrics. Every figure is an instant query of Prometheus' HTTP API.
import { existing, isRunning, publishedUrl, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { runningApp } from './app.js';
import { registryEnv, type LabOptions } from './options.js';
import { scalar, query, targets } from './prometheus.js';
import { departs, type Action, type ChapterScript, type Command, type Play, type RunAction, type Step } from './script.js';
import { readyNodes, removeStacks, service, stack, waitOptions, type StackService } from './stack.js';

/** The share of a call to rng spent in its queue, and of its tasks' time spent serving, that make it the bottleneck. */
const QUEUED_SHARE = 0.05;
const BUSY_SHARE = 0.5;

export const promStack = 'prometheus';
const prometheus = `${promStack}_prometheus`;
const nodeExporter = `${promStack}_node`;
export const promServices = [prometheus, nodeExporter];
/** The image stacks/prometheus.yml builds and pushes (no TAG: the page's `latest`). */
export const promImage = (o: LabOptions) => `${o.registry}/prom:latest`;
/** The jobs of stacks/prom/prometheus.yml that scrape the app, one per service. */
const appJobs = ['worker', 'rng', 'hasher', 'webui'] as const satisfies readonly StackService[];

const standIn =
  "prom/Dockerfile builds a stand-in of the page's prom/prometheus and prom/node-exporter from Debian's prometheus and prometheus-node-exporter packages: Docker Hub cannot be reached here, Debian's mirror can";
const noCadvisor =
  "no cadvisor service: google/cadvisor cannot be pulled here and Debian has no package of it; Prometheus also joins the app's network (dockercoins_default) and scrapes the app's own /metrics, its tasks found by DNS (tasks.dockercoins_<service>)";

/** The variables stacks/prometheus.yml reads, where the options differ from the workshop's. */
function promEnv(o: LabOptions): Record<string, string> | undefined {
  const env: Record<string, string> = { ...registryEnv(o).env };
  if (o.debianImage) env.DEBIAN_IMAGE = o.debianImage;
  return Object.keys(env).length ? env : undefined;
}

const composeProm = (o: LabOptions, verb: string, ...why: (string | undefined)[]): Command =>
  departs({ program: 'docker-compose', args: ['-f', 'prometheus.yml', verb], env: promEnv(o), dir: 'stacks', build: true }, ...why, registryEnv(o).departure);

/** Where Prometheus answers: every node's 9090 (ingress), or the node that runs it (host mode). */
const prometheusUrl = (p: Play) => publishedUrl(p.docker, prometheus, 9090, p.options.endpointMode === 'dnsrr' ? 'host' : 'ingress', p.signal);

/** A rate over the chapter's window (--window). */
const rate = (p: Play, series: string) => `rate(${series}[${p.options.windowSeconds}s])`;

/** Where the targets step found Prometheus. */
const promUrl = (p: Play) => String(p.figures.prometheus);

/** An instant query that must answer one number (an Error until it does: a wait tries again). */
async function number(p: Play, promql: string): Promise<number> {
  const value = await scalar(promUrl(p), promql, p.signal);
  if (value === undefined || !Number.isFinite(value)) throw new Error(`${promql}: no value yet`);
  return value;
}

/** Each app service's running tasks: the targets its job must have. */
async function appTasks(p: Play): Promise<Record<string, number>> {
  const counts = await Promise.all(appJobs.map(async (job) => [job, (await serviceTasks(p.docker, service(job), p.signal)).filter(isRunning).length] as const));
  return Object.fromEntries(counts);
}

const targetsUp: Action = {
  do: 'wait',
  for: 'every target up (Prometheus\' HTTP API, GET /api/v1/targets, where the page opens Status → Targets): 1 prometheus, a node exporter per node, one target per running task of worker, rng, hasher and webui',
  async until(p) {
    const url = await prometheusUrl(p);
    const nodes = await readyNodes(p);
    const found = await waitUntil(
      `every target of ${url} up`,
      async () => {
        // Asked again each time: a task replaced meanwhile is a target gone and one to come.
        const expected: Record<string, number> = { prometheus: 1, node: nodes, ...(await appTasks(p)) };
        const all = await targets(url, p.signal);
        const up = Object.fromEntries(Object.keys(expected).map((job) => [job, all.filter((t) => t.job === job && t.up).length]));
        const down = all.find((t) => !t.up);
        p.progress(`${Object.entries(up).map(([job, n]) => `${job} ${n}/${expected[job]}`).join(', ')}${down ? `; ${down.job} down: ${down.lastError}` : ''}`);
        return Object.keys(expected).every((job) => up[job] === expected[job]) && !down ? up : undefined;
      },
      { ...waitOptions(p), progress: undefined },
    );
    const total = Object.values(found).reduce((a, b) => a + b, 0);
    return {
      // The page's count: a cAdvisor and a node exporter per node, and Prometheus.
      figure: `${url}: ${total} targets up (${Object.entries(found).map(([job, n]) => `${n} ${job}`).join(', ')}), where the page counts ${2 * (found.node ?? 0) + 1} (${found.node ?? 0} cadvisor, ${found.node ?? 0} node, 1 prometheus)`,
      values: { prometheus: url, targets: total, ...Object.fromEntries(Object.entries(found).map(([job, n]) => [`${job}Targets`, n])) },
    };
  },
};

/**
 * Waits until Prometheus holds a whole --window of every worker's samples, by its own clock: a
 * rate over the window then reads all of it. Full when each series has samples older than the window.
 */
const fullWindow: Action = {
  do: 'wait',
  for: "a whole --window of every worker's samples (each has samples older than the window)",
  async until(p) {
    const w = p.options.windowSeconds;
    const cpu = 'process_cpu_seconds_total{job="worker"}';
    const older = `min(count_over_time(${cpu}[${2 * w}s]) - count_over_time(${cpu}[${w}s]))`;
    await waitUntil(`${w} s of samples`, async () => ((await number(p, older)) > 0 ? true : undefined), waitOptions(p));
  },
};

/** The page's question: dockercoins_worker's CPU, from the workers' own metrics where the page reads cAdvisor's. */
const workerCpuStep: Step = {
  title: "The workers' CPU",
  actions: [
    fullWindow,
    {
      do: 'measure',
      what: `sum(rate(process_cpu_seconds_total{job="worker"}[--window])), each worker's own CPU time (prom-client), where the page sums cAdvisor's container_cpu_usage_seconds_total{container_label_com_docker_swarm_service_name="dockercoins_worker"}; and the nodes' busy CPU (node exporter)`,
      async measure(p) {
        const workerCpu = await number(p, `sum(${rate(p, 'process_cpu_seconds_total{job="worker"}')})`);
        const workers = await number(p, 'count(process_cpu_seconds_total{job="worker"})');
        const busiest = await number(p, `max(${rate(p, 'process_cpu_seconds_total{job="worker"}')})`);
        const nodes = await query(promUrl(p), `sum by (instance) (${rate(p, 'node_cpu_seconds_total{mode!="idle"}')})`, p.signal);
        const cores = await number(p, 'max(count by (instance) (node_cpu_seconds_total{mode="idle"}))');
        if (!nodes.length) throw new Failure('no node_cpu_seconds_total from the node exporters yet');
        const nodeBusy = Math.max(...nodes.map((n) => n.value));
        return { values: { workerCpu, workers, workerCpuMax: busiest, nodeBusyCores: nodeBusy, nodeCores: cores } };
      },
    },
    {
      do: 'expect',
      that: "dockercoins_worker's CPU, the page's question: the sum over its tasks, more than 0 (the nodes' busy CPU beside it, from the node exporter; docker-in-docker nodes share one kernel, so each sees the whole machine)",
      async check(p) {
        const [cpu, workers, max, busy, cores] = ['workerCpu', 'workers', 'workerCpuMax', 'nodeBusyCores', 'nodeCores'].map((k) => Number(p.figures[k])) as [number, number, number, number, number];
        const running = (await appTasks(p)).worker;
        const figure = `dockercoins_worker uses ${cpu.toFixed(3)} CPU over ${p.options.windowSeconds} s (${workers} tasks, ${(cpu / workers).toFixed(4)} each, the busiest ${max.toFixed(4)}); a node: ${busy.toFixed(2)} of ${cores} cores busy`;
        if (!(cpu > 0) || workers !== running) throw new Failure(`${figure}; expected more than 0 CPU from all ${running} workers`);
        return { figure };
      },
    },
  ],
};

/** One step beyond the page: rng found as the bottleneck from our metrics. */
const bottleneckStep: Step = {
  title: 'One step beyond: the bottleneck',
  actions: [
    {
      do: 'measure',
      what: "the workers' mean call to rng and to hasher (worker_call_duration_seconds: _sum over _count, by dependency), their calls/s, rng's mean wait in its one-at-a-time queue (rng_queue_wait_seconds), and how busy rng's tasks are (the time its requests took, less their wait in the queue, per task)",
      async measure(p) {
        const perDependency = async (promql: string) => Object.fromEntries((await query(promUrl(p), promql, p.signal)).map((s) => [s.labels.dependency, s.value]));
        const seconds = await perDependency(`sum by (dependency) (${rate(p, 'worker_call_duration_seconds_sum')}) / sum by (dependency) (${rate(p, 'worker_call_duration_seconds_count')})`);
        const calls = await perDependency(`sum by (dependency) (${rate(p, 'worker_call_duration_seconds_count')})`);
        const queueWait = await number(p, `sum(${rate(p, 'rng_queue_wait_seconds_sum')}) / sum(${rate(p, 'rng_queue_wait_seconds_count')})`);
        const busy = await number(p, `(sum(${rate(p, 'http_request_duration_seconds_sum{job="rng"}')}) - sum(${rate(p, 'rng_queue_wait_seconds_sum')})) / count(up{job="rng"})`);
        const values = { rngCallSeconds: seconds.rng, hasherCallSeconds: seconds.hasher, rngCallsPerSecond: calls.rng, hasherCallsPerSecond: calls.hasher, rngQueueWaitSeconds: queueWait, rngBusy: busy };
        const missing = Object.entries(values).filter(([, v]) => v === undefined || !Number.isFinite(v));
        if (missing.length) throw new Failure(`no value for ${missing.map(([k]) => k).join(', ')}`);
        return { values: values as Record<string, number> };
      },
    },
    {
      do: 'expect',
      that: "rng is the bottleneck: the workers wait longer on rng than on hasher, a share of that in rng's queue (hasher serves requests concurrently: it has none), and rng's tasks busy most of the time",
      check(p) {
        const [rng, hasher, rngCalls, hasherCalls, wait, busy] = ['rngCallSeconds', 'hasherCallSeconds', 'rngCallsPerSecond', 'hasherCallsPerSecond', 'rngQueueWaitSeconds', 'rngBusy'].map((k) => Number(p.figures[k])) as [number, number, number, number, number, number];
        const ms = (s: number) => `${Math.round(s * 1000)} ms`;
        const figure = `a worker's call to rng takes ${ms(rng)} (${ms(wait)} of it in rng's queue), to hasher ${ms(hasher)}; ${rngCalls.toFixed(1)} calls/s to rng, ${hasherCalls.toFixed(1)} to hasher; rng's tasks busy ${Math.round(busy * 100)}% of the time`;
        // Saturated and queueing, not a millisecond's noise between two ~100 ms calls.
        if (!(rng > hasher && wait >= QUEUED_SHARE * rng && busy >= BUSY_SHARE))
          throw new Failure(`${figure}; expected rng's calls to take longer, at least ${QUEUED_SHARE * 100}% of them in its queue, its tasks busy at least ${BUSY_SHARE * 100}% of the time`);
        return { figure: `rng is the bottleneck: ${figure}`, values: { rngOverHasher: rng / hasher } };
      },
    },
  ],
};

/** The page's stack file, and the override for engines without IPVS. */
const promFiles = (o: LabOptions) => ['prometheus.yml', ...(o.endpointMode === 'dnsrr' ? ['prometheus-no-ipvs.yml'] : [])];

/** The page's build, push and deploy of the Prometheus stack, on the stand-in image. */
const deployStep = (o: LabOptions, removeProm: Action[]): Step => ({
  title: 'Build, ship, and run the Prometheus stack',
  actions: [
    { do: 'run', command: composeProm(o, 'build', standIn, o.debianImage ? 'another Debian base (--debian-image)' : undefined) },
    { do: 'run', command: composeProm(o, 'push') },
    {
      do: 'run',
      command: departs(
        { args: ['stack', 'deploy', ...promFiles(o).flatMap((f) => ['-c', f]), promStack], env: registryEnv(o).env, dir: 'stacks' },
        noCadvisor,
        registryEnv(o).departure,
        o.endpointMode === 'dnsrr' ? 'prometheus-no-ipvs.yml on top (--endpoint-mode dnsrr): dnsrr and a host-mode port, this engine has no IPVS' : undefined,
      ),
      undo: { key: promStack, actions: removeProm },
    },
    {
      do: 'wait',
      for: `${prometheus}: 1 task; ${nodeExporter}: one per node (global)`,
      async until(p) {
        const nodes = await readyNodes(p);
        const [prom] = await waitForTasks(p.docker, prometheus, 1, waitOptions(p));
        await waitForTasks(p.docker, nodeExporter, nodes, waitOptions(p));
        return { figure: `prometheus on ${prom!.node}, a node exporter on each of ${nodes} nodes`, values: { nodeExporters: nodes } };
      },
    },
  ],
});

export function metricsScript(o: LabOptions): ChapterScript {
  const [stackRm, gone] = removeStacks(promStack) as [RunAction, Action];
  const removeProm: Action[] = [{ ...stackRm, command: departs(stackRm.command, `not on the page: the ${promStack} stack removed (the ${stack} stack stays for the next chapter)`) }, gone];
  return {
    name: 'The metrics chapter',
    header: `The metrics chapter: Prometheus on the Swarm, scraping the app (stack dockercoins, endpoint mode ${o.endpointMode})`,
    keyStep: 'One step beyond: the bottleneck',
    steps: [
      runningApp(o),
      deployStep(o, removeProm),
      { title: 'Checking our Prometheus server', actions: [targetsUp] },
      workerCpuStep,
      bottleneckStep,
      ...(o.keep
        ? []
        : [
            {
              title: 'The Prometheus stack removed',
              actions: [
                ...removeProm,
                {
                  do: 'expect',
                  that: `no ${promStack} service; the dockercoins stack still running`,
                  async check(p) {
                    const left = await existing(p.docker, 'service', [prometheus, nodeExporter], p.signal);
                    if (left.length) throw new Failure(`still there: ${left.join(', ')}`);
                    return { figure: `${promStack} removed; ${(await appTasks(p)).worker} workers still running` };
                  },
                },
              ],
            } satisfies Step,
          ]),
    ],
  };
}
