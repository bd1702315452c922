/**
 * Output formats of `sluice read`: NDJSON (default; the stable machine format), CSV (RFC 4180, nested
 * values as JSON text) and an aligned text table for people.
 */
import type { JsonValue } from '../shared/delta/rows';
import { stringifyJson } from '../shared/delta/rows';

/** Formats `sluice read --format` accepts. */
export const READ_FORMATS = ['ndjson', 'csv', 'table'] as const;
/** One of READ_FORMATS. */
export type ReadFormat = (typeof READ_FORMATS)[number];

/** Writes rows in one format; `finish` flushes what a format holds back (the text table). */
export interface RowWriter {
  write(rows: Record<string, JsonValue>[]): void;
  finish(): void;
}

/**
 * Make a row writer.
 *
 * @param format the output format
 * @param columns column names in order
 * @param out where text goes (stdout)
 * @returns the writer
 */
export function rowWriter(format: ReadFormat, columns: string[], out: (text: string) => void): RowWriter {
  if (format === 'ndjson') {
    return { write: (rows) => out(rows.map((r) => stringifyJson(r) + '\n').join('')), finish: () => undefined };
  }
  if (format === 'csv') {
    out(columns.map(csvField).join(',') + '\r\n');
    return {
      write: (rows) => out(rows.map((r) => columns.map((c) => csvField(cellText(r[c], ''))).join(',') + '\r\n').join('')),
      finish: () => undefined,
    };
  }
  const held: string[][] = [];
  return {
    write: (rows) => rows.forEach((r) => held.push(columns.map((c) => cellText(r[c], 'NULL')))),
    finish: () => out(textTable(columns, held)),
  };
}

function cellText(value: JsonValue | undefined, nullText: string): string {
  if (value === null || value === undefined) return nullText;
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return stringifyJson(value);
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function textTable(columns: string[], rows: string[][]): string {
  const MAX = 40;
  const clip = (s: string) => (s.length > MAX ? s.slice(0, MAX - 1) + '…' : s).replace(/[\r\n\t]/g, ' ');
  const cells = rows.map((r) => r.map(clip));
  const widths = columns.map((c, i) => Math.max(clip(c).length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((s, i) => s.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(columns.map(clip)), rule, ...cells.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n') + '\n';
}
