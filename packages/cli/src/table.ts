import { formatDuration } from '@vigil/core';

/**
 * A plain-text table: a header row, then one row per item, columns padded to their widest cell
 * (numbers right-aligned), two spaces apart. Cells are used as they are: nothing is cut, so an id
 * can be copied from the output whole.
 */
export function formatTable(
  headers: string[],
  rows: string[][],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const widths = headers.map((header, column) =>
    Math.max([...header].length, ...rows.map((row) => [...(row[column] ?? '')].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => {
        const pad = ' '.repeat((widths[column] ?? 0) - [...cell].length);
        return rightAligned.has(column) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A time as `2025-01-31 14:05:09 UTC`-style text without the zone (headers say UTC). */
export function utc(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** A duration to the second: `1m59s`, `0s`. */
export function seconds(ms: number): string {
  return formatDuration(Math.max(0, Math.floor(ms / 1000)) * 1000);
}
