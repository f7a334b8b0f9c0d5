// The live view of `dockercoins lab check`: a line per cluster (listr2; plain lines when the
// output is not a terminal) saying which step it is at and what that step waits for, at most
// --concurrency clusters checked at a time.
import { Listr } from 'listr2';
import type { ClusterEntry } from './clusters-file.js';
import { checkCluster } from './cluster-run.js';
import type { CheckOptions } from './context.js';
import { failureOf, type ClusterResult } from './report.js';

export async function checkClusters(
  clusters: ClusterEntry[],
  o: CheckOptions,
  run: string,
  signal: AbortSignal,
  renderer: 'default' | 'simple' = 'default',
): Promise<ClusterResult[]> {
  const results = new Map<ClusterEntry, ClusterResult>();
  const list = new Listr(
    clusters.map((cluster) => ({
      title: `${cluster.label}: waiting for its turn`,
      task: async (_ctx: unknown, task: { title: string; output: string }) => {
        const result = await checkCluster(cluster, o, run, signal, (step, line) => {
          task.title = `${cluster.label}: ${step}`;
          task.output = line ?? '';
        });
        results.set(cluster, result);
        const failure = failureOf(result);
        task.title = `${cluster.label}: ${failure ? `failed at ${failure.step}: ${failure.reason ?? ''}` : 'passed'} (${result.seconds.toFixed(1)} s)`;
        if (failure) throw new Error(task.title);
      },
    })),
    {
      concurrent: o.concurrency,
      exitOnError: false,
      renderer,
      fallbackRenderer: 'simple',
      registerSignalListeners: false,
      rendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' }, collapseErrors: true },
      fallbackRendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' } },
    },
  );
  await list.run();
  return clusters.map((c) => results.get(c)!);
}
