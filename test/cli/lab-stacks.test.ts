// `dockercoins lab stacks --dry-run` and `lab update --dry-run` against the workshop's pages
// (swarmready, stacks; updatingservices). No Docker: they run in test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { dryRun, unmarked, workshopText } from '../helpers/workshop.js';

test('lab stacks --dry-run: the pages\' commands in their order, as the workshop types them', async () => {
  const { commands } = await dryRun('stacks');
  assert.deepEqual(
    commands.map((c) => c.command),
    [
      'docker node ls',
      'docker stack deploy --compose-file registry.yml registry',
      'docker stack ps registry',
      'docker service ps registry_registry',
      'docker-compose -f dockercoins.yml build',
      'docker-compose -f dockercoins.yml push',
      'docker stack deploy --compose-file dockercoins.yml dockercoins',
      'docker stack ps dockercoins',
      'docker stack services dockercoins',
    ],
  );
  assert.deepEqual(unmarked(commands, await workshopText(['swarmready', 'stacks'], {})), []);
  assert.equal(commands.filter((c) => c.departure).length, 3, 'node ls, stack ps and services of the app: the lab\'s');
});

test('lab stacks --dry-run --endpoint-mode dnsrr: no-ipvs.yml on top, local images, each marked', async () => {
  const { commands } = await dryRun('stacks', '--endpoint-mode', 'dnsrr', '--node-image', 'local/node:24', '--redis-image', 'local/redis:7');
  const deploy = commands.find((c) => c.command.startsWith('docker stack deploy --compose-file dockercoins.yml'))!;
  assert.equal(deploy.command, 'docker stack deploy --compose-file dockercoins.yml --compose-file no-ipvs.yml dockercoins');
  assert.match(deploy.departure!, /other base images.*no-ipvs\.yml.*no IPVS/);
  assert.match(commands.find((c) => c.command.endsWith('build'))!.departure!, /other base images/);
});

test('lab update --dry-run: sed, TAG=v0.2, build, push, deploy, as the page types them', async () => {
  const { stdout, commands } = await dryRun('update');
  assert.deepEqual(
    commands.map((c) => c.command),
    [
      'docker stack services dockercoins',
      'sed -i s/16px/50px/ src/webui/client/style.css',
      'docker-compose -f dockercoins.yml build',
      'docker-compose -f dockercoins.yml push',
      'docker stack deploy -c dockercoins.yml dockercoins',
    ],
  );
  for (const line of stdout.split('\n').filter((l) => /docker(-compose)? .*dockercoins\.yml/.test(l))) assert.match(line, /^TAG=v0\.2 /);
  assert.deepEqual(unmarked(commands, await workshopText(['updatingservices'], {})), []);
  assert.match(commands[1]!.departure!, /index\.html.*a copy of the repository/);
});

test("the update chapter's sed changes the speed axis's size, and nothing else, in our page's style", async () => {
  const style = await readFile(path.join(root, 'src/webui/client/style.css'), 'utf8');
  const { stdout } = await execa('sed', ['s/16px/50px/', 'src/webui/client/style.css'], { cwd: root });
  const changed = stdout.split('\n').filter((line, i) => line !== style.split('\n')[i]);
  assert.deepEqual(changed, ['  --speed-axis-font: 50px system-ui, sans-serif;']);
});
