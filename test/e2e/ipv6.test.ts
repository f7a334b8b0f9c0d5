// The Compose stack on a dual-stack Docker network (enable_ipv6): the services' names resolve
// to an IPv4 and an IPv6 address each, every service listens on both by default, and the
// worker's calls over IPv6 succeed as well as those over IPv4 (counted by family in its
// /metrics), at the workshop's usual rate. Part of `npm run test:e2e`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { expectedPlateau } from '../../src/cli/lab/swarm-chapter.js';
import { dockerCli, measureRate, readCounters } from '../../src/cli/swarm.js';
import { sleep } from '../../src/lib/sleep.js';
import { waitUntil } from '../../src/lib/wait.js';
import { composeStack, type ComposeStack } from '../../src/cli/compose.js';
import { repositoryRoot } from '../../src/lib/paths.js';

const minutes = (n: number) => n * 60_000;
const project = `dockercoins-ipv6-${process.pid}`;
const tag = `ipv6-test-${process.pid}`;
let stack: ComposeStack;
// readCounters' fetch can wait on a published port whose container is not up yet, and its
// 5 s timeout is an unref'd timer: with nothing else pending, node would end the test there.
const keepRunning = setInterval(() => {}, 1000);

before(async () => {
  // A /64 of its own on a shared engine (the host's own network may use fd00::/64).
  const subnet = `fd00:dc:${(process.pid % 0xffff).toString(16)}::/64`;
  stack = await composeStack(project, { files: [path.join(repositoryRoot, 'test/e2e/ipv6.compose.yml')], env: { TEST_TAG: tag, IPV6_SUBNET: subnet } });
  await stack.compose('build');
});

after(async () => {
  clearInterval(keepRunning);
  await stack?.down();
  await execa('docker', ['rmi', ...['rng', 'hasher', 'webui', 'worker'].map((s) => `dockercoins_${s}:${tag}`)], { reject: false });
});

/** What a container's node sees: its own /metrics, and every address of a name. */
async function inContainer(id: string, script: string): Promise<string> {
  return dockerCli(['exec', id, 'node', '-e', script]);
}

async function workerCalls(id: string) {
  const text = await inContainer(id, 'fetch("http://127.0.0.1/metrics").then(r => r.text()).then(t => process.stdout.write(t))');
  const value = (name: string, labels: string) =>
    Number(new RegExp(`^${name}\\{([^}]*${labels}[^}]*)\\} (\\S+)$`, 'm').exec(text)?.[2] ?? NaN);
  const calls: Record<string, number> = {};
  for (const dependency of ['rng', 'hasher']) {
    for (const family of ['4', '6']) calls[`${dependency} IPv${family}`] = value('worker_calls_total', `dependency="${dependency}",family="${family}"`);
    calls[`${dependency} errors`] = value('worker_errors_total', `dependency="${dependency}"`);
  }
  return calls;
}

test('on a dual-stack network: names resolve to both families, the worker calls over IPv6 and IPv4 without errors, at the usual rate', { timeout: minutes(5) }, async () => {
  await stack.compose('up', '-d', '--scale', 'worker=10');
  await waitUntil('GET /json with hashes counted', async () => ((await readCounters(stack.webui)).hashes > 0 ? true : undefined), { timeoutMs: minutes(1) });
  const [worker, ...others] = await stack.containers('worker');
  assert.equal(others.length, 9);
  const families = await inContainer(worker!, 'require("dns").lookup("rng", { all: true }, (e, a) => process.stdout.write(JSON.stringify(a.map(x => x.family).sort())))');
  assert.deepEqual(JSON.parse(families), [4, 6], `rng resolves to families ${families}`);

  // Let the 10 workers reach their pace, then measure over 15 s.
  await sleep(8000);
  const { rate } = await measureRate(stack.webui, 15);
  console.log(`dual stack, 10 workers, 1 rng: ${rate.toFixed(2)} hashes/s`);
  assert.ok(rate >= expectedPlateau * 0.8 && rate <= expectedPlateau * 1.15, `plateau ${rate.toFixed(2)} hashes/s, expected 8–11.5`);

  const total: Record<string, number> = {};
  for (const id of [worker!, ...others]) {
    for (const [key, n] of Object.entries(await workerCalls(id))) total[key] = (total[key] ?? 0) + n;
  }
  const share = (dependency: string) => total[`${dependency} IPv6`]! / (total[`${dependency} IPv6`]! + total[`${dependency} IPv4`]!);
  console.log(`calls by family, 10 workers: ${JSON.stringify(total)}; IPv6 share: rng ${share('rng').toFixed(2)}, hasher ${share('hasher').toFixed(2)}`);
  for (const dependency of ['rng', 'hasher']) {
    assert.equal(total[`${dependency} errors`], 0, `${dependency} errors`);
    // Each worker alternates between the two addresses: half of the calls over each family.
    assert.ok(Math.abs(share(dependency) - 0.5) <= 0.05, `${dependency}: IPv6 share ${share(dependency).toFixed(2)}`);
  }
});
