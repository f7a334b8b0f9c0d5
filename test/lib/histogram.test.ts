// queuedHistogram: observations queued, and every one of them in each scrape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { queuedHistogram } from '../../src/lib/histogram.js';
import { metricIn } from '../helpers/metrics.js';

const histogramIn = () => {
  const registry = new Registry();
  const calls = queuedHistogram({ name: 'calls_seconds', help: 'calls', labelNames: ['dependency', 'instance'] as const, buckets: [0.1, 1], registers: [registry] });
  return { registry, calls };
};

describe('queuedHistogram', () => {
  it('a scrape shows every observation queued before it, few or many', async () => {
    const { registry, calls } = histogramIn();
    calls.series('rng', 'a')(0.05);
    calls.series('rng', 'a')(0.5);
    calls.series('hasher', 'b')(2);
    let text = await registry.metrics();
    assert.equal(metricIn(text, 'calls_seconds_count', { dependency: 'rng', instance: 'a' }), 2);
    assert.equal(metricIn(text, 'calls_seconds_bucket', { dependency: 'rng', instance: 'a', le: '0.1' }), 1);
    assert.equal(metricIn(text, 'calls_seconds_sum', { dependency: 'hasher', instance: 'b' }), 2);
    const observe = calls.series('rng', 'a');
    for (let i = 0; i < 5000; i++) observe(0.01);
    text = await registry.metrics();
    assert.equal(metricIn(text, 'calls_seconds_count', { dependency: 'rng', instance: 'a' }), 5002);
  });

  it('a series removed with observations queued stays removed', async () => {
    const { registry, calls } = histogramIn();
    calls.series('rng', 'gone')(0.05);
    calls.series('rng', 'kept')(0.05);
    calls.series('rng', 'gone')(0.05);
    calls.remove('rng', 'gone');
    const text = await registry.metrics();
    assert.doesNotMatch(text, /instance="gone"/);
    assert.equal(metricIn(text, 'calls_seconds_count', { instance: 'kept' }), 1);
    calls.series('rng', 'gone')(0.5);
    assert.equal(metricIn(await registry.metrics(), 'calls_seconds_count', { instance: 'gone' }), 1, 'a new series of the same name starts from nothing');
  });
});
