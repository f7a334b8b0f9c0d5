// The checks of a cluster's Swarm before the app: its nodes, a small image built and pushed to
// its registry, that image pulled on every node (which reaches the registry), and overlay
// traffic between every pair of nodes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serviceTasks, swarmNodes, type Task } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { CheckContext } from './context.js';

const waitFor = (ctx: CheckContext) => ({ timeoutMs: ctx.o.stepSeconds * 1000, everyMs: 2000, signal: ctx.signal, progress: ctx.progress });

/** Every node Ready, and as many as `--nodes` says. */
export async function checkNodes(ctx: CheckContext): Promise<{ count: number; figure: string }> {
  const nodes = await swarmNodes(ctx.docker, ctx.signal);
  const down = nodes.filter((n) => !n.ready);
  if (down.length) throw new Failure(`${down.map((n) => n.hostname).join(', ')} not Ready (${nodes.length - down.length} of ${nodes.length} Ready)`);
  if (ctx.o.nodes !== undefined && nodes.length !== ctx.o.nodes) throw new Failure(`${nodes.length} node(s) Ready, expected ${ctx.o.nodes}`);
  return { count: nodes.length, figure: `${nodes.length} node(s) Ready: ${nodes.map((n) => n.hostname).join(', ')}` };
}

/** Builds the probe image on the build engine and pushes it to the cluster's registry. */
export async function buildProbe(ctx: CheckContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dockercoins-check-'));
  try {
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${ctx.o.probeImage}\nRUN echo ${ctx.names.tag} > /dockercoins-check\n`);
    ctx.progress(`building ${ctx.probe}`);
    await ctx.build(['build', '--quiet', '--tag', ctx.probe, dir]);
    ctx.progress(`pushing ${ctx.probe}`);
    await ctx.build(['push', ctx.probe]);
    return `${ctx.probe} built and pushed`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A one-shot task on every node (host network) of the probe image: each node pulls it from the
 * registry, and the task asks the registry's /v2/ from the node's own network.
 */
export async function checkPull(ctx: CheckContext, nodeCount: number): Promise<string> {
  const { pullService } = ctx.names;
  const probeRegistry = `timeout 10 wget -q -O /dev/null http://${ctx.registry}/v2/ || { echo "registry ${ctx.registry} unreachable from $(hostname)"; exit 1; }`;
  await ctx.docker(['service', 'create', '--detach', '--quiet', '--name', pullService, '--mode', 'global', '--restart-condition', 'none', '--network', 'host',
    '--hostname', '{{.Node.Hostname}}', ctx.probe, 'sh', '-c', probeRegistry]);
  const tasks = await waitUntil(
    `the pull of ${ctx.probe} on every node`,
    async () => {
      const all = await serviceTasks(ctx.docker, pullService, ctx.signal);
      const done = all.filter((t) => /^(Complete|Failed|Rejected)/.test(t.current));
      ctx.progress(`${done.length} of ${nodeCount} node(s) done`);
      return done.length >= nodeCount ? done : undefined;
    },
    waitFor(ctx),
  );
  const failed = tasks.filter((t) => !t.current.startsWith('Complete'));
  if (failed.length) throw new Failure(await whyFailed(ctx, pullService, failed));
  return `pulled on ${tasks.length} node(s), each reached http://${ctx.registry}/v2/`;
}

/** Why each failed task failed: a pull the node refused, or the line the probe printed. */
async function whyFailed(ctx: CheckContext, service: string, failed: Task[]): Promise<string> {
  // Only a task that ran printed something: read the logs for those alone, so that the command
  // the report names stays the `service ps` that shows a refused pull.
  const ran = failed.some((t) => !t.current.startsWith('Rejected'));
  const said = ran ? await ctx.docker(['service', 'logs', '--raw', service]).catch(() => '') : '';
  const lines = said.split('\n').filter((l) => /unreachable/.test(l));
  return failed
    .map((t) => (t.current.startsWith('Rejected') ? `${t.node}: could not pull ${ctx.probe} (${t.error.replaceAll('"', '')})` : `${t.node}: ${lines.find((l) => l.includes(t.node)) ?? (t.error || t.current)}`))
    .join('; ');
}

/**
 * Each node's task serves a page on an overlay network, finds every task by DNS (tasks.<service>)
 * and fetches each one's page: a line per pair in its log, then `done` with how many it saw.
 */
const overlayScript = (service: string, nodes: number) => `mkdir -p /www && echo ok > /www/index.html && httpd -p 8080 -h /www
n=0; while [ $n -lt 60 ]; do ips=$(nslookup tasks.${service} 2>/dev/null | sed -n '/^Name:/,$ s/^Address: *//p')
[ $(echo "$ips" | grep -c .) -ge ${nodes} ] && break; sleep 1; n=$((n+1)); done
for ip in $ips; do if timeout 5 wget -q -O /dev/null http://$ip:8080/; then echo "pair $(hostname) reached $ip"; else echo "pair $(hostname) cannot reach $ip"; fi; done
echo "done $(hostname) saw $(echo "$ips" | grep -c .)"; exec sleep 3600`;

export async function checkOverlay(ctx: CheckContext, nodeCount: number): Promise<string> {
  const { overlayService, overlayNetwork } = ctx.names;
  await ctx.docker(['network', 'create', '--driver', 'overlay', overlayNetwork]);
  // dnsrr: tasks.<service> lists every task's address, with or without IPVS on the nodes.
  await ctx.docker(['service', 'create', '--detach', '--quiet', '--name', overlayService, '--mode', 'global', '--endpoint-mode', 'dnsrr', '--network', overlayNetwork,
    '--hostname', '{{.Node.Hostname}}', ctx.probe, 'sh', '-c', overlayScript(overlayService, nodeCount)]);
  const lines = await waitUntil(
    `every node's fetch from every other over ${overlayNetwork}`,
    async () => {
      const out = (await ctx.docker(['service', 'logs', '--raw', overlayService], { signal: ctx.signal })).split('\n');
      const done = out.filter((l) => l.startsWith('done '));
      ctx.progress(`${done.length} of ${nodeCount} node(s) done`);
      return done.length >= nodeCount ? out : undefined;
    },
    waitFor(ctx),
  );
  const blind = lines.filter((l) => /^done \S+ saw (\d+)$/.exec(l) && Number(l.split(' ').pop()) < nodeCount);
  const cannot = lines.filter((l) => l.includes(' cannot reach '));
  if (blind.length || cannot.length) {
    const seen = blind.map((l) => `${l.split(' ')[1]} found ${l.split(' ').pop()} of ${nodeCount} tasks by DNS`);
    throw new Failure([...seen, ...cannot.map((l) => l.replace(/^pair /, ''))].join('; '));
  }
  const pairs = lines.filter((l) => l.includes(' reached ')).length;
  return `${pairs} of ${nodeCount * nodeCount} pairs answered over ${overlayNetwork}`;
}
