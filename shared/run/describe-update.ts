/**
 * A table update in words, in the two shapes it is shown in: one log line (the `refreshTable`
 * activity logs it, in Azure and on the local host alike) and the block `sluice pipeline run` and
 * `sluice pipeline updates` print. Both are built from the same pieces, so they never disagree on
 * what a source version range or a row's fate is called.
 */
import type { TableUpdateMetrics } from '../refresh/types';

/** `pos_sales 1` for a first read, `pos_sales 1→2` otherwise. */
function sourceVersions(m: TableUpdateMetrics): string {
  return m.sources.map((s) => `${s.name} ${s.fromVersion < 0 ? '' : `${s.fromVersion}→`}${s.toVersion}`).join(', ');
}

/** Where the rows went: the terms of `inserted + updated + duplicates + filteredBySql + dropped + quarantined = rowsRead`. */
function rowFates(m: TableUpdateMetrics): string {
  return `${m.inserted} inserted, ${m.updated} updated, ${m.duplicates} duplicates, ${m.filteredBySql} filtered by the SQL, ${m.dropped} dropped, ${m.quarantined} quarantined${m.warned ? ` (${m.warned} kept with warnings)` : ''}`;
}

/**
 * One line: `silver.sales updated → version 1 (pos_sales 1): 11 rows read, 7 inserted, … (2116 ms)`.
 *
 * @param m the update's metrics
 * @returns the line (no newline)
 */
export function tableUpdateLine(m: TableUpdateMetrics): string {
  const sources = sourceVersions(m);
  const version = m.targetVersion === null ? 'no version yet' : `version ${m.targetVersion}`;
  return `${m.table} ${m.status}${m.full ? ' (full)' : ''} → ${version}${sources ? ` (${sources})` : ''}: ${m.rowsRead} rows read, ${rowFates(m)} (${m.durationMs} ms)`;
}

/**
 * A block: the table, status, version and sources; for an update, where the rows went, the failed
 * expectations and the completeness.
 *
 * @param m the update's metrics
 * @returns the lines, each ending with a newline
 */
export function tableUpdateReport(m: TableUpdateMetrics): string {
  const head = `${m.table.padEnd(24)} ${m.status.padEnd(9)} v${m.targetVersion ?? '-'}  (${sourceVersions(m)})`;
  if (m.status !== 'updated') return `${head}\n`;
  const rules = m.expectations.filter((e) => e.failed > 0).map((e) => `${e.name} ${e.failed} failed (${e.onViolation})`);
  const c = m.completeness;
  const complete =
    c && c.pct !== null ? `    complete: ${c.complete} of ${c.checked} rows (${c.pct}%) have every mandatory field (${c.rules.join(', ')})\n` : '';
  return `${head}\n    read ${m.rowsRead}: ${rowFates(m)} — ${(m.durationMs / 1000).toFixed(1)} s\n${rules.length ? `    ${rules.join('; ')}\n` : ''}${complete}`;
}
