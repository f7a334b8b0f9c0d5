// The instance names that label the worker's call metrics and reports come from its peers (their
// X-Instance header): left unbounded, a peer naming itself anew on each answer, or container
// churn on a long-running Swarm, grows /metrics without end. So each dependency tracks at most
// MAX_INSTANCES names, further ones are counted as "other", and a name not seen for IDLE_MS is
// dropped, its series with it.

export const MAX_INSTANCES = 32;
const IDLE_MS = 60_000;
export const OTHER = 'other';
/** Longest name kept (INSTANCE_NAME's own limit); a longer header is cut. */
const MAX_NAME_LENGTH = 100;

interface InstanceLabelsOptions {
  max?: number;
  idleMs?: number;
  /** Called for each name dropped, to remove its series. */
  onDrop: (dependency: string, instance: string) => void;
  now?: () => number;
}

export class InstanceLabels {
  private readonly lastSeen = new Map<string, Map<string, number>>();
  private sweptAt: number;
  private readonly max: number;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: InstanceLabelsOptions) {
    this.max = options.max ?? MAX_INSTANCES;
    this.idleMs = options.idleMs ?? IDLE_MS;
    this.now = options.now ?? Date.now;
    this.sweptAt = this.now();
  }

  /** The label to record a call to `instance` of `dependency` under. */
  label(dependency: string, instance: string): string {
    const now = this.now();
    if (now - this.sweptAt >= this.idleMs / 4) this.sweep(now);
    let seen = this.lastSeen.get(dependency);
    if (!seen) this.lastSeen.set(dependency, (seen = new Map()));
    const name = instance.slice(0, MAX_NAME_LENGTH);
    const label = seen.has(name) || seen.size < this.max ? name : OTHER;
    seen.set(label, now);
    return label;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [dependency, seen] of this.lastSeen) {
      for (const [instance, at] of seen) {
        if (now - at < this.idleMs) continue;
        seen.delete(instance);
        this.options.onDrop(dependency, instance);
      }
    }
  }
}
