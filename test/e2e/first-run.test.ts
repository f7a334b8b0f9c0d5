// npm run test:e2e — the README's first run, as a newcomer does it: the repository in a fresh
// container of the node image on Docker's default network (IPv6 disabled in the container,
// while its /etc/hosts maps localhost to ::1 as well), `npm install && npm start`. It must mine
// at the workshop's rate with no warning line: the worker sets the address of localhost it
// cannot connect aside, says it once, and calls the other one (issue 33).
// The repository is copied in without node_modules and dist: npm install fetches the
// dependencies from the registry, as the newcomer's does. Image: NODE_IMAGE (CI's local
// stand-in), else the official node:24-bookworm.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { repositoryRoot } from '../../src/lib/paths.js';
import { waitUntil } from '../../src/lib/wait.js';
import type { LogLine } from '../helpers/processes.js';

const minutes = (n: number) => n * 60_000;
const image = process.env.NODE_IMAGE ?? 'node:24-bookworm';
const container = `dockercoins-first-run-${process.pid}`;
/** One unit: the worker's sleep, rng's and hasher's, 100 ms each (the README's defaults). */
const expectedRate = 1000 / 300;

after(() => execa('docker', ['rm', '--force', container], { reject: false }));

/** The container's output so far: its JSON lines (the services') and the others (npm's, the CLI's). */
async function output() {
  const { stdout, stderr } = await execa('docker', ['logs', container], { reject: false });
  const lines = `${stdout}\n${stderr}`.split('\n');
  const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  return { json, text: lines.filter((l) => !l.startsWith('{')) };
}

/** /json read in the container: the count and the web UI's clock. */
async function counters() {
  const script = 'fetch("http://127.0.0.1:8000/json").then((r) => r.text()).then((t) => process.stdout.write(t))';
  const { stdout } = await execa('docker', ['exec', container, 'node', '-e', script]);
  const json = JSON.parse(stdout) as { hashes: string | number; now: number };
  return { hashes: Number(json.hashes), now: json.now };
}

test('npm install && npm start in a fresh node container on the default network: about 3.3 hashes/s, no warning line', { timeout: minutes(10) }, async () => {
  await execa('docker', ['create', '--name', container, '-w', '/tmp/dockercoins', image, 'sh', '-c', 'npm install && npm start']);
  // The working tree as a tar stream into the container (docker cp - takes one).
  const tree = execa('tar', ['-c', '-C', repositoryRoot, '--exclude=./node_modules', '--exclude=./dist', '--exclude=./.git', '--transform=s,^\\.,dockercoins,', '.'], { encoding: 'buffer' });
  await execa('docker', ['cp', '-', `${container}:/tmp`], { input: (await tree).stdout });
  await execa('docker', ['start', container]);

  const disabled = (await execa('docker', ['exec', container, 'cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6'], { reject: false })).stdout.trim();
  const hosts = (await execa('docker', ['exec', container, 'cat', '/etc/hosts'])).stdout;
  console.log(`in the container: disable_ipv6=${disabled}; localhost in /etc/hosts: ${hosts.split('\n').filter((l) => /\slocalhost(\s|$)/.test(l)).join(' | ')}`);

  await waitUntil('"DockerCoins is mining" from npm start', async () => {
    const { json, text } = await output();
    const state = (await execa('docker', ['inspect', '--format', '{{.State.Running}}', container])).stdout;
    if (state !== 'true') throw new Error(`the container ended: ${[...text, ...json.map((l) => l.msg)].slice(-20).join('\n')}`);
    return text.some((l) => l.startsWith('DockerCoins is mining')) ? true : undefined;
  }, { timeoutMs: minutes(8), everyMs: 1000 });
  await waitUntil('hashes counted', async () => ((await counters()).hashes > 0 ? true : undefined), { timeoutMs: minutes(1), everyMs: 500 });

  // Measured by the web UI's clock over 20 s of it.
  const first = await counters();
  await delay(20_000);
  const last = await counters();
  const rate = (last.hashes - first.hashes) / (last.now - first.now);
  const { json } = await output();
  const warnings = json.filter((l) => l.level >= 40);
  console.log(`first run: ${rate.toFixed(2)} hashes/s (${first.hashes} → ${last.hashes} in ${(last.now - first.now).toFixed(1)} s); ${warnings.length} warning lines`);
  for (const line of json.filter((l) => l.level >= 30 && l.dependency)) console.log(`  ${line.msg}`);
  assert.deepEqual(warnings.map((l) => l.msg), [], 'no warning line');
  assert.ok(Math.abs(rate - expectedRate) <= expectedRate * 0.1, `${rate.toFixed(2)} hashes/s, expected ${expectedRate.toFixed(2)} ±10 %`);
});
