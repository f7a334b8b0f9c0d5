// The 3-node docker-in-docker Swarm that swarm.test.ts and labs.test.ts run on, made by
// ../shared/tools/swarm-cluster.sh, named by the same variables the script reads (CLUSTER_NAME,
// API_PORT_BASE, REGISTRY_PORT; its defaults: the registry on 127.0.0.1:5000, node N's API on
// 23750 + N), so that a second cluster can run beside the first. `up` is idempotent and keeps
// what an earlier run left on the cluster (SWARM_KEEP=1, or a run cut short): the suites start by
// clearing it, so that they test a fresh Swarm whatever ran before.
import path from 'node:path';
import { execa } from 'execa';
import { dockerCli, type Docker } from '../../src/cli/swarm.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { waitUntil } from '../../src/lib/wait.js';

const shared = process.env.SHARED ?? path.resolve(root, '../shared');
const clusterScript = path.join(shared, 'tools/swarm-cluster.sh');
export const minutes = (n: number) => n * 60_000;
const apiPortBase = Number(process.env.API_PORT_BASE || 23750);
/** Containers of a named cluster are <name>-nodeN. */
const prefix = process.env.CLUSTER_NAME ? `${process.env.CLUSTER_NAME}-` : '';
export const swarmHost = `tcp://127.0.0.1:${apiPortBase + 1}`;
export const hostEngine = 'unix:///var/run/docker.sock';
export const registry = `127.0.0.1:${process.env.REGISTRY_PORT || 5000}`;
export const nodeCount = 3;
/** Each node's own engine (swarm-cluster.sh publishes node N's API on API_PORT_BASE + N). */
export const nodeHosts = Array.from({ length: nodeCount }, (_, i) => ({ container: `${prefix}node${i + 1}`, host: `tcp://127.0.0.1:${apiPortBase + 1 + i}` }));
/** The Swarm's docker CLI (node1, the manager). */
export const swarm: Docker = (args, o) => dockerCli(args, { host: swarmHost, signal: o?.signal });
const cluster = (...args: string[]) =>
  execa('bash', [clusterScript, ...args], { stdout: ['pipe', 'inherit'], stderr: ['pipe', 'inherit'], timeout: minutes(6) });
const lines = (output: string) => output.split('\n').filter(Boolean);

/**
 * The cluster up and empty: no service, no network of ours, no volume. Returns the redis image the
 * nodes can pull: where no registry is reachable, CI gives a local stand-in (REDIS_IMAGE), pushed
 * to the cluster's registry.
 */
export async function startCluster(): Promise<string> {
  await cluster('up', String(nodeCount));
  await clearCluster();
  if (!process.env.REDIS_IMAGE) return 'redis:7';
  await cluster('push', process.env.REDIS_IMAGE);
  return `${registry}/${process.env.REDIS_IMAGE}`;
}

/** Removes the cluster, unless SWARM_KEEP=1 keeps it for the next suite. */
export async function stopCluster(): Promise<void> {
  if (process.env.SWARM_KEEP !== '1') await cluster('down');
}

async function clearCluster(): Promise<void> {
  const services = lines(await swarm(['service', 'ls', '--format', '{{.Name}}']));
  const onNodes = (args: string[]) => Promise.all(nodeHosts.map(({ host }) => dockerCli(args, { host })));
  if (services.length > 0) {
    console.log(`the cluster holds ${services.length} service(s) from an earlier run (${services.join(', ')}): removing them`);
    await swarm(['service', 'rm', ...services]);
  }
  await waitUntil(
    "the earlier run's containers to stop",
    async () => ((await onNodes(['ps', '-q', '--filter', 'label=com.docker.swarm.service.id'])).every((out) => out.trim() === '') ? true : undefined),
    { timeoutMs: minutes(2) },
  );
  // Containers a restarted engine found stopped are not its tasks' any more: Swarm leaves them.
  await onNodes(['container', 'prune', '--force']);
  // A removed stack's network is removed by Swarm itself, a moment after its services: one listed
  // may be gone before `network rm` reaches it ("not found"), so remove until none is listed.
  await waitUntil(
    "the earlier run's networks to be removed",
    async () => {
      const networks = lines(await swarm(['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}}'])).filter((n) => n !== 'ingress');
      if (networks.length === 0) return true;
      await swarm(['network', 'rm', ...networks]);
      return undefined;
    },
    { timeoutMs: minutes(1) },
  );
  await onNodes(['volume', 'prune', '--force']);
}
