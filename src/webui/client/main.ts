// The dashboard page: listens to /events (the whole dashboard on connecting, then what
// changed, from the webui's one sampler) and shows it. All figures are computed on the
// server (src/webui/dashboard.ts); the page adds only what it alone knows: whether it can
// still hear the web UI, and times in the viewer's time zone.
import './style.css';
import type { Dashboard } from '../dashboard.js';
import type { SpeedHistory } from '../sampler.js';
import { clock, SpeedChart } from './chart.js';

/** No message for this long (one comes twice a second): the web UI is unreachable. */
const SILENCE_MS = 4000;
/** The screen reader hears the speed at most this often, unless the state changes. */
const ANNOUNCE_EVERY_MS = 10_000;

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const view = {
  speed: element('speed'),
  speedDetail: element('speed-detail'),
  coins: element('coins'),
  hashes: element('hashes'),
  hashesDetail: element('hashes-detail'),
  status: element('status'),
  connection: element('connection'),
  instances: element<HTMLTableElement>('instances').tBodies[0]!,
  recentCoins: element('recent-coins'),
  announce: element('announce'),
};
const chart = new SpeedChart(element('chart'));

const rate = (value: number) => value.toFixed(1);
const whole = (value: number | null) => (value === null ? '—' : value.toLocaleString('en'));

let current: Dashboard | undefined;
let connected = false;
let lastMessageAt = 0;

/** Changes the text only when it differs. */
function setText(target: HTMLElement, text: string): void {
  if (target.textContent !== text) target.textContent = text;
}

/** The state the page is in, and its sentence where the bottleneck's goes. */
function statusOf(d: Dashboard | undefined): { kind: string; text: string } {
  const asOf = d ? ` Figures are from ${clock((d.redis.lastGoodAt ?? d.at) / 1000)}.` : '';
  if (!connected) return { kind: 'webui-down', text: `The web UI is unreachable; reconnecting…${asOf}` };
  if (!d) return { kind: 'connecting', text: 'Connecting to the web UI…' };
  if (d.redis.downSince !== null) {
    return {
      kind: 'redis-down',
      text: `Redis is unreachable since ${clock(d.redis.downSince / 1000)}. Workers keep their counts and save them when it is back.${d.redis.lastGoodAt ? ` Figures are from ${clock(d.redis.lastGoodAt / 1000)}.` : ''}`,
    };
  }
  return d.status;
}

function render(): void {
  const d = current;
  const status = statusOf(d);
  setText(view.status, status.text);
  view.status.className = `status ${status.kind}`;
  document.body.classList.toggle('offline', !connected);
  document.body.classList.toggle('stale', d?.redis.downSince != null);
  setText(view.connection, !connected ? 'Reconnecting…' : d?.redis.downSince != null ? 'Stale: Redis unreachable' : 'Live');
  if (!d) return;
  setText(view.speed, d.speed === null ? '…' : rate(d.speed));
  setText(view.speedDetail, speedDetail(d));
  setText(view.coins, whole(d.coins));
  setText(view.hashes, whole(d.hashes));
  const reset = d.counterReset;
  setText(
    view.hashesDetail,
    reset ? `The counter went down from ${whole(reset.from)} to ${whole(reset.to)} at ${clock(reset.at / 1000)}: Redis lost its data, or something else wrote it.` : '',
  );
  showInstances(d);
  view.recentCoins.replaceChildren(
    ...d.recentCoins.map((coin) => {
      const item = document.createElement('li');
      const hex = document.createElement('code');
      hex.textContent = `${coin.hex}…`;
      item.append(hex, ` ${coin.at === null ? 'earlier' : clock(coin.at / 1000)}`);
      return item;
    }),
  );
  announce(status, d);
}

function speedDetail(d: Dashboard): string {
  if (d.unreported === null) return 'measuring…';
  const workers = `${d.workers.count} worker${d.workers.count === 1 ? '' : 's'}`;
  if (d.unreported === 0) return d.workers.count > 0 ? `from ${workers}` : '';
  const others = `${rate(d.unreported)} hashes/s from workers that do not report`;
  return d.workers.count > 0 ? `${rate(d.reported)} from ${workers} + ${others}` : others;
}

function showInstances(d: Dashboard): void {
  const rows: HTMLTableRowElement[] = [];
  const row = (cells: string[], className = '', header = false) => {
    const tr = document.createElement('tr');
    tr.className = className;
    for (const text of cells) {
      const cell = document.createElement(header ? 'th' : 'td');
      if (header) (cell as HTMLTableCellElement).scope = 'rowgroup';
      if (cells.length === 1) (cell as HTMLTableCellElement).colSpan = 4;
      cell.textContent = text;
      tr.append(cell);
    }
    rows.push(tr);
  };
  for (const kind of ['rng', 'hasher'] as const) {
    const dependency = d[kind];
    const busy = d.status.kind === 'bottleneck' && d.status.text.startsWith(`${kind} `) ? 'busy' : '';
    const share = dependency.instances.length > 0 ? `, ${dependency.percent}% of the workers' time` : '';
    row([`${kind} (${dependency.instances.length})${share}`], 'group', true);
    for (const i of dependency.instances) row([i.name, rate(i.rate), String(i.meanMs), String(i.maxMs)], busy);
  }
  row([`Workers (${d.workers.count}), hashes/s each`], 'group', true);
  if (d.workers.rows.length > 0) for (const w of d.workers.rows) row([w.name, rate(w.rate), '', '']);
  else row([d.workers.summary], 'summary');
  if (d.workers.shared) row([d.workers.shared], 'summary');
  if (d.unreported) row([`${rate(d.unreported)} hashes/s from workers that do not report`], 'summary');
  view.instances.replaceChildren(...rows);
}

/** Live figures for screen readers, at a humane pace: a new state at once, the speed every 10 s at most. */
const announced = { kind: '', at: 0, speed: null as number | null };
function announce(status: { kind: string; text: string }, d: Dashboard): void {
  const now = Date.now();
  if (status.kind !== announced.kind) {
    announced.kind = status.kind;
    if (announced.at > 0 || status.kind !== 'normal') setText(view.announce, status.text);
    announced.at = now;
    return;
  }
  if (d.speed === null || now - announced.at < ANNOUNCE_EVERY_MS || d.speed === announced.speed) return;
  announced.at = now;
  announced.speed = d.speed;
  setText(view.announce, `Mining speed ${rate(d.speed)} hashes per second.`);
}

let events: EventSource | undefined;
function connect(): void {
  events?.close();
  const source = new EventSource('events');
  events = source;
  const heard = () => {
    lastMessageAt = Date.now();
    connected = true;
  };
  source.addEventListener('history', (event) => {
    heard();
    chart.replace(JSON.parse((event as MessageEvent<string>).data) as SpeedHistory);
  });
  source.addEventListener('dashboard', (event) => {
    heard();
    current = JSON.parse((event as MessageEvent<string>).data) as Dashboard;
    render();
  });
  source.addEventListener('change', (event) => {
    heard();
    // A page that connected before the first sample gets it whole here: nothing was sent before.
    current = { ...current, ...(JSON.parse((event as MessageEvent<string>).data) as Partial<Dashboard>) } as Dashboard;
    chart.add(current.at / 1000, current.redis.downSince === null ? current.speed : null);
    render();
  });
  source.addEventListener('error', () => {
    connected = false;
    render();
    // EventSource retries by itself, unless the answer was not a stream: then start anew.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  });
}
connect();

// A web UI that stops answering without closing the stream (paused, network gone) is silent.
setInterval(() => {
  if (connected && Date.now() - lastMessageAt > SILENCE_MS) {
    connected = false;
    render();
    connect();
  }
}, 1000);
