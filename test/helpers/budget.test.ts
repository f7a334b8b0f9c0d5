// withinBudget: once the budget is spent no run starts, and the run in progress is never cut
// off, so a run that fails after the budget still fails the property (fast-check's own time
// limit would count it a success).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { withinBudget } from './budget.js';

// Each run outlasts the budget (a lower bound: a loaded machine only makes it longer).
const BUDGET_MS = 2000;
const outlast = () => delay(BUDGET_MS + 100);

it('a run still going when the budget ends is not cut off: its failure fails the property', async () => {
  // The first run passes at once; the second outlasts the budget, then fails.
  const budgeted = withinBudget(BUDGET_MS, async () => {
    if (budgeted.runs() === 1) return;
    await outlast();
    throw new Error('failed after the budget');
  });
  const result = await fc.check(fc.asyncProperty(fc.nat(), budgeted.run), { numRuns: 100 });
  assert.equal(result.failed, true);
  assert.match(String(result.errorInstance), /failed after the budget/);
  assert.equal(budgeted.runs(), 2);
});

it('once the budget is spent, no run starts and the runs end as a success', async () => {
  const budgeted = withinBudget(BUDGET_MS, outlast);
  const result = await fc.check(fc.asyncProperty(fc.nat(), budgeted.run), { numRuns: 10_000 });
  assert.equal(result.failed, false);
  assert.equal(result.interrupted, true);
  assert.equal(budgeted.runs(), 1);
});
