// The speed chart (uPlot): labels large enough for a projector, times on a 24-hour clock,
// gaps where there is no data (Redis or the web UI unreachable, the first seconds of a count).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SpeedHistory } from '../sampler.js';

const HISTORY_SECONDS = 5 * 60;
const HEIGHT = 240;
const FONT = '16px system-ui, sans-serif';

const twoDigits = (n: number) => String(n).padStart(2, '0');
/** 14:05 or, when the labels are less than a minute apart, 14:05:30. */
export const clock = (unixSeconds: number, seconds = true) => {
  const d = new Date(unixSeconds * 1000);
  const hm = `${twoDigits(d.getHours())}:${twoDigits(d.getMinutes())}`;
  return seconds ? `${hm}:${twoDigits(d.getSeconds())}` : hm;
};

export class SpeedChart {
  private history: SpeedHistory = [[], []];
  private readonly plot: uPlot;

  constructor(private readonly box: HTMLElement) {
    // From the page's style, where one sed changes it (style.css); the axis widens with it.
    const speedFont = getComputedStyle(box).getPropertyValue('--speed-axis-font').trim() || FONT;
    const speedPx = parseFloat(speedFont) || 16;
    this.plot = new uPlot(
      {
        width: box.clientWidth,
        height: HEIGHT,
        cursor: { show: false },
        legend: { show: false },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        series: [{}, { stroke: '#1d6fa5', width: 3, fill: 'rgba(29,111,165,0.12)', points: { show: false } }],
        axes: [
          {
            font: FONT,
            size: 36,
            space: 90,
            stroke: '#14213d',
            values: (_u, splits) => {
              const step = splits.length > 1 ? splits[1]! - splits[0]! : 60;
              return splits.map((s) => clock(s, step % 60 !== 0));
            },
          },
          { font: speedFont, size: Math.ceil(speedPx * 3.5), space: Math.max(40, speedPx * 2), stroke: '#14213d' },
        ],
      },
      this.history,
      box,
    );
    new ResizeObserver(() => this.plot.setSize({ width: box.clientWidth, height: HEIGHT })).observe(box);
  }

  replace(history: SpeedHistory): void {
    this.history = history;
    this.plot.setData(history);
  }

  /** Adds a point, at most one a second (as the server's history has them). */
  add(unixSeconds: number, speed: number | null): void {
    const [times, speeds] = this.history;
    if (times.length > 0 && Math.floor(times.at(-1)!) === Math.floor(unixSeconds)) return;
    times.push(unixSeconds);
    speeds.push(speed);
    const expired = times.findIndex((t) => t >= unixSeconds - HISTORY_SECONDS);
    if (expired > 0) {
      times.splice(0, expired);
      speeds.splice(0, expired);
    }
    this.plot.setData(this.history);
  }
}
