/**
 * What one table update did, as a plain object an orchestrator can record and return.
 *
 * Accounting, for incremental tables: every source row read is either produced by the SQL or filtered
 * out by it (`rowsRead = rowsOut + filteredBySql`; negative `filteredBySql` means the SQL multiplied
 * rows), and every produced row has exactly one fate:
 * `rowsOut = inserted + updated + duplicates + dropped + quarantined`.
 *
 * Completeness, for tables declaring mandatory fields (regulatory reporting asks for it): the share of
 * the rows checked that pass every mandatory rule. A table declares mandatory fields with expectations
 * whose check is a bare `<column> IS NOT NULL` (whatever their action); its mandatory rules are those
 * expectations and its keys' `not_null:<key>`. Tables without such expectations report none. The rows
 * checked are the rows the SQL produced (`rowsOut`; rows read, unless the SQL filters), since a row
 * the SQL filtered out was never checked. A row failing other rules (a bad currency code) still counts
 * as complete: completeness is about fields being present, not valid.
 */
import type { TableDefinition } from '../pipeline';
import type { BatchOutcome, Completeness, SourceVersions, TableUpdateMetrics } from './types';

/** A check that only asks for a value: `col IS NOT NULL`, `"col" IS NOT NULL`, parenthesised or not. */
const NOT_NULL_CHECK = /^\s*\(?\s*(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s+IS\s+NOT\s+NULL\s*\)?\s*$/i;

/**
 * The mandatory rules of a table, as the batch names them in its failure lists.
 *
 * @param table the table definition
 * @returns none when no expectation is a not-null check; else `not_null:<key>` per key, then the
 *   names of the not-null expectations
 */
export function mandatoryRules(table: TableDefinition): string[] {
  const notNull = table.expectations.filter((e) => NOT_NULL_CHECK.test(e.check)).map((e) => e.name);
  return notNull.length ? [...table.keys.map((k) => `not_null:${k}`), ...notNull] : [];
}

/**
 * Completeness from counts.
 *
 * @param rules the mandatory rules
 * @param complete rows passing every one
 * @param checked rows checked
 * @returns the completeness with its percentage
 */
export function completenessOf(rules: string[], complete: number, checked: number): Completeness {
  return { rules, complete, checked, pct: checked > 0 ? Math.round((10_000 * complete) / checked) / 100 : null };
}

/**
 * Metrics with every count zero.
 *
 * @param table the table definition
 * @param sources the source versions
 * @returns the metrics
 */
export function emptyMetrics(table: TableDefinition, sources: SourceVersions[]): TableUpdateMetrics {
  return {
    table: table.name,
    path: table.table,
    refresh: table.refresh,
    status: 'unchanged',
    full: false,
    sources,
    targetVersion: null,
    quarantineVersion: null,
    rowsRead: 0,
    rowsOut: 0,
    filteredBySql: 0,
    expectations: table.expectations.map((e) => ({ name: e.name, check: e.check, onViolation: e.onViolation, passed: 0, failed: 0 })),
    contractViolations: 0,
    quarantined: 0,
    dropped: 0,
    warned: 0,
    inserted: 0,
    updated: 0,
    duplicates: 0,
    rowsWritten: 0,
    filesAdded: 0,
    filesRemoved: 0,
    filesRewritten: 0,
    partitionsRecomputed: null,
    changeRecords: 0,
    durationMs: 0,
  };
}

/**
 * Rows recorded in add actions' stats.
 *
 * @param files add actions
 * @returns the row total
 */
export function statsRows(files: { stats?: string | null }[]): number {
  return files.reduce((n, f) => n + Number((f.stats && JSON.parse(f.stats).numRecords) ?? 0), 0);
}

/**
 * Record what the transform did with the rows read: the rows it produced, the rows its SQL filtered
 * out, and the fate of each produced row under the expectations.
 *
 * @param metrics the update's metrics, `rowsRead` already set
 * @param outcome the transform's outcome
 */
export function recordTransform(metrics: TableUpdateMetrics, outcome: BatchOutcome): void {
  Object.assign(metrics, {
    rowsOut: outcome.rows,
    filteredBySql: metrics.rowsRead - outcome.rows,
    expectations: outcome.expectations,
    contractViolations: outcome.contractViolations,
    quarantined: outcome.quarantined,
    dropped: outcome.dropped,
    warned: outcome.warned,
    ...(outcome.completeness ? { completeness: outcome.completeness } : {}),
  });
}
