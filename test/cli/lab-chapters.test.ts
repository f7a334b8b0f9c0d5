// `dockercoins lab --list` and `lab all --dry-run`: the chapters in the workshop's order
// (../shared/workshop/README.md), each one's cheat sheet in turn; --coach refused where a step
// cannot be watched. No Docker.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { buildFiles } from '../../src/cli/lab/update-chapter.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';

const cli = (...args: string[]) => execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', ...args], { env: { NODE_IMAGE: '', REDIS_IMAGE: '', REGISTRY_IMAGE: '', DEBIAN_IMAGE: '' } });
/** The Swarm track's order (container.training's swarm.yml), by the pages each chapter covers. */
const workshopOrder = ['sampleapp', 'composescale', 'hastyconclusions', 'composedown', 'ourapponswarm', 'hostingregistry', 'testingregistry', 'btp-manual', 'swarmready', 'stacks', 'netshoot', 'ipsec', 'updatingservices', 'rollingupdates', 'healthchecks', 'logging', 'metrics', 'stateful'];

test('lab --list: every chapter with its workshop pages, in the workshop order', async () => {
  const { stdout } = await cli('--list');
  const names = [...stdout.matchAll(/^ *\d+\. (\S+)/gm)].map((m) => m[1]);
  // The eleven chapters of the Swarm track that use DockerCoins, written here rather than read from the code under test.
  assert.deepEqual(names, ['compose', 'swarm', 'stacks', 'netshoot', 'ipsec', 'update', 'rolling', 'healthcheck', 'logging', 'metrics', 'stateful'], stdout);
  const pages = [...stdout.matchAll(/workshop: (.*)$/gm)].flatMap((m) => m[1]!.split(', '));
  assert.equal(pages.length, new Set(pages).size, 'no page in two chapters');
  const positions = pages.map((p) => workshopOrder.indexOf(p));
  assert.ok(positions.every((p) => p >= 0), `unknown pages: ${pages.filter((p) => !workshopOrder.includes(p)).join(', ')}`);
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `pages out of the workshop's order: ${pages.join(', ')}`);
});

test('lab all --dry-run: every chapter\'s cheat sheet, in the order of --list', async () => {
  const list = (await cli('--list')).stdout;
  const names = [...list.matchAll(/^ *\d+\. (\S+)/gm)].map((m) => m[1]!);
  const { stdout } = await cli('all', '--dry-run');
  const positions: number[] = [];
  for (const name of names) positions.push(stdout.indexOf((await cli(name, '--dry-run')).stdout));
  assert.ok(positions.every((p) => p >= 0), `lab all --dry-run holds every chapter's own --dry-run (${names.join(', ')})`);
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'in the order of --list');
});

test('lab <chapter> --coach where a step cannot be checked by watching: exit 1, one line naming the step and why, before any look at Docker', async () => {
  const { exitCode, stdout, stderr } = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', 'update', '--coach'], { reject: false, env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
  assert.equal(exitCode, 1);
  assert.equal(stdout, '');
  assert.equal(stderr.trim(), 'lab update --coach: the coach cannot check by watching 2. Change the code (it reads the file in the copy the lab makes ($COPY)); run the chapter instead (lab update)');
});

for (const other of [['--dry-run'], ['--report', 'r.json']]) {
  test(`lab swarm --coach ${other[0]}: exit 1, one line, before any look at Docker (the coach prints no sheet, writes no report)`, async () => {
    const { exitCode, stdout, stderr } = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', 'swarm', '--coach', ...other], { reject: false, env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    assert.equal(exitCode, 1);
    assert.equal(stdout, '');
    assert.equal(stderr.trim(), `error: option '--coach' cannot be used with option '${other[0]}${other[0] === '--report' ? ' <file>' : ''}'`);
  });
}

test("the update chapter's copy holds every file the Dockerfile copies from the repository", async () => {
  const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
  assert.ok(sources.length > 0, 'the Dockerfile copies from the repository');
  for (const source of sources) assert.ok(buildFiles.includes(source.split('/')[0]!), `${source}: not in the update chapter's copy`);
});
