// Reads one value from a service's Prometheus /metrics.
export async function metricValue(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricIn(await (await fetch(`${baseUrl}/metrics`)).text(), name, labels, baseUrl);
}

/** One value from the text of a /metrics answer (an app's inject(), say). */
export function metricIn(text: string, name: string, labels: Record<string, string> = {}, where = 'the metrics'): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] === name && wanted.every((w) => match[2]?.includes(w))) return Number(match[3]);
  }
  throw new Error(`no metric ${name} ${wanted.join(',')} in ${where}`);
}
