// `dockercoins lab compose --dry-run` against the workshop's Compose pages (sampleapp,
// composescale, hastyconclusions, composedown). No Docker: the chapter runs in test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dryRun } from '../helpers/workshop.js';

test('lab compose --dry-run: the worker\'s logs without --follow, marked', async () => {
  const { commands } = await dryRun('compose');
  assert.match(commands.find((c) => c.command.startsWith('docker-compose logs'))!.departure!, /no --follow/);
});

test('lab compose --dry-run: other ports and base images are set in front of every docker-compose command, and marked', async () => {
  const { stdout, commands } = await dryRun('compose', '--port', '18000', '--rng-port', '18001', '--hasher-port', '18002', '--node-image', 'local/node:24', '--redis-image', 'local/redis:7');
  const prefixed = stdout.split('\n').filter((l) => !l.startsWith('#') && l.includes('docker-compose '));
  assert.equal(prefixed.length, 6);
  for (const line of prefixed) assert.ok(line.startsWith('WEBUI_PORT=18000 RNG_PORT=18001 HASHER_PORT=18002 NODE_IMAGE=local/node:24 REDIS_IMAGE=local/redis:7 docker-compose '), line);
  assert.match(commands[0]!.departure!, /other host ports.*other base images/);
  assert.match(stdout, /measure: GET \/ of rng \(localhost:18001\) and hasher \(localhost:18002\)/);
  assert.match(stdout, /wait: 10 worker containers running\n# {4}measure: .*about 10\.0 \(not 10×/);
  assert.match(stdout, /wait: 2 worker containers running\n# {4}measure: .*about 6\.7 \(twice one worker\)/);
});
