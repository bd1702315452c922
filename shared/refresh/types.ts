/**
 * The refresh stage's contract: what a caller asks for (one table of a pipeline, and where the lake's
 * tables are) and what it gets back (the update's metrics). They live apart from the code so that the
 * run, the host and this folder's own modules can name them without importing an implementation.
 */
import type { OnViolation, PipelineDefinition, RefreshKind } from '../pipeline';
import type { SqlEngineOptions } from '../sql';
import type { ObjectStore } from '../storage/types';

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
  /**
   * Called with the path of each table the update committed to (the table, its quarantine table),
   * e.g. to update the catalog. Its failure is its own to report: it must not throw.
   */
  onCommitted?: (path: string) => Promise<void>;
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

/** Pass/fail counts of one rule. */
export interface ExpectationCount {
  name: string;
  check: string;
  onViolation: OnViolation;
  passed: number;
  failed: number;
}

/** What the batch holds. */
export interface BatchOutcome {
  /** Rows the SQL produced. */
  rows: number;
  expectations: ExpectationCount[];
  /** Rows violating the schema contract (cast failures, null keys); all quarantined. */
  contractViolations: number;
  quarantined: number;
  dropped: number;
  /** Rows kept that violate at least one `warn` expectation. */
  warned: number;
  kept: number;
  /** Raw-text column of each contract column whose values are cast (index in contract.columns → name). */
  rawColumns: Map<string, string>;
  /** Rows passing every mandatory rule (see metrics.ts), when the table has any. */
  completeness?: Completeness;
}

/** What to replay. */
export interface ReplayRequest {
  definition: PipelineDefinition;
  /** Table name in the definition, e.g. `silver.sales`. */
  table: string;
  lake: LakeTables;
  sql?: SqlEngineOptions;
}

/** What a replay did. */
export interface ReplayResult {
  table: string;
  /** The quarantine version read (null: no quarantine table). */
  quarantineVersion: number | null;
  /** Rows in the quarantine before. */
  rowsRead: number;
  /** Rows that passed and left the quarantine. */
  replayed: number;
  /** Rows still failing, kept in the quarantine. */
  remaining: number;
  inserted: number;
  updated: number;
  duplicates: number;
  /** The table's version after the replay (its current version when nothing moved). */
  targetVersion: number | null;
  /** The quarantine's version after the replay. */
  quarantineVersionAfter: number | null;
  /** True when this call only finished an earlier replay interrupted between its two commits. */
  resumed: boolean;
}
