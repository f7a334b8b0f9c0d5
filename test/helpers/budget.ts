// A time budget for generated runs that do I/O. fast-check's own time limit races the run in
// progress and counts it a success when cut off, so a run that hangs would pass. Here, once
// the budget is spent no new run starts; the run in progress ends under its own bounds.
import fc from 'fast-check';

export interface Budgeted<A extends unknown[]> {
  /** The predicate to hand fast-check: `predicate` while time is left, then the end of the runs. */
  run: (...args: A) => Promise<void>;
  /** Runs that started, the only ones that checked anything. */
  runs: () => number;
}

export function withinBudget<A extends unknown[]>(ms: number, predicate: (...args: A) => Promise<unknown>): Budgeted<A> {
  const ends = performance.now() + ms;
  let runs = 0;
  return {
    run: async (...args: A) => {
      // fast-check's own way to end the runs early, as a success: an interrupting precondition.
      if (performance.now() >= ends) throw new fc.PreconditionFailure(true);
      runs += 1;
      await predicate(...args);
    },
    runs: () => runs,
  };
}
