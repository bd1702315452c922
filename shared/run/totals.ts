/**
 * Run totals: the per-table metrics of a run added up, so the status of a run answers "how many rows
 * went where" without summing by hand. The same accounting holds for the totals as for each
 * incremental table: `rowsRead = rowsOut + filteredBySql` and
 * `rowsOut = inserted + updated + duplicates + dropped + quarantined`.
 */
import type { TableUpdateMetrics } from '../refresh/types';

/** Counts of a run. */
export interface RunTotals {
  tables: number;
  tablesUpdated: number;
  tablesUnchanged: number;
  tablesSkipped: number;
  rowsRead: number;
  rowsOut: number;
  filteredBySql: number;
  inserted: number;
  updated: number;
  duplicates: number;
  dropped: number;
  quarantined: number;
  warned: number;
  rowsWritten: number;
  filesAdded: number;
  filesRemoved: number;
  /** Sum of the tables' durations (tables of a level overlap, so this exceeds the wall time). */
  tableMs: number;
}

/**
 * Add up the metrics of a run's tables.
 *
 * @param tables per-table metrics
 * @returns the totals
 */
export function runTotals(tables: readonly TableUpdateMetrics[]): RunTotals {
  const sum = (pick: (m: TableUpdateMetrics) => number) => tables.reduce((n, m) => n + pick(m), 0);
  return {
    tables: tables.length,
    tablesUpdated: tables.filter((m) => m.status === 'updated').length,
    tablesUnchanged: tables.filter((m) => m.status === 'unchanged').length,
    tablesSkipped: tables.filter((m) => m.status === 'skipped').length,
    rowsRead: sum((m) => m.rowsRead),
    rowsOut: sum((m) => m.rowsOut),
    filteredBySql: sum((m) => m.filteredBySql),
    inserted: sum((m) => m.inserted),
    updated: sum((m) => m.updated),
    duplicates: sum((m) => m.duplicates),
    dropped: sum((m) => m.dropped),
    quarantined: sum((m) => m.quarantined),
    warned: sum((m) => m.warned),
    rowsWritten: sum((m) => m.rowsWritten),
    filesAdded: sum((m) => m.filesAdded),
    filesRemoved: sum((m) => m.filesRemoved),
    tableMs: sum((m) => m.durationMs),
  };
}
