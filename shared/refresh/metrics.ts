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
import type { PipelineDefinition, RefreshKind, TableDefinition } from '../pipeline';
import type { SqlEngineOptions } from '../sql';
import type { ObjectStore } from '../storage/types';
import type { BatchOutcome, ExpectationCount } from './batch';

/** Opens a store rooted at a table path of the lake container, e.g. `silver/sales`. */
export type LakeTables = (path: string) => ObjectStore;

/** One refresh of one table. */
export interface RefreshRequest {
  definition: PipelineDefinition;
  /** Table name in the definition, e.g. `silver.sales`. */
  table: string;
  lake: LakeTables;
  /** SQL engine memory, threads, temp folder. */
  sql?: SqlEngineOptions;
  /** HMAC key for `pii: hash` columns (setting `SLUICE_PII_KEY`). */
  piiKey?: string;
  /** Rebuild the table from its sources' current versions. */
  fullRefresh?: boolean;
  /** Clock (quarantine times, durations). */
  now?: () => Date;
}

/** A source's versions applied by the update. */
export interface SourceVersions {
  name: string;
  /** Last version applied before (-1: none). */
  fromVersion: number;
  /** Version applied now. */
  toVersion: number;
  /** Versions without data changes (compaction, metadata) that were skipped. */
  skippedVersions?: number[];
}

/** Metrics of one table update. */
export interface TableUpdateMetrics {
  table: string;
  /** Table path in the lake container. */
  path: string;
  refresh: RefreshKind;
  /**
   * `updated`: committed; `unchanged`: the sources had nothing new; `skipped`: another attempt of this
   * refresh had already committed these source versions (a retry), nothing was written.
   */
  status: 'updated' | 'unchanged' | 'skipped';
  /** True for a rebuild (first build, full refresh, or a recompute of every partition). */
  full: boolean;
  sources: SourceVersions[];
  /** Version of the target after the update (its current version when nothing was committed). */
  targetVersion: number | null;
  /** Version of the quarantine table written, if any. */
  quarantineVersion: number | null;
  rowsRead: number;
  rowsOut: number;
  filteredBySql: number;
  expectations: ExpectationCount[];
  contractViolations: number;
  quarantined: number;
  dropped: number;
  /** Rows stored although they violate a `warn` expectation. */
  warned: number;
  inserted: number;
  updated: number;
  /** Kept rows merged away: superseded in the batch, older than the stored version, or unchanged. */
  duplicates: number;
  /** Rows in the files added (rewritten rows included). */
  rowsWritten: number;
  filesAdded: number;
  filesRemoved: number;
  /** Files replaced because they held a changed key (upserts) or a recomputed partition (recompute). */
  filesRewritten: number;
  /** Recompute: partitions rebuilt (null when the whole table was). */
  partitionsRecomputed: number | null;
  /** Change records kept for downstream tables. */
  changeRecords: number;
  durationMs: number;
  /** Completeness of the mandatory fields; absent when the table has none or the update read nothing. */
  completeness?: Completeness;
}

/** Completeness of the mandatory fields in one update. */
export interface Completeness {
  /** The mandatory rules (`not_null:<key>` and not-null expectation names), in definition order. */
  rules: string[];
  /** Rows passing every one of them. */
  complete: number;
  /** Rows checked (the rows the SQL produced). */
  checked: number;
  /** 100 × complete / checked, rounded to two decimals (null when no row was checked). */
  pct: number | null;
}

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
