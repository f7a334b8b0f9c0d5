// The services' stdout is written in batches: a line still reaches the reader by itself, within
// the batch's 100 ms, while the process stays alive (not only when it exits), and again after
// an idle spell.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const logOutput = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/lib/log-output.ts');

it('writes each line by itself while the process lives, after a pause too', { timeout: 20_000 }, async (t) => {
  // The child writes a line at start and one for each line it reads; its open stdin keeps it alive.
  const script = `
    import { batchedStdout } from ${JSON.stringify(logOutput)};
    const out = batchedStdout();
    out.write('first\\n');
    process.stdin.on('data', (chunk) => out.write(String(chunk)));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  const lineArrives = async (line: string) => {
    while (!stdout.includes(`${line}\n`)) {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      stdout += chunk;
    }
  };
  await lineArrives('first');
  // Past a whole batch time with nothing written, then one more line.
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.stdin.write('second\n');
  await lineArrives('second');
  assert.equal(child.exitCode, null, 'the lines came while the process was running, not at its exit');
  assert.equal(stdout, 'first\nsecond\n');
});
