// The chapters that operate the running app (netshoot, rolling, healthcheck, stateful) without
// a Swarm: each one's cheat sheet from the real CLI, its commands pinned in their order
// (lab-operate-sheets.json); ab's output as netshoot reads it; the web UI watched across a
// change. What a failed chapter undoes is in lab-script.test.ts; the real runs in test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parseAb } from '../../src/cli/lab/netshoot-chapter.js';
import { webuiWatch } from '../../src/cli/lab/app-watch.js';
import type { LabOptions } from '../../src/cli/lab/options.js';
import type { Action, Play } from '../../src/cli/lab/script.js';
import { sleep } from '../../src/lib/sleep.js';
import { waitUntil } from '../../src/lib/wait.js';
import type { Docker } from '../../src/cli/swarm.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';

const dryRun = async (chapter: string, ...args: string[]) => {
  const { stdout, exitCode } = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', chapter, '--dry-run', ...args], { env: { NODE_IMAGE: '', REDIS_IMAGE: '', REGISTRY_IMAGE: '', DEBIAN_IMAGE: '' } });
  assert.equal(exitCode, 0);
  // Where each runs (`   # in stacks/`) is pinned by lab-script.test.ts; the commands, here.
  const commands = stdout.split('\n').filter((line) => /^(CID=\$\()?([A-Z_]+=\S+ )*docker /.test(line));
  return { stdout, commands: commands.map((line) => line.replace(/ {3}# .*$/, '')) };
};

const appFirst = ['TAG=v1 docker stack deploy -c dockercoins.yml dockercoins', 'docker stack services dockercoins'];

/** Each chapter's commands after the stack's, and a line of what it prints (lab-operate-sheets.json). */
const sheets = JSON.parse(await readFile(new URL('lab-operate-sheets.json', import.meta.url), 'utf8')) as Record<string, { title: string; commands: string[]; prints: string }>;
for (const [chapter, { title, commands: expected, prints }] of Object.entries(sheets)) {
  test(`${chapter}: ${title}`, async () => {
    const { stdout, commands } = await dryRun(chapter, '--context', '.');
    assert.deepEqual(commands, [...appFirst, ...expected]);
    assert.match(stdout, new RegExp(prints));
  });
}

test('netshoot --endpoint-mode dnsrr: the no-IPVS override; --debian-image is the debug image base', async () => {
  const { commands } = await dryRun('netshoot', '--endpoint-mode', 'dnsrr', '--debian-image', 'local/debian:bookworm', '--redis-image', 'r:7');
  assert.equal(commands[0], 'TAG=v1 REDIS_IMAGE=r:7 docker stack deploy -c dockercoins.yml -c no-ipvs.yml dockercoins');
  assert.match(commands[2]!, /^docker build --build-arg DEBIAN_IMAGE=local\/debian:bookworm /);
});

test("parseAb reads ab's counts and times; a run with errors counts them as failed", () => {
  const output = [
    'Complete requests:      50',
    'Failed requests:        0',
    'Non-2xx responses:      2',
    'Time taken for tests:   5.123 seconds',
    'Time per request:       5123.000 [ms] (mean)',
    'Connection Times (ms)',
    '              min  mean[+/-sd] median   max',
    'Processing:   112 2481 1463.6   2531    4942',
    'Total:        113 2488 1462.0   2538    4947',
    '  99%    140',
    ' 100%    151 (longest request)',
  ].join('\n');
  assert.deepEqual(parseAb(output), { complete: 50, failed: 2, meanMs: 2488, longestMs: 151, totalSeconds: 5.123 });
  assert.throws(() => parseAb('ab: invalid URL'), /ab printed no 'Complete requests': ab: invalid URL/);
});

test('the web UI is watched while a step works, and no longer once the work failed', async (t) => {
  let polls = 0;
  const webui = createServer((_request, response) => {
    polls++;
    response.setHeader('content-type', 'application/json').end(JSON.stringify({ coins: 1, hashes: String(polls), now: polls }));
  }).listen(0, '127.0.0.1');
  t.after(() => webui.close());
  await once(webui, 'listening');
  const docker: Docker = async () => '';
  const options = { webuiUrl: `http://127.0.0.1:${(webui.address() as AddressInfo).port}`, timeoutSeconds: 10 } as LabOptions;
  const play: Play = { options, docker, signal: new AbortController().signal, progress() {}, vars: {}, out: {}, figures: {} };
  const measure = (a: Action) => (a.do === 'measure' ? a.measure(play) : Promise.reject(new Error(a.do)));

  const done = webuiWatch(50);
  await measure(done.start);
  const reading = await measure(done.stop('a change', () => waitUntil('3 polls', () => (polls >= 3 ? 'done' : undefined), { timeoutMs: 10_000, everyMs: 20 }), (seen, found) => ({ figure: found, values: { answers: seen.answers, failures: seen.failures } })));
  assert.equal(reading.figure, 'done');
  assert.ok(Number(reading.values!.answers) >= 2 && reading.values!.failures === 0, JSON.stringify(reading.values));

  const failed = webuiWatch(50);
  await measure(failed.start);
  await assert.rejects(measure(failed.stop('a change', () => sleep(250).then(() => Promise.reject(new Error('docker service rollback failed'))), () => ({}))), /rollback failed/);
  const after = polls;
  await sleep(500);
  assert.equal(polls, after, 'the watch stopped polling with the failure');
});
