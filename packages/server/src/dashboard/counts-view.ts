import type { Stats } from './api.js';
import { h } from './dom.js';

/** The live counts: one row per policy with live sessions (active, warning, total), then the sum. */
export function renderCounts(table: HTMLTableElement, summary: HTMLElement, stats: Stats): void {
  // Policies with nothing live (presets nobody uses) would bury the ones that matter.
  const rows = stats.live.byPolicy
    .filter(({ active, warning }) => active + warning > 0)
    .map(({ policy, active, warning }) =>
      h('tr', {}, h('th', { scope: 'row' }, policy), cell(active), cell(warning), cell(active + warning)),
    );
  const active = stats.live.byPolicy.reduce((sum, row) => sum + row.active, 0);
  const warning = stats.live.byPolicy.reduce((sum, row) => sum + row.warning, 0);
  table.replaceChildren(
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Policy'),
        h('th', { scope: 'col' }, 'Active'),
        h('th', { scope: 'col' }, 'Warning'),
        h('th', { scope: 'col' }, 'Total'),
      ),
    ),
    h('tbody', {}, ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 4 }, 'No live session.'))])),
    h(
      'tfoot',
      {},
      h('tr', {}, h('th', { scope: 'row' }, 'All'), cell(active), cell(warning), cell(stats.live.total)),
    ),
  );
  const { heartbeats, created } = stats.totals;
  const ended = Object.values(stats.totals.ended).reduce((sum, n) => sum + n, 0);
  summary.textContent =
    `${stats.live.total} live · since ${new Date(stats.startedAt).toLocaleString()}: ${created} created, ` +
    `${heartbeats.active + heartbeats.sleeping} heartbeats, ${ended} ended`;
}

function cell(value: number): HTMLTableCellElement {
  return h('td', {}, String(value));
}
