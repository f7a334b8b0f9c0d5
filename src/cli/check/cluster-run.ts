// One cluster's check: the steps in order, each bounded in time, stopping at the first that
// fails; then, whatever happened, the removal of everything the check made there.
import { Interrupted } from '../../lib/wait.js';
import { dockerCli } from '../swarm.js';
import { appImages, buildApp, deployApp } from './app-check.js';
import { cleanUp } from './cleanup.js';
import type { ClusterEntry } from './clusters-file.js';
import { boundDocker, clusterTarget, madeNames, type CheckContext, type CheckOptions } from './context.js';
import type { ClusterResult, StepResult } from './report.js';
import { buildProbe, checkNodes, checkOverlay, checkPull } from './swarm-checks.js';

/** Told when a step starts, and what it is waiting for. */
export type ClusterProgress = (step: string, line?: string) => void;

// A step's own waits give up after --timeout; the grace lets the command under way and the
// gathering of the reason end before the step is cut.
const graceMs = 30_000;

export async function checkCluster(cluster: ClusterEntry, o: CheckOptions, run: string, signal: AbortSignal, progress: ClusterProgress): Promise<ClusterResult> {
  const started = Date.now();
  const ctx = context(cluster, o, run, signal);
  const steps: StepResult[] = [];
  let nodeCount = 0;
  const plan: [string, () => Promise<string>][] = [
    [
      'nodes',
      async () => {
        const nodes = await checkNodes(ctx);
        nodeCount = nodes.count;
        return nodes.figure;
      },
    ],
    ['image', () => buildProbe(ctx)],
    ['registry', () => checkPull(ctx, nodeCount)],
    ['overlay', () => checkOverlay(ctx, nodeCount)],
    ['app images', () => buildApp(ctx)],
    ['app', () => deployApp(ctx)],
  ];
  for (const [name, check] of plan) {
    const result = await step(ctx, name, signal, progress, check);
    steps.push(result);
    if (!result.ok) break;
  }
  // Cleanup runs even after Ctrl-C (its own time limit, not the interrupted signal), once past
  // the nodes: that step makes nothing, and its failure may be a cluster out of reach.
  if (steps[0]?.ok) steps.push(await step(ctx, 'cleanup', new AbortController().signal, progress, () => cleanUp(ctx, appImages(ctx))));
  return { label: cluster.label, host: cluster.host, ok: steps.every((s) => s.ok), seconds: since(started), steps };
}

function context(cluster: ClusterEntry, o: CheckOptions, run: string, signal: AbortSignal): CheckContext {
  const names = madeNames(run);
  const registry = cluster.registry ?? o.registry;
  // The docker CLIs read the context's signal and record into it: made once the context exists.
  const ctx: CheckContext = { cluster, o, names, registry, probe: `${registry}/${names.probeRepo}:${names.tag}`, signal, progress: () => {}, docker: dockerCli, build: dockerCli };
  ctx.docker = boundDocker(ctx, clusterTarget(cluster));
  ctx.build = o.buildHost ? boundDocker(ctx, { host: o.buildHost }) : ctx.docker;
  return ctx;
}

async function step(ctx: CheckContext, name: string, outer: AbortSignal, progress: ClusterProgress, check: () => Promise<string>): Promise<StepResult> {
  const started = Date.now();
  const limit = AbortSignal.timeout(ctx.o.stepSeconds * 1000 + graceMs);
  ctx.signal = AbortSignal.any([outer, limit]);
  ctx.progress = (line) => progress(name, line);
  ctx.lastCommand = undefined;
  progress(name);
  try {
    const figure = await check();
    return { step: name, ok: true, seconds: since(started), figure };
  } catch (err) {
    const reason = limit.aborted
      ? `not done after ${(ctx.o.stepSeconds * 1000 + graceMs) / 1000} s (--timeout and its grace)`
      : outer.aborted || err instanceof Interrupted
        ? 'interrupted (Ctrl-C)'
        : oneLine((err as Error).message);
    return { step: name, ok: false, seconds: since(started), reason, command: ctx.lastCommand };
  }
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 400);
const since = (started: number) => Math.round((Date.now() - started) / 100) / 10;
