// What `dockercoins lab check` found, a row per cluster: the table on the terminal, the JSON
// report and one self-contained HTML page (inline CSS, no script, nothing fetched).

export interface StepResult {
  step: string;
  ok: boolean;
  seconds: number;
  /** What was measured, when it passed. */
  figure?: string;
  /** Why it failed, one line. */
  reason?: string;
  /** The command that failed (or was waited on), as a user would type it. */
  command?: string;
}

export interface ClusterResult {
  label: string;
  host: string;
  ok: boolean;
  seconds: number;
  steps: StepResult[];
}

export interface CheckReport {
  ok: boolean;
  /** ISO time the check started. */
  started: string;
  seconds: number;
  clusters: ClusterResult[];
}

/** The first failed step of a cluster, if any. */
export const failureOf = (c: ClusterResult) => c.steps.find((s) => !s.ok);

const verdict = (c: ClusterResult) => (c.ok ? 'passed' : `failed at ${failureOf(c)?.step ?? '?'}`);

/** The terminal's table: cluster, verdict, time, then the reason and command of each failure. */
export function renderTable(report: CheckReport): string {
  const rows = report.clusters.map((c) => [c.label, c.host, verdict(c), `${c.seconds.toFixed(1)} s`]);
  const head = ['CLUSTER', 'HOST', 'RESULT', 'TIME'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  for (const c of report.clusters) {
    for (const s of c.steps.filter((step) => !step.ok)) {
      out.push('', `${c.label} ✗ ${s.step}: ${s.reason ?? ''}`);
      if (s.command) out.push(`  command: ${s.command}`);
    }
  }
  const passed = report.clusters.filter((c) => c.ok).length;
  out.push('', `${passed} of ${report.clusters.length} cluster(s) passed in ${report.seconds.toFixed(1)} s`);
  return `${out.join('\n')}\n`;
}

export const renderJson = (report: CheckReport) => `${JSON.stringify(report, null, 2)}\n`;

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text as HTML text or attribute value. */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => escapes[ch]!);

const css = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.passed{color:#176317}.failed{color:#a31515}code{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
ol{margin:0;padding-left:1.2em}`;

function stepItem(s: StepResult): string {
  const mark = s.ok ? '✓' : '✗';
  const text = s.ok ? (s.figure ?? '') : (s.reason ?? '');
  const command = !s.ok && s.command ? `<br><code>${escapeHtml(s.command)}</code>` : '';
  return `<li class="${s.ok ? 'passed' : 'failed'}">${mark} <b>${escapeHtml(s.step)}</b> (${s.seconds.toFixed(1)} s): ${escapeHtml(text)}${command}</li>`;
}

/** One HTML page, everything inline. */
export function renderHtml(report: CheckReport): string {
  const passed = report.clusters.filter((c) => c.ok).length;
  const rows = report.clusters.map(
    (c) =>
      `<tr><td>${escapeHtml(c.label)}</td><td><code>${escapeHtml(c.host)}</code></td>` +
      `<td class="${c.ok ? 'passed' : 'failed'}">${escapeHtml(verdict(c))}</td><td>${c.seconds.toFixed(1)} s</td>` +
      `<td><ol>${c.steps.map(stepItem).join('')}</ol></td></tr>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DockerCoins class check</title><style>${css}</style></head>
<body><h1>DockerCoins class check</h1>
<p>${passed} of ${report.clusters.length} cluster(s) passed; started ${escapeHtml(report.started)}, ${report.seconds.toFixed(1)} s in all.</p>
<table><thead><tr><th>Cluster</th><th>Host</th><th>Result</th><th>Time</th><th>Steps</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></body></html>
`;
}
