import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseReport, WrongTypeError } from '../../src/lib/key-types.js';

const report = { worker: 'w', at: 1, intervalMs: 1000, units: 3, rng: {}, hasher: {} };

it('a report key holding JSON that is not a report is said as such, not read', () => {
  for (const value of ['null', '5', '"x"', '{}', '[]', JSON.stringify({ ...report, at: 'soon' }), JSON.stringify({ ...report, rng: null })]) {
    assert.throws(() => parseReport('dockercoins:worker:1', value), WrongTypeError, value);
  }
  assert.throws(() => parseReport('dockercoins:worker:1', 'not json'), /Redis key dockercoins:worker:1 holds "not json", not a worker report/);
  assert.deepEqual(parseReport('dockercoins:worker:1', JSON.stringify(report)), report);
});
