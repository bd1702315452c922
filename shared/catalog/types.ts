/**
 * The catalog's model: one entry per table of the lake container, identified by its path there
 * (`bronze/pos_sales`, `silver/sales`, `finance/gold/ledger`). The JSON of `sluice catalog show
 * --json` and of `GET /api/catalog/tables/{path}` is a `CatalogEntry`; listings answer
 * `CatalogSummary` rows.
 */
import type { AccessTier } from '../storage/types';

/**
 * - `live`: a Delta table we read;
 * - `missing`: the table was in the catalog but its folder no longer holds a Delta log (kept, marked);
 * - `notDelta`: a folder of data files without a Delta log;
 * - `refused`: a Delta table whose protocol Sluice does not read (the reason names the version or feature);
 * - `unreadable`: a Delta log that could not be read (damaged, or storage failing).
 */
export type CatalogStatus = 'live' | 'missing' | 'notDelta' | 'refused' | 'unreadable';

/** What is done to a PII column. */
export interface ColumnClassification {
  /** `hash`/`mask`: protected before storage; `none`: stored as received (a table downstream protects it). */
  pii: 'hash' | 'mask' | 'none';
  /** In words, for people. */
  treatment: string;
}

/** One column of the current schema. */
export interface CatalogColumn {
  name: string;
  /** Delta type as Spark SQL spells it (`string`, `decimal(12,2)`, `struct<a:int>`). */
  type: string;
  nullable: boolean;
  partition: boolean;
  comment: string | null;
  classification: ColumnClassification | null;
}

/** A change of the schema at a version. */
export interface SchemaChange {
  version: number;
  column: string;
  change: 'added' | 'changed' | 'dropped';
  type: string;
  /** The type before a `changed` (type widening, nullability). */
  previousType?: string;
  nullable: boolean;
  /**
   * False when the log no longer holds the commits before the oldest checkpoint: the column existed
   * at this version, it may have been added earlier.
   */
  exact: boolean;
}

/** The catalog's entry for one table. */
export interface CatalogEntry {
  path: string;
  status: CatalogStatus;
  /** Why a table is not `live`. */
  reason: string | null;
  /** `bronze`, `silver`, `gold` or the first segment of a custom path. */
  layer: string;
  /** The name in its pipeline (`pos_sales`, `silver.sales`), else the last path segment. */
  name: string;
  /** The pipeline defining it, when a served pipeline does. */
  pipeline: string | null;
  /** The table's URL in the lake. */
  location: string;
  format: 'delta' | null;
  protocol: { minReaderVersion: number; minWriterVersion: number; readerFeatures?: string[]; writerFeatures?: string[] } | null;
  /** Delta table id (metadata `id`): a table deleted and created again at the same path gets a new one. */
  tableId: string | null;
  version: number | null;
  /** Commit time of `version` (ISO): its `inCommitTimestamp`, else `timestamp`, else the log file's time. */
  lastCommit: string | null;
  lastOperation: string | null;
  schema: CatalogColumn[];
  schemaHistory: SchemaChange[];
  partitionColumns: string[];
  /** Rows of the live files net of deletion vectors; null when a file's count is unknown. */
  rows: number | null;
  files: number | null;
  bytes: number | null;
  /**
   * Bytes of live files by access tier, from the one listing of the table's folder (no request per
   * file); null where the store reports no tiers (the local file system).
   */
  bytesByTier: Partial<Record<AccessTier, number>> | null;
  description: string | null;
  owner: string | null;
  tags: string[];
  /** PII columns and what is done to them (also on each column). */
  classification: ({ column: string } & ColumnClassification)[];
  /** When the table was found gone (for `missing`). */
  missingSince: string | null;
}

/** A row of a listing. */
export type CatalogSummary = Pick<
  CatalogEntry,
  | 'path'
  | 'status'
  | 'reason'
  | 'layer'
  | 'name'
  | 'pipeline'
  | 'version'
  | 'rows'
  | 'files'
  | 'bytes'
  | 'lastCommit'
  | 'owner'
  | 'tags'
  | 'description'
  | 'missingSince'
>;

/** What a served pipeline's definition says about one table. */
export interface TableAnnotation {
  pipeline: string;
  /** Name in the pipeline: the source name for bronze, the table name (`silver.sales`) otherwise. */
  name: string;
  layer: string;
  description: string | null;
  owner: string | null;
  tags: string[];
  comments: Record<string, string>;
  /** Column → what is done to it. */
  classification: Record<string, ColumnClassification>;
}

/** Filters of a listing; every one given must match. */
export interface CatalogFilter {
  /** Words that must all appear in the table's name, path, columns, description, comments or tags. */
  q?: string;
  layer?: string;
  /** A tag, compared without regard to case. */
  tag?: string;
  owner?: string;
}
