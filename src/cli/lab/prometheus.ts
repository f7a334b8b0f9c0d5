// What the metrics chapter asks Prometheus, through its HTTP API (the page types the same
// queries in Prometheus' web UI): an instant query's series, and the scrape targets with their
// health. A query Prometheus refuses is a Failure; an answer that is not its JSON (a Prometheus
// still starting answers 503 in plain text) an Error, which a wait tries again: each one line.
import { z } from 'zod';
import { Failure } from '../../lib/wait.js';
import { fetchWithin } from '../swarm.js';

/** Prometheus' answer: its data, or why it refused. */
const answer = z.object({ status: z.enum(['success', 'error']), data: z.unknown().optional(), errorType: z.string().optional(), error: z.string().optional() });

const vector = z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })) });
const targetList = z.object({ activeTargets: z.array(z.object({ labels: z.record(z.string(), z.string()), health: z.string(), lastError: z.string() })) });

/** GET `path` of Prometheus at `url`: its data, once it answered success. */
async function get<T extends z.ZodType>(url: string, path: string, data: T, signal?: AbortSignal): Promise<z.infer<T>> {
  const at = new URL(path, url);
  const res = await fetchWithin(at, signal);
  const parsed = answer.safeParse(await res.json().catch(() => undefined));
  if (parsed.success && parsed.data.status === 'error') throw new Failure(`Prometheus refused ${at.href}: ${parsed.data.errorType}: ${parsed.data.error}`.replace(/\s+/g, ' '));
  const found = parsed.success ? data.safeParse(parsed.data.data) : parsed;
  if (!found.success) throw new Error(`GET ${at.href} answered ${res.status}, not Prometheus' JSON`);
  return found.data;
}

/** One series of an instant query's answer: its labels and its value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** An instant query (GET /api/v1/query): one sample per series. */
export async function query(url: string, promql: string, signal?: AbortSignal): Promise<Sample[]> {
  const data = await get(url, `/api/v1/query?${new URLSearchParams({ query: promql })}`, vector, signal);
  return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

/** An instant query whose answer is one number (a sum, a ratio); undefined when no series matched. */
export async function scalar(url: string, promql: string, signal?: AbortSignal): Promise<number | undefined> {
  const [sample, ...more] = await query(url, promql, signal);
  if (more.length) throw new Failure(`${promql}: ${more.length + 1} series, expected one`);
  return sample?.value;
}

/** The scrape targets (GET /api/v1/targets): their job, whether the last scrape worked, its error. */
export async function targets(url: string, signal?: AbortSignal): Promise<{ job: string; up: boolean; lastError: string }[]> {
  const data = await get(url, '/api/v1/targets?state=active', targetList, signal);
  return data.activeTargets.map((t) => ({ job: t.labels.job ?? '', up: t.health === 'up', lastError: t.lastError }));
}
