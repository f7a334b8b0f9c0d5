// The dashboard page: listens to /events (one sample every 500 ms from the webui's shared
// sampler) and shows it. All figures are computed on the server (src/webui/dashboard.ts).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { Dashboard, DependencyModel } from '../dashboard.js';
import type { SpeedHistory } from '../sampler.js';

const HISTORY_SECONDS = 5 * 60;

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const speed = element('speed');
const coins = element('coins');
const hashes = element('hashes');
const workerCount = element('worker-count');
const bottleneck = element('bottleneck');
const timeSplit = element('time-split');
const connection = element('connection');
const instances = element<HTMLTableElement>('instances').tBodies[0]!;
const recentCoins = element('recent-coins');
const chartBox = element('chart');

const decimals = (value: number) => (value < 100 ? 1 : 0);
const format = (value: number | null, digits = decimals(value ?? 0)) =>
  value === null ? '—' : value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const history: SpeedHistory = [[], []];
const chart = new uPlot(
  {
    width: chartBox.clientWidth,
    height: 240,
    cursor: { show: false },
    legend: { show: false },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
    series: [{}, { label: 'hashes/s', stroke: '#1d6fa5', width: 3, fill: 'rgba(29,111,165,0.12)', points: { show: false } }],
    axes: [{}, { size: 60 }],
  },
  history,
  chartBox,
);
new ResizeObserver(() => chart.setSize({ width: chartBox.clientWidth, height: 240 })).observe(chartBox);

/** Changes the text only when it differs, so that live regions speak only of changes. */
function setText(target: HTMLElement, text: string): void {
  if (target.textContent !== text) target.textContent = text;
}

function show(dashboard: Dashboard): void {
  setText(speed, format(dashboard.speed));
  setText(coins, format(dashboard.coins, 0));
  setText(hashes, format(dashboard.hashes, 0));
  setText(workerCount, String(dashboard.workers.length));
  bottleneck.hidden = dashboard.bottleneck === null;
  setText(bottleneck, dashboard.bottleneck ?? '');
  setText(
    timeSplit,
    dashboard.workers.length > 0
      ? `Workers spend ${percent(dashboard.rng)} of their time waiting for rng, ${percent(dashboard.hasher)} for hasher.`
      : 'No worker has reported in the last few seconds.',
  );
  showInstances(dashboard);
  recentCoins.replaceChildren(
    ...dashboard.recentCoins.map((hex) => {
      const item = document.createElement('li');
      item.textContent = hex;
      return item;
    }),
  );
  setConnection(dashboard.error ?? null);
}

const percent = (dependency: DependencyModel) => `${Math.round(dependency.share * 100)}%`;

function showInstances(dashboard: Dashboard): void {
  const rows: HTMLTableRowElement[] = [];
  const group = (title: string) => {
    const row = document.createElement('tr');
    row.className = 'group';
    const cell = document.createElement('th');
    cell.scope = 'rowgroup';
    cell.colSpan = 4;
    cell.textContent = title;
    row.append(cell);
    rows.push(row);
  };
  const row = (cells: string[], busy = false) => {
    const tr = document.createElement('tr');
    if (busy) tr.className = 'busy';
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    rows.push(tr);
  };
  group(`Workers (${dashboard.workers.length}), hashes/s each`);
  for (const worker of dashboard.workers) row([worker.name, format(worker.rate), '', '']);
  for (const kind of ['rng', 'hasher'] as const) {
    const dependency = dashboard[kind];
    const busy = dashboard.bottleneck?.startsWith(`${kind} `) ?? false;
    group(`${kind} (${dependency.instances.length}), calls/s each`);
    for (const instance of dependency.instances) {
      row([instance.name, format(instance.rate), format(instance.meanMs, 0), format(instance.maxMs, 0)], busy);
    }
  }
  instances.replaceChildren(...rows);
}

function setConnection(problem: string | null): void {
  setText(connection, problem ?? 'Live');
  connection.classList.toggle('down', problem !== null);
}

function addPoint(dashboard: Dashboard): void {
  const [times, speeds] = history;
  times.push(dashboard.at / 1000);
  speeds.push(dashboard.speed);
  const expired = times.findIndex((t) => t >= dashboard.at / 1000 - HISTORY_SECONDS);
  if (expired > 0) {
    times.splice(0, expired);
    speeds.splice(0, expired);
  }
  chart.setData(history);
}

const events = new EventSource('events');
events.addEventListener('history', (event) => {
  const [times, speeds] = JSON.parse((event as MessageEvent<string>).data) as SpeedHistory;
  history[0] = times;
  history[1] = speeds;
  chart.setData(history);
});
events.addEventListener('dashboard', (event) => {
  const dashboard = JSON.parse((event as MessageEvent<string>).data) as Dashboard;
  show(dashboard);
  addPoint(dashboard);
});
// EventSource reconnects by itself; say so meanwhile.
events.addEventListener('error', () => setConnection('Connection to the web UI lost; reconnecting…'));
