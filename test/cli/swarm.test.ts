// dockerCli against a fake docker: a script that refuses its first calls as Swarm does when the
// service changed under the CLI ("update out of sequence"), or fails otherwise. fetchWithin
// against a real HTTP server that takes each request and never answers.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { DockerError, dockerCli, fetchWithin } from '../../src/cli/swarm.js';

/**
 * A fake docker that writes `stderr` and exits 1 on its first `failures` calls, then prints
 * "updated"; returns its path and the number of times it ran.
 */
async function fakeDocker(t: TestContext, failures: number, stderr: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-docker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const program = path.join(dir, 'docker');
  const calls = path.join(dir, 'calls');
  await writeFile(
    program,
    `#!/bin/sh
echo call >> '${calls}'
if [ "$(wc -l < '${calls}')" -le ${failures} ]; then echo '${stderr}' >&2; exit 1; fi
echo updated
`,
  );
  await chmod(program, 0o755);
  return { program, runs: async () => (await readFile(calls, 'utf8')).split('\n').filter(Boolean).length };
}

const outOfSequence = 'Error response from daemon: rpc error: code = Unknown desc = update out of sequence';

describe('dockerCli', () => {
  it('tries again a service update Swarm refused as out of sequence', async (t) => {
    const docker = await fakeDocker(t, 2, outOfSequence);
    assert.equal(await dockerCli(['service', 'update', '--image', 'x', 'hasher'], { program: docker.program }), 'updated');
    assert.equal(await docker.runs(), 3);
  });

  it('gives up after 5 more tries, with the refusal in one line', async (t) => {
    const docker = await fakeDocker(t, 10, outOfSequence);
    await assert.rejects(dockerCli(['service', 'update', 'hasher'], { program: docker.program }), (err: Error) => {
      assert.ok(err instanceof DockerError);
      assert.match(err.message, /service update hasher failed: .*update out of sequence$/);
      return true;
    });
    assert.equal(await docker.runs(), 6);
  });

  it('does not try again any other failure', async (t) => {
    const docker = await fakeDocker(t, 1, 'Error response from daemon: service hasher not found');
    await assert.rejects(dockerCli(['service', 'update', 'hasher'], { program: docker.program }), /service hasher not found/);
    assert.equal(await docker.runs(), 1);
  });
});

describe('fetchWithin', () => {
  /** A server on a free loopback port that reads each request and never answers it; its URL. */
  async function silentServer(t: TestContext) {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }
  /** A read that hangs fails its test at this timeout rather than stall the run. */
  const bounded = { timeout: 30_000 };

  it('gives up on a server that never answers, at its bound', bounded, async (t) => {
    const url = await silentServer(t);
    await assert.rejects(fetchWithin(url, undefined, 200), { name: 'TimeoutError' });
    await assert.rejects(fetchWithin(url, new AbortController().signal, 200), { name: 'TimeoutError' });
  });

  it("ends on the caller's signal before its bound", bounded, async (t) => {
    const url = await silentServer(t);
    const caller = new AbortController();
    const read = fetchWithin(url, caller.signal, 600_000);
    caller.abort();
    await assert.rejects(read, { name: 'AbortError' });
  });
});
