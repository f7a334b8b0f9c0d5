// `dockercoins lab stacks --dry-run` and `lab update --dry-run` against the workshop's pages
// (swarmready, stacks; updatingservices). No Docker: they run in test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { dryRun } from '../helpers/workshop.js';

test('lab stacks --dry-run: node ls, stack ps and services of the app are the lab\'s, marked', async () => {
  const { commands } = await dryRun('stacks');
  assert.equal(commands.filter((c) => c.departure).length, 3);
});

test('lab stacks --dry-run --endpoint-mode dnsrr: no-ipvs.yml on top, local images, each marked', async () => {
  const { commands } = await dryRun('stacks', '--endpoint-mode', 'dnsrr', '--node-image', 'local/node:24', '--redis-image', 'local/redis:7');
  const deploy = commands.find((c) => c.command.startsWith('docker stack deploy --compose-file dockercoins.yml'))!;
  assert.equal(deploy.command, 'docker stack deploy --compose-file dockercoins.yml --compose-file no-ipvs.yml dockercoins');
  assert.match(deploy.departure!, /other base images.*no-ipvs\.yml.*no IPVS/);
  assert.match(commands.find((c) => c.command.endsWith('build'))!.departure!, /other base images/);
});

test('lab update --dry-run: TAG=v0.2 in front of build, push and deploy; the sed made in a copy, marked', async () => {
  const { stdout, commands } = await dryRun('update');
  for (const line of stdout.split('\n').filter((l) => /docker(-compose)? .*dockercoins\.yml/.test(l))) assert.match(line, /^TAG=v0\.2 /);
  assert.match(commands.find((c) => c.command.startsWith('sed '))!.departure!, /index\.html.*a copy of the repository/);
});

test("the update chapter's sed changes the speed axis's size, and nothing else, in our page's style", async () => {
  const style = await readFile(path.join(root, 'src/webui/client/style.css'), 'utf8');
  const { stdout } = await execa('sed', ['s/16px/50px/', 'src/webui/client/style.css'], { cwd: root });
  const changed = stdout.split('\n').filter((line, i) => line !== style.split('\n')[i]);
  assert.deepEqual(changed, ['  --speed-axis-font: 50px system-ui, sans-serif;']);
});
