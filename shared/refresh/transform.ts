/**
 * Running a table's SQL over the registered views: parse it, decide whether its output rows can carry
 * their input file and row (only for row-level SQL; see shared/sql/parse.ts), work out the schema
 * contract, and build the checked batch.
 */
import type { Snapshot } from '../delta';
import type { TableDefinition } from '../pipeline';
import { addColumns, aggregateFunctions, isRowLevel, parseQuery, SqlError, SqlParseError, toSql, withoutTopLevelCasts, type SqlEngine } from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import { buildBatch } from './batch';
import type { BatchOutcome } from './types';
import { deriveContract, type Contract } from './contract';
import { RefreshError } from './errors';
import { applyHook, type BatchHook } from './hook';

/** The checked batch and what it was built with. */
export interface Transform {
  contract: Contract;
  outcome: BatchOutcome;
  /** Whether rows carry their input file and row. */
  provenance: boolean;
}

/** How to run the transform. */
export interface TransformOptions {
  /** The views carry provenance columns (incremental reads). */
  provenance: boolean;
  /** Side table of file ids, for samples and quarantine lineage. */
  filesTable?: string;
  /** The target, or null when the table is being (re)built from nothing. */
  target: Snapshot | null;
  definitionFile?: string;
  /** The table's hook, loaded. */
  hook?: BatchHook;
}

/**
 * Run the table's SQL into `__batch`.
 *
 * @param engine the engine with the input views registered
 * @param table the definition
 * @param options provenance, target
 * @returns the contract and batch counts
 */
export async function runTransform(engine: SqlEngine, table: TableDefinition, options: TransformOptions): Promise<Transform> {
  const where = `refresh ${table.name}: tables.${table.name}.sql`;
  let sql = table.sql;
  let provenance: boolean;
  let declared;
  let output;
  try {
    const parsed = await parseQuery(engine, table.sql);
    declared = await engine.columns(table.sql, where);
    const names = declared.map((c) => c.name);
    if (options.hook) {
      // The hook sees the SQL's output as declared (casts applied) and provenance where the SQL is row-level.
      const rowLevel =
        options.provenance && !(names.includes(FILE_ID_COLUMN) && names.includes(ROW_COLUMN)) && isRowLevel(parsed, await aggregateFunctions(engine));
      const input = rowLevel ? await addColumns(engine, parsed, [FILE_ID_COLUMN, ROW_COLUMN]) : table.sql;
      sql = await applyHook(engine, input, options.hook, { table: table.name, source: table.from.join(', ') });
      declared = await engine.columns(sql, `${where} (after tables.${table.name}.hook)`);
      const hookedNames = declared.map((c) => c.name);
      provenance = options.provenance && hookedNames.includes(FILE_ID_COLUMN) && hookedNames.includes(ROW_COLUMN);
    } else if (isRowLevel(parsed, await aggregateFunctions(engine))) {
      // Top-level CASTs are applied by the contract instead (TRY_CAST), so a value that does not
      // convert quarantines its row rather than failing the query.
      let query = parsed;
      const unwrapped = withoutTopLevelCasts(parsed, names);
      if (unwrapped) query = { sql: table.sql, statement: unwrapped };
      if (options.provenance && !(names.includes(FILE_ID_COLUMN) && names.includes(ROW_COLUMN))) {
        sql = await addColumns(engine, query, [FILE_ID_COLUMN, ROW_COLUMN]);
      } else if (unwrapped) sql = await toSql(engine, unwrapped);
      provenance = options.provenance;
    } else provenance = options.provenance && names.includes(FILE_ID_COLUMN) && names.includes(ROW_COLUMN);
    output = sql === table.sql ? declared : await engine.columns(sql, where);
  } catch (err) {
    if (err instanceof SqlParseError) {
      throw new RefreshError('definition', table.name, `${where}${err.line ? ` (line ${err.line} of the SQL, column ${err.column})` : ''}: ${err.message}`, {
        cause: err,
      });
    }
    if (err instanceof SqlError) throw new RefreshError('definition', table.name, err.message, { cause: err });
    throw err;
  }
  const notProvenance = (c: { name: string }) => c.name !== FILE_ID_COLUMN && c.name !== ROW_COLUMN;
  declared = declared.filter(notProvenance);
  output = output.filter(notProvenance);
  const contract = deriveContract(table, declared, options.target, options.definitionFile);
  let outcome: BatchOutcome;
  try {
    outcome = await buildBatch(engine, { table, sql, output, provenance, contract, filesTable: provenance ? options.filesTable : undefined });
  } catch (err) {
    if (err instanceof SqlError)
      throw new RefreshError('definition', table.name, `${err.message} (check tables.${table.name}.sql and its expectations)`, { cause: err });
    throw err;
  }
  return { contract, outcome, provenance };
}
