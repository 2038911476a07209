import type uPlot from 'uplot';
import type { Stats } from './api.js';

/** uPlot is loaded by its own script tag (`/dashboard/uplot.js`), as a global: no bundler here. */
type UPlotConstructor = typeof uPlot;

function uPlotGlobal(): UPlotConstructor | undefined {
  return (globalThis as { uPlot?: UPlotConstructor }).uPlot;
}

const HEIGHT = 220;
/** Ticks for counts: whole numbers only (no "0.5 ends"). */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

/**
 * Heartbeats and session ends over the last hour, from `/v1/stats`' `recent` buckets. Heartbeats
 * have the left axis and ends the right one: there are often a hundred times more heartbeats.
 * The text summary under the chart says the same for people who do not see it.
 */
export class ActivityChart {
  readonly #container: HTMLElement;
  readonly #summary: HTMLElement;
  #plot: uPlot | null = null;
  readonly #onResize = () => this.#plot?.setSize({ width: this.#width(), height: HEIGHT });

  constructor(container: HTMLElement, summary: HTMLElement) {
    this.#container = container;
    this.#summary = summary;
    window.addEventListener('resize', this.#onResize);
  }

  update(stats: Stats): void {
    const { from, bucketMs, heartbeats, expired, revoked } = stats.recent;
    const start = Date.parse(from);
    // uPlot's time axis counts in seconds.
    const times = heartbeats.map((_, i) => (start + i * bucketMs) / 1000);
    const data: uPlot.AlignedData = [times, heartbeats, expired, revoked];
    const sum = (values: number[]) => values.reduce((total, n) => total + n, 0);
    this.#summary.textContent =
      `Last hour, per ${bucketMs / 1000} s: ${sum(heartbeats)} heartbeats, ` +
      `${sum(expired)} sessions expired, ${sum(revoked)} ended otherwise (revoked, logout…).`;

    if (this.#plot !== null) {
      this.#plot.setData(data);
      return;
    }
    const UPlot = uPlotGlobal();
    if (UPlot === undefined) {
      this.#container.textContent = 'The chart library (uPlot) did not load.';
      return;
    }
    this.#plot = new UPlot(
      {
        width: this.#width(),
        height: HEIGHT,
        scales: {
          x: { time: true },
          heartbeats: { range: (_u, _min, max) => [0, Math.max(5, max)] },
          ends: { range: (_u, _min, max) => [0, Math.max(2, max)] },
        },
        series: [
          {},
          {
            label: 'Heartbeats',
            scale: 'heartbeats',
            stroke: '#2563eb',
            fill: 'rgba(37, 99, 235, 0.12)',
            width: 1.5,
          },
          { label: 'Expired', scale: 'ends', stroke: '#dc2626', width: 1.5 },
          { label: 'Ended otherwise', scale: 'ends', stroke: '#d97706', width: 1.5 },
        ],
        axes: [
          {},
          { scale: 'heartbeats', label: 'heartbeats', incrs: COUNT_STEPS },
          { scale: 'ends', side: 1, label: 'ends', grid: { show: false }, incrs: COUNT_STEPS },
        ],
      },
      data,
      this.#container,
    );
  }

  destroy(): void {
    window.removeEventListener('resize', this.#onResize);
    this.#plot?.destroy();
    this.#plot = null;
    this.#container.replaceChildren();
  }

  #width(): number {
    return Math.max(240, this.#container.clientWidth);
  }
}
