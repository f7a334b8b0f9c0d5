// A SIGTERM storm: workers killed and restarted at random while they work flat out.
// Every unit a worker says it did must be in Redis, none lost, whatever the timing.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { startService, workerShutdownMs, type ServiceProcess } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';

const WORKERS = 4;
const KILLS = 20;
const fast = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', WORK_DELAY_MS: '0' };
// rng and hasher log every request: at full speed, parsing those would load the test itself.
const quiet = { ...fast, LOG_LEVEL: 'warn' };

const finalLines = (workers: ServiceProcess[]) => workers.flatMap((w) => w.logs.filter((l) => l.msg.startsWith('worker stopped')));

it(`SIGTERM storm: ${KILLS} random worker kills and restarts; counter == units reported, 0 lost`, { timeout: 90_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (FAULT_SEED=${seed} replays this schedule)`);
  const schedule = fc.sample(fc.record({ worker: fc.nat(WORKERS - 1), afterMs: fc.integer({ min: 50, max: 300 }) }), { seed, numRuns: KILLS });

  const rng = await startService(t, 'rng', quiet);
  const hasher = await startService(t, 'hasher', quiet);
  const env = { ...fast, RNG_URL: rng.url, HASHER_URL: hasher.url, REDIS_URL: redis.url, UPSTREAM_CONNECTIONS: 'keep-alive' };
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => startService(t, 'worker', { ...env, INSTANCE_NAME: `storm-${i + 1}` })),
  );

  const shutdownMs: number[] = [];
  for (const { worker, afterMs } of schedule) {
    await delay(afterMs);
    const proc = workers[worker]!;
    const exit = await proc.stop('SIGTERM');
    // Exit code 0 also means the worker met its own shutdown deadline, by its own timer (it
    // exits 1 past it, src/lib/signals.ts): the test's pace does not enter into it.
    assert.equal(exit.code, 0, `${proc.name} storm-${worker + 1} exit code`);
    shutdownMs.push(await workerShutdownMs(proc));
    await proc.restart();
  }
  await delay(500);
  const exits = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
  assert.ok(exits.every((e) => e.code === 0));

  const lines = finalLines(workers);
  assert.equal(lines.length, KILLS + WORKERS, 'one final line per worker process');
  assert.deepEqual(lines.filter((l) => l.notSaved !== 0 || l.unknown !== 0), [], 'no process lost units');
  const reported = lines.reduce((sum, l) => sum + (l.units as number), 0);
  assert.ok(reported > 1000, `the workers did ${reported} units`);
  assert.equal(Number(await redis.client.get('hashes')), reported, 'Redis counter == sum of the units reported');
  t.diagnostic(`SIGTERM to 'worker stopped': max ${Math.max(...shutdownMs)} ms, median ${shutdownMs.sort((a, b) => a - b)[KILLS >> 1]} ms`);
  t.diagnostic(`${KILLS + WORKERS} worker processes: ${reported} units reported, all counted, 0 lost`);
});
