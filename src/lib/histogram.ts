// prom-client histograms observed in batches. rng and hasher answer tens of thousands of
// requests a second at delay 0, and one prom-client observe() made in each request cost them
// about a sixth of their CPU per request, many times what the same calls cost made one after
// the other (bench/README.md, "Profile"). So an observation is queued, and the queue is applied
// every BATCH_SIZE observations and before every scrape: /metrics always shows all of them.
import { Histogram, type HistogramConfiguration } from 'prom-client';

const BATCH_SIZE = 1024;

type Observe = (value: number) => void;

export interface QueuedHistogram<T extends string> {
  readonly histogram: Histogram<T>;
  /** The series of these label values, in labelNames' order: calling it queues an observation. */
  series(...labelValues: string[]): Observe;
  /** Removes a series; its queued observations are applied first, so none of them brings it back. */
  remove(...labelValues: string[]): void;
}

export function queuedHistogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'collect'>): QueuedHistogram<T> {
  const targets: Observe[] = [];
  const values: number[] = [];
  const apply = () => {
    for (let i = 0; i < targets.length; i++) targets[i]!(values[i]!);
    targets.length = 0;
    values.length = 0;
  };
  const histogram = new Histogram<T>({ ...config, collect: apply });
  const series = new Map<string, Observe>();
  return {
    histogram,
    series(...labelValues) {
      const key = labelValues.join('\0');
      let queue = series.get(key);
      if (!queue) {
        const child = histogram.labels(...labelValues);
        const target: Observe = (value) => child.observe(value);
        queue = (value) => {
          targets.push(target);
          values.push(value);
          if (targets.length >= BATCH_SIZE) apply();
        };
        series.set(key, queue);
      }
      return queue;
    },
    remove(...labelValues) {
      apply();
      series.delete(labelValues.join('\0'));
      histogram.remove(...labelValues);
    },
  };
}
