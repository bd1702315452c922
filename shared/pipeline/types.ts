/**
 * The pipeline model: what a loaded `pipelines/*.yaml` is once validated, and the vocabularies its
 * fields take. It holds no behaviour so that every stage (ingest, refresh, run) can depend on the shape
 * of a pipeline without depending on YAML loading.
 *
 * A pipeline says which landing prefixes and Event Hubs feed which bronze tables, how their input is
 * read and how their schema may evolve; the silver/gold `tables:` (what each reads, its SQL, keys and
 * ordering, partitioning, expectations, PII tags, hook); and when the refresh runs (`trigger:
 * afterBronze`, the default, or `schedule: "<NCRONTAB>"`).
 *
 * Table rules:
 * - A table reading one bronze source is `incremental`: each refresh reads only the bronze rows not yet
 *   applied. With `keys` it is upserted (SCD type 1; `sequenceBy` columns or an `orderBy` list choose the
 *   winning version of a key, later arrival breaks ties); without keys rows are appended.
 * - A table reading other tables is `recompute`: it is rebuilt from them, only the `partitionBy`
 *   partitions touched by changed rows when partitioned. It has no keys.
 * - Expectations default to `onViolation: warn`.
 *
 * Schema evolution modes are Auto Loader's: `addNewColumns` (default), `rescue`, `failOnNewColumns`,
 * `none`. dlt's schema-contract words are accepted where they mean the same: `evolve` → `addNewColumns`,
 * `freeze` (raise on new columns) → `failOnNewColumns`, `discard_value` (keep the row, drop the new
 * columns' values) → `none`. `discard_row` is refused: it would drop whole rows without a trace, which
 * Sluice never does; use `rescue` (the values go to `_rescued_data`) or `failOnNewColumns`.
 */
import type { Compression, InputFormat, ReadOptions } from '../formats/types';
import type { Objectives } from './objectives';

/** How new input columns are treated (Auto Loader's `cloudFiles.schemaEvolutionMode`). */
export type SchemaEvolutionMode = 'addNewColumns' | 'rescue' | 'failOnNewColumns' | 'none';

/** The canonical evolution modes. */
export const SCHEMA_EVOLUTION_MODES: readonly SchemaEvolutionMode[] = ['addNewColumns', 'rescue', 'failOnNewColumns', 'none'];
/** dlt schema-contract words accepted, and what they become. */
export const DLT_EVOLUTION_ALIASES: Readonly<Record<string, SchemaEvolutionMode>> = {
  evolve: 'addNewColumns',
  freeze: 'failOnNewColumns',
  discard_value: 'none',
};
/** Input formats a source may declare. */
export const SOURCE_FORMATS: readonly InputFormat[] = ['auto', 'csv', 'tsv', 'json', 'ndjson', 'parquet', 'avro', 'binary'];
/** Compression values a source may declare. */
export const SOURCE_COMPRESSIONS: readonly (Compression | 'auto')[] = ['auto', 'none', 'gzip', 'zstd'];
/** What a violated expectation does (silver/gold; checked here, applied by the pipeline stage). */
export const ON_VIOLATION: readonly OnViolation[] = ['warn', 'drop', 'fail', 'quarantine'];
/** Default partition columns of bronze tables. */
export const DEFAULT_PARTITION_BY: readonly string[] = ['_load_date'];
/** Default number of key buckets of an upserted table. */
export const DEFAULT_KEY_BUCKETS = 16;
/** PII protections a column may be tagged with. */
export const PII_ACTIONS: readonly PiiAction[] = ['hash', 'mask'];
/** Suffix of the path of the quarantine table Sluice keeps beside a table (`silver/sales__quarantine`). */
export const QUARANTINE_SUFFIX = '__quarantine';
/** Trigger modes. */
export const TRIGGER_MODES: readonly TriggerDefinition['mode'][] = ['afterBronze', 'schedule'];

/** An Event Hub feeding a source. */
export interface EventHubSource {
  /** Event Hub name. */
  name: string;
  /** Consumer group (default `$Default`). */
  consumerGroup?: string;
  /** Name of the connection setting (default: the app's). */
  connection?: string;
}

/** One bronze source. */
export interface SourceDefinition {
  /** Source name (the key under `sources:`). */
  name: string;
  /** Folder of the landing container, `''` or ending with `/`. Exactly one of `landing`, `eventHub`. */
  landing?: string;
  eventHub?: EventHubSource;
  format: InputFormat;
  compression: Compression | 'auto';
  csv?: ReadOptions['csv'];
  schemaEvolution: SchemaEvolutionMode;
  /** Column → Delta type name. */
  schemaHints: Record<string, string>;
  partitionBy: string[];
  /** Table path in the lake container (default `bronze/<name>`). */
  table: string;
  description?: string;
  /** Freshness and dead-letter objectives (objectives.ts). */
  objectives?: Objectives;
  /** Who answers for the table: an e-mail address or a team name (catalog). */
  owner?: string;
  /** Tags as written (catalog search and `?tag=`). */
  tags?: string[];
  /** Column → comment (catalog). */
  comments?: Record<string, string>;
}

/** What a violated expectation does. */
export type OnViolation = 'warn' | 'drop' | 'fail' | 'quarantine';

/** One expectation of a silver/gold table: a SQL predicate over the table's output columns. */
export interface ExpectationDefinition {
  /** The key under `expectations:`; it names the rule in metrics and in `_failed_expectations`. */
  name: string;
  /** SQL boolean expression; a row violates it when it is false (NULL passes, as in a CHECK constraint). */
  check: string;
  onViolation: OnViolation;
}

/** How a PII column is protected before it is stored. */
export type PiiAction = 'hash' | 'mask';

/**
 * How a table is kept current: `incremental` tables read only the bronze rows not yet applied (and
 * upsert them by key, or append them); `recompute` tables are rebuilt from the tables they read —
 * only the partitions touched by changed rows when the table is partitioned.
 */
export type RefreshKind = 'incremental' | 'recompute';

/** One silver/gold table. */
export interface TableDefinition {
  /** Table name (the key under `tables:`), e.g. `silver.sales`. */
  name: string;
  /** Sources or tables it reads. */
  from: string[];
  /** The SELECT producing the table (default `SELECT * FROM source`). */
  sql: string;
  /** `incremental` when it reads a bronze source, `recompute` when it reads tables. */
  refresh: RefreshKind;
  /** Upsert keys (SCD type 1); empty: rows are appended (incremental) or replaced (recompute). */
  keys: string[];
  /** With keys: columns ordering versions of a key; the greatest wins (later arrival breaks ties). */
  sequenceBy: string[];
  /** With keys, instead of sequenceBy: a SQL ORDER BY list; the first row per key wins. */
  orderBy?: string;
  partitionBy: string[];
  expectations: ExpectationDefinition[];
  /** Column → protection, applied before rows are stored (table, quarantine, change records). */
  pii: Record<string, PiiAction>;
  /** TypeScript/JavaScript module exporting a function over Arrow record batches (path as written). */
  hook?: string;
  /** Table path in the lake container (default: the name with `.` → `/`, e.g. `silver/sales`). */
  table: string;
  /** Key buckets of an upserted table (its `_key_bucket` partitions; default 16). */
  buckets: number;
  description?: string;
  /** Freshness and pass-rate objectives (objectives.ts). */
  objectives?: Objectives;
  /** Who answers for the table: an e-mail address or a team name (catalog). */
  owner?: string;
  /** Tags as written (catalog search and `?tag=`). */
  tags?: string[];
  /** Column → comment (catalog). */
  comments?: Record<string, string>;
  /** The entry exactly as written in the YAML. */
  raw: Record<string, unknown>;
}

/** When the pipeline's silver/gold refresh runs. */
export type TriggerDefinition = { mode: 'afterBronze' } | { mode: 'schedule'; schedule: string };

/** A loaded, validated pipeline definition. */
export interface PipelineDefinition {
  name?: string;
  description?: string;
  sources: Record<string, SourceDefinition>;
  tables: Record<string, TableDefinition>;
  /** Default: after each bronze commit. */
  trigger?: TriggerDefinition;
  /** File it was loaded from, when loaded from a file. */
  file?: string;
  /** Line of each YAML path under `tables` (e.g. `tables.silver.sales.sql`), for later checks' messages. */
  lines?: Record<string, number>;
}

/** One validation problem. */
export interface DefinitionProblem {
  /** YAML path, e.g. `sources.pos_sales.schemaEvolution`. */
  path: string;
  message: string;
  /** 1-based line, when known. */
  line?: number;
}

/** The definition is invalid; `problems` lists every problem found. */
export class PipelineDefinitionError extends Error {
  readonly problems: readonly DefinitionProblem[];
  constructor(problems: DefinitionProblem[], file?: string) {
    const where = file ? ` ${file}` : '';
    const lines = problems.map((p) => `  - ${p.path || '(document)'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`);
    super(`pipeline definition${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`);
    this.name = 'PipelineDefinitionError';
    this.problems = problems;
  }
}
