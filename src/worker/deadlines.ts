// Each call's deadline, kept by one timer for all the calls in flight instead of a timer per
// call (the worker's per-call CPU: bench/README.md). Calls share one timeout and are added as
// they start, so the oldest expires first: the timer is set for it; when it fires, it ends the
// calls past their deadline and is set again for the oldest left, if any. A call that ends in
// time only leaves the set.

export interface Expiring {
  /** performance.now() after which the call has failed. */
  expiresAt: number;
  expire(): void;
  /** Ends the call now with `err`: its upstream is closing. */
  cancel(err: Error): void;
}

export class Deadlines {
  private readonly inFlight = new Set<Expiring>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly ms: number) {}

  /** Starts `call`'s deadline: it expires `ms` from now unless removed first. */
  add(call: Expiring): void {
    call.expiresAt = performance.now() + this.ms;
    this.inFlight.add(call);
    this.timer ??= setTimeout(() => this.sweep(), this.ms);
  }

  remove(call: Expiring): void {
    this.inFlight.delete(call);
  }

  /** Ends every call in flight: none may outlive its upstream's close (nor wait for its deadline). */
  close(): void {
    clearTimeout(this.timer);
    const calls = [...this.inFlight];
    this.inFlight.clear();
    for (const call of calls) call.cancel(new Error('closed'));
  }

  private sweep(): void {
    const now = performance.now();
    for (const call of this.inFlight) {
      if (call.expiresAt > now) break;
      this.inFlight.delete(call);
      call.expire();
    }
    const oldest = this.inFlight.values().next().value;
    // A timer may fire a little early by this clock: at least 1 ms more, not a busy loop.
    this.timer = oldest ? setTimeout(() => this.sweep(), Math.max(1, Math.ceil(oldest.expiresAt - now))) : undefined;
  }
}
