/**
 * Query results as Arrow record batches in a Delta schema.
 *
 * DuckDB writes the result as Parquet files (zstd, bounded size) into the run folder and the repo's
 * Parquet decoder reads them back one file at a time. That path keeps every type exact — decimals with
 * their scale, microsecond timestamps, dates, nested lists/structs/maps — without converting values
 * one by one in JS, and bounds Node's memory to one output file whatever the result size (DuckDB
 * itself spills beyond its memory limit). The query's columns are cast to the Delta schema's SQL types
 * on the way out, so e.g. a `HUGEINT` sum becomes the `long` the schema says.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import * as arrow from 'apache-arrow';
import { decodeParquet } from '../delta/parquet';
import { deltaToArrowSchema, deltaToArrowType, type DeltaStruct, type DeltaType } from '../delta/schema';
import { buildVector, isCanonicalArrowType, readValues } from '../delta/values';
import { quoteIdent, quoteLiteral, type SqlEngine } from './engine';
import { duckType } from './types';

/** Options for exporting a query. */
export interface ExportOptions {
  /** Rows per Parquet row group, i.e. per record batch handed on (default 65536). */
  batchRows?: number;
  /** Size at which DuckDB starts a new output file (default 16 MB). */
  fileBytes?: string;
}

let exportCount = 0;

/**
 * Run a query and stream its rows as record batches in `schema` (same column names, in schema order).
 *
 * @param engine the engine
 * @param sql the query; it must produce every column of `schema`
 * @param schema the Delta schema of the output
 * @param context what is being done, for error messages
 * @param options batch size and output file size
 * @returns the batches, in the query's order
 */
export async function* queryBatches(
  engine: SqlEngine,
  sql: string,
  schema: DeltaStruct,
  context: string,
  options: ExportOptions = {},
): AsyncGenerator<arrow.RecordBatch> {
  const dir = engine.path(`export-${++exportCount}`);
  const select = schema.fields.map((f) => `CAST(${quoteIdent(f.name)} AS ${duckType(f.type)}) AS ${quoteIdent(f.name)}`).join(', ');
  await engine.run(
    `COPY (SELECT ${select} FROM (${sql}\n)) TO ${quoteLiteral(dir)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${options.batchRows ?? 65536}, FILE_SIZE_BYTES ${quoteLiteral(options.fileBytes ?? '16MB')})`,
    context,
  );
  try {
    const names = (await readdir(dir)).filter((n) => n.endsWith('.parquet'));
    // DuckDB numbers the files in the order it wrote them: data_0, data_1, …
    names.sort((a, b) => fileNumber(a) - fileNumber(b) || (a < b ? -1 : 1));
    for (const name of names) {
      const table = await decodeParquet(new Uint8Array(await readFile(`${dir}/${name}`)));
      await rm(`${dir}/${name}`);
      for (const batch of table.batches) if (batch.numRows > 0) yield conformBatch(batch, schema, context);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Collect a query's rows into one Arrow table (small results).
 *
 * @param engine the engine
 * @param sql the query
 * @param schema the Delta schema of the output
 * @param context what is being done, for error messages
 * @returns the table
 */
export async function queryTable(engine: SqlEngine, sql: string, schema: DeltaStruct, context: string): Promise<arrow.Table> {
  const batches: arrow.RecordBatch[] = [];
  for await (const batch of queryBatches(engine, sql, schema, context)) batches.push(batch);
  return batches.length ? new arrow.Table(batches) : new arrow.Table(deltaToArrowSchema(schema));
}

function fileNumber(name: string): number {
  const m = /(\d+)\.parquet$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/**
 * A decoded batch in Sluice's canonical Arrow types for the schema. Columns already canonical are
 * reused; a zone-less microsecond timestamp (how DuckDB writes `TIMESTAMP`) only gets the UTC zone on
 * its type; anything else is converted value by value.
 */
function conformBatch(batch: arrow.RecordBatch, schema: DeltaStruct, context: string): arrow.RecordBatch {
  const arrowSchema = deltaToArrowSchema(schema);
  const children = schema.fields.map((field) => {
    const column = batch.getChild(field.name);
    if (!column) throw new Error(`${context}: the query result has no column "${field.name}"`);
    return conformColumn(column, field.type);
  });
  const data = arrow.makeData({ type: new arrow.Struct(arrowSchema.fields), length: batch.numRows, nullCount: 0, children });
  return new arrow.RecordBatch(arrowSchema, data);
}

function conformColumn(column: arrow.Vector, type: DeltaType): arrow.Data {
  const single = column.data.length === 1 ? column.data[0] : null;
  if (single && isCanonicalArrowType(column.type, type)) return single;
  if (
    single &&
    (type === 'timestamp' || type === 'timestamp_ntz') &&
    arrow.DataType.isTimestamp(column.type) &&
    column.type.unit === arrow.TimeUnit.MICROSECOND
  ) {
    return single.clone(deltaToArrowType(type) as arrow.Timestamp);
  }
  return buildVector(type, readValues(column, type)).data[0];
}
