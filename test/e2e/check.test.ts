// `dockercoins lab check` on two docker-in-docker Swarms started at once (swarm-cluster.sh, each
// with its own name, subnet, ports and registry), one broken on purpose: its node2 loses its
// way to the registry (the forward of 127.0.0.1:<registry port> inside node2 is killed), so the
// image is pushed but node2 cannot pull it. The report must say: ca passed, cb failed at the
// registry step because of node2, and nothing the check made is left on either cluster.
// Needs the built CLI (npm run test:check builds it) and the images of offline-images.sh.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { dockerCli } from '../../src/cli/swarm.js';
import { distDir, repositoryRoot as root } from '../../src/lib/paths.js';
import type { CheckReport } from '../../src/cli/check/report.js';
import { hostEngine, minutes } from './cluster.js';

const clusterScript = path.join(process.env.SHARED ?? path.resolve(root, '../shared'), 'tools/swarm-cluster.sh');
// Names, subnets and ports no other suite uses (the default cluster: 23751+, 5000; lab: 23761+, 5001).
const clusters = [
  { name: 'ca', subnet: '172.31.252.0/24', apiBase: 23770, registryPort: 5010 },
  { name: 'cb', subnet: '172.31.253.0/24', apiBase: 23780, registryPort: 5011 },
].map((c) => ({ ...c, manager: `tcp://127.0.0.1:${c.apiBase + 1}`, registry: `127.0.0.1:${c.registryPort}` }));
const [healthy, broken] = clusters as [(typeof clusters)[0], (typeof clusters)[0]];

const clusterCommand = (c: (typeof clusters)[0], ...args: string[]) =>
  execa('bash', [clusterScript, ...args], {
    env: { CLUSTER_NAME: c.name, CLUSTER_SUBNET: c.subnet, API_PORT_BASE: String(c.apiBase), REGISTRY_PORT: String(c.registryPort), NODE1_PORTS: '' },
    stdout: ['pipe', 'inherit'],
    stderr: ['pipe', 'inherit'],
    timeout: minutes(6),
  });

let dir = '';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'check-e2e-'));
  await Promise.all(clusters.map((c) => clusterCommand(c, 'up', '2')));
  // node2's forward of 127.0.0.1:<port> to the registry is a docker-proxy inside the node.
  const node2 = `${broken.name}-node2`;
  const pid = (await dockerCli(['exec', node2, 'pgrep', '-f', `docker-proxy .*-host-port ${broken.registryPort} `], { host: hostEngine })).trim();
  assert.match(pid, /^\d+$/, `one forward of ${broken.registry} in ${node2}`);
  await dockerCli(['exec', node2, 'kill', pid], { host: hostEngine });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await Promise.all(clusters.map((c) => clusterCommand(c, 'down')));
});

test('lab check: the healthy cluster passes, the one whose node2 cannot reach its registry fails there', { timeout: minutes(25) }, async (t) => {
  const file = path.join(dir, 'clusters.txt');
  await writeFile(file, `# the class\n${clusters.map((c) => `${c.manager} registry=${c.registry} ${c.name}`).join('\n')}\n`);
  const report = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  const started = performance.now();
  const run = await execa(
    'node',
    [
      path.join(distDir, 'cli.mjs'), 'lab', 'check', '--clusters', file, '--concurrency', '2', '--nodes', '2',
      // The host builds and pushes (the nodes have no base images); no IPVS in these nodes.
      '--build-host', hostEngine, '--endpoint-mode', 'dnsrr',
      '--probe-image', process.env.PROBE_IMAGE ?? 'local/busybox:1.35', '--redis-image', process.env.REDIS_IMAGE ?? 'redis:7',
      ...(process.env.NODE_IMAGE ? ['--node-image', process.env.NODE_IMAGE] : []),
      '--timeout', '240', '--report', report, '--html', html,
    ],
    { reject: false, all: true, timeout: minutes(24) },
  );
  t.diagnostic(`lab check took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const table = run.all.slice(run.all.lastIndexOf('CLUSTER'));
  t.diagnostic(`table:\n${table}`);
  assert.equal(run.exitCode, 1, 'one cluster failed');

  const { clusters: rows } = JSON.parse(await readFile(report, 'utf8')) as CheckReport;
  assert.deepEqual(rows.map((r) => [r.label, r.ok]), [[healthy.name, true], [broken.name, false]]);
  const [good, bad] = rows as [CheckReport['clusters'][0], CheckReport['clusters'][0]];
  for (const row of rows) t.diagnostic(`${row.label}: ${row.steps.map((s) => `${s.step} ${s.ok ? '✓' : '✗'} ${s.seconds} s`).join(', ')}`);
  assert.deepEqual(good.steps.map((s) => s.step), ['nodes', 'image', 'registry', 'overlay', 'app images', 'app', 'cleanup']);
  assert.match(good.steps.find((s) => s.step === 'app')!.figure!, /counts [1-9]\d* hash/);
  const failed = bad.steps.filter((s) => !s.ok);
  assert.deepEqual(failed.map((s) => s.step), ['registry'], 'cb fails at the registry step only; its cleanup passed');
  assert.match(failed[0]!.reason!, new RegExp(`^node2: could not pull ${broken.registry}/dockercoins-check:`), 'the reason names node2, and node2 only');
  assert.doesNotMatch(failed[0]!.reason!, /node1/);
  assert.match(failed[0]!.command!, new RegExp(`^DOCKER_HOST=${broken.manager} docker service ps check-pull-`));
  assert.match(table, new RegExp(`${broken.name} ✗ registry: node2: `));

  const page = await readFile(html, 'utf8');
  assert.match(page, /<td class="passed">passed<\/td>/);
  assert.match(page, /<td class="failed">failed at registry<\/td>/);
  assert.doesNotMatch(page, /\b(src|href)=/);

  for (const c of clusters) {
    const docker = (args: string[]) => dockerCli(args, { host: c.manager });
    assert.equal((await docker(['service', 'ls', '-q'])).trim(), '', `no service left on ${c.name}`);
    assert.deepEqual((await docker(['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}}'])).trim().split('\n'), ['ingress'], `no network left on ${c.name}`);
  }
});
