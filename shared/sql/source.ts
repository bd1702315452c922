/**
 * Delta data files as a SQL view. The view has the table's columns with their exact types (each file's
 * Parquet columns cast to the table schema; columns a file lacks, as after schema evolution, read as
 * NULL), partition columns filled in from the log (Delta keeps them there, not in the files), and
 * optionally two provenance columns: `_sluice_file` (the staged file's id) and `_sluice_row` (the row's
 * position in its file), which let every output row be traced to its input file and keep arrival
 * order for deduplication.
 *
 * A side table `__files_<view>` maps file ids to the logged path and the version that added the file.
 */
import type { DeltaStruct } from '../delta/schema';
import { parsePartitionValue } from '../delta/partitions';
import { quoteIdent, quoteLiteral, type SqlEngine } from './engine';
import type { StagedFile } from './stage';
import { duckType, sqlLiteral } from './types';

/** Provenance column: id of the staged file a row came from. */
export const FILE_ID_COLUMN = '_sluice_file';
/** Provenance column: position of the row in its file. */
export const ROW_COLUMN = '_sluice_row';

/** How to expose a set of data files. */
export interface ViewSpec {
  /** Table schema (partition columns included). */
  schema: DeltaStruct;
  partitionColumns: string[];
  files: StagedFile[];
  /** Columns left out of the view (e.g. a silver table's key hash and bucket). */
  hidden?: readonly string[];
  /** Add `_sluice_file` and `_sluice_row`. */
  provenance?: boolean;
  /** Zone of zone-less timestamp partition values (default UTC). */
  partitionTimeZone?: string;
}

/**
 * Create (or replace) a temporary view over staged Delta data files.
 *
 * @param engine the engine
 * @param name view name, e.g. `source`
 * @param spec schema, partitioning, files, hidden columns, provenance
 */
export async function registerView(engine: SqlEngine, name: string, spec: ViewSpec): Promise<void> {
  const hidden = new Set(spec.hidden ?? []);
  const fields = spec.schema.fields.filter((f) => !hidden.has(f.name));
  // DuckDB reads the files by column name; a column-mapped table (written by Spark) stores other
  // names, which would read as NULL: refuse it rather than compute from wrong rows.
  const mapped = spec.schema.fields.find((f) => typeof f.metadata?.['delta.columnMapping.physicalName'] === 'string');
  if (mapped) throw new Error(`registering ${name}: the table uses column mapping (column "${mapped.name}"), which SQL refreshes do not read`);
  const filesTable = `__files_${name}`;
  const partitionFields = spec.partitionColumns.map((c) => spec.schema.fields.find((f) => f.name === c)!);
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${quoteIdent(filesTable)} (file_id INTEGER, filename VARCHAR, path VARCHAR, version BIGINT${partitionFields.map((f) => `, ${quoteIdent(f.name)} ${duckType(f.type)}`).join('')})`,
    `registering ${name}`,
  );
  for (let i = 0; i < spec.files.length; i += 500) {
    const rows = spec.files.slice(i, i + 500).map((file) => {
      const values = partitionFields.map((f) =>
        sqlLiteral(parsePartitionValue(file.partitionValues[f.name] ?? null, f.type, f.name, spec.partitionTimeZone), f.type),
      );
      return `(${file.id}, ${quoteLiteral(file.localPath)}, ${quoteLiteral(file.path)}, ${file.version ?? 'NULL'}${values.map((v) => `, ${v}`).join('')})`;
    });
    await engine.run(`INSERT INTO ${quoteIdent(filesTable)} VALUES ${rows.join(',\n')}`, `registering ${name}`);
  }
  let body: string;
  if (spec.files.length === 0) {
    const columns = fields.map((f) => `NULL::${duckType(f.type)} AS ${quoteIdent(f.name)}`);
    if (spec.provenance) columns.push(`NULL::INTEGER AS ${FILE_ID_COLUMN}`, `NULL::BIGINT AS ${ROW_COLUMN}`);
    body = `SELECT ${columns.join(', ') || 'NULL AS "_"'} WHERE false`;
  } else {
    const list = `[${spec.files.map((f) => quoteLiteral(f.localPath)).join(', ')}]`;
    const plain = `read_parquet(${list}, union_by_name = true)`;
    const present = new Set((await engine.columns(`SELECT * FROM ${plain}`, `reading the data files of ${name}`)).map((c) => c.name));
    // DuckDB refuses its row-number option on files that have a column of that name; such rows keep
    // no in-file order (arrival order then falls back to the file).
    const rowNumber = !present.has('file_row_number');
    const scan = `read_parquet(${list}, union_by_name = true, filename = '__sluice_filename'${rowNumber ? ', file_row_number = true' : ''})`;
    const columns = fields.map((f) => {
      if (spec.partitionColumns.includes(f.name)) return `f.${quoteIdent(f.name)} AS ${quoteIdent(f.name)}`;
      if (!present.has(f.name)) return `NULL::${duckType(f.type)} AS ${quoteIdent(f.name)}`;
      return `CAST(d.${quoteIdent(f.name)} AS ${duckType(f.type)}) AS ${quoteIdent(f.name)}`;
    });
    const provenance = spec.provenance ? [`f.file_id AS ${FILE_ID_COLUMN}`, `${rowNumber ? 'd.file_row_number' : '0'}::BIGINT AS ${ROW_COLUMN}`] : [];
    body = `SELECT ${[...columns, ...provenance].join(', ')} FROM ${scan} AS d JOIN ${quoteIdent(filesTable)} AS f ON d.__sluice_filename = f.filename`;
  }
  await engine.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(name)} AS ${body}`, `registering ${name}`);
}
