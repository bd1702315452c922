/**
 * Reading table data: each live file of a snapshot decoded to Arrow, projected onto the table schema
 * by column name (columns a file lacks read as null, as after schema evolution), with partition
 * columns filled in from the log, never from directory names.
 */
import * as arrow from 'apache-arrow';
import { ObjectNotFoundError } from '../storage/types';
import type { AddFile } from './actions';
import { DeletionVectorError, describeDeletionVector, readDeletionVector } from './deletion-vectors';
import { ColumnMappingMode, columnMappingMode, fieldId, findFileColumn, physicalName, toLogicalData } from './column-mapping';
import { DataFileError } from './errors';
import { decodeParquet } from './parquet';
import { decodeAddPath, parsePartitionValue, PARTITION_TIME_ZONE_KEY } from './partitions';
import { deltaToArrowSchema, DeltaField } from './schema';
import { activeFiles, Snapshot } from './snapshot';
import { buildVector, isCanonicalArrowType, readValues } from './values';

/** Options for scanning a table. */
export interface ScanOptions {
  /** Stop after this many rows. */
  limit?: number;
  /** Zone for zone-less timestamp partition values (default: the table's `sluice.partitionTimeZone`, else UTC). */
  partitionTimeZone?: string;
  /** Only these files (default: all live files). */
  files?: AddFile[];
}

/**
 * Read a table's rows as Arrow record batches in the table schema (one or more batches per file).
 *
 * @param snapshot the table version to read
 * @param options row limit, partition time zone, file subset
 * @returns the batches
 */
export async function* scanTable(snapshot: Snapshot, options: ScanOptions = {}): AsyncGenerator<arrow.RecordBatch> {
  const schema = deltaToArrowSchema(snapshot.schema);
  const timeZone = options.partitionTimeZone ?? snapshot.metadata.configuration?.[PARTITION_TIME_ZONE_KEY] ?? 'UTC';
  const mode = columnMappingMode(snapshot.metadata, snapshot.table);
  let remaining = options.limit ?? Infinity;
  const files = (options.files ?? activeFiles(snapshot)).slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of files) {
    if (remaining <= 0) return;
    // The DV first: a file whose DV cannot be read yields no row at all.
    const deleted = file.deletionVector ? await readDeletionVector(snapshot.store, file.deletionVector, decodeAddPath(file.path, snapshot.table)) : null;
    const table = await readDataFile(snapshot, file, mode);
    if (deleted) checkDeletedRows(snapshot, file, table.numRows, deleted);
    let firstRow = 0;
    for (const whole of conformFile(snapshot, schema, file, table, timeZone, mode)) {
      const batch = deleted ? dropDeletedRows(snapshot, schema, whole, firstRow, deleted) : whole;
      firstRow += whole.numRows;
      if (remaining <= 0) return;
      const out = batch.numRows > remaining ? batch.slice(0, remaining) : batch;
      remaining -= out.numRows;
      yield out;
    }
  }
}

/**
 * Read a whole table version into one Arrow table.
 *
 * @param snapshot the table version
 * @param options row limit and partition time zone
 * @returns the Arrow table in the table schema
 */
export async function readTable(snapshot: Snapshot, options: ScanOptions = {}): Promise<arrow.Table> {
  const batches: arrow.RecordBatch[] = [];
  for await (const batch of scanTable(snapshot, options)) batches.push(batch);
  if (batches.length === 0) return new arrow.Table(deltaToArrowSchema(snapshot.schema));
  return new arrow.Table(batches);
}

async function readDataFile(snapshot: Snapshot, file: AddFile, mode: ColumnMappingMode): Promise<arrow.Table> {
  const path = decodeAddPath(file.path, snapshot.table);
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
    throw new DataFileError(`delta data: ${snapshot.table} references ${file.path}, an absolute path outside the table, which Sluice does not read`, file.path);
  }
  let bytes: Uint8Array;
  try {
    bytes = await snapshot.store.read(path);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new DataFileError(
        `delta data: data file ${snapshot.table}/${path} of version ${snapshot.version} is missing (add.path "${file.path}")`,
        file.path,
        { cause: err },
      );
    }
    throw err;
  }
  if (file.size && bytes.length !== file.size) {
    throw new DataFileError(
      `delta data: data file ${snapshot.table}/${path} has ${bytes.length} bytes but the log says ${file.size} (truncated or replaced)`,
      file.path,
    );
  }
  const nonPartition = snapshot.schema.fields.filter((f) => !snapshot.partitionColumns.includes(f.name));
  const ids = mode === 'id' ? nonPartition.map(fieldId).filter((id): id is number => id !== undefined) : [];
  try {
    return await decodeParquet(
      bytes,
      nonPartition.map((f) => physicalName(f, mode)),
      ids,
    );
  } catch (err) {
    throw new DataFileError(`delta data: data file ${snapshot.table}/${path} cannot be decoded as Parquet: ${(err as Error).message}`, file.path, {
      cause: err,
    });
  }
}

/** A DV marking a row the data file does not have belongs to another file: refuse rather than guess. */
function checkDeletedRows(snapshot: Snapshot, file: AddFile, rows: number, deleted: Float64Array): void {
  const last = deleted.length ? deleted[deleted.length - 1] : -1;
  if (last >= rows) {
    throw new DeletionVectorError(
      `delta data: the ${describeDeletionVector(file.deletionVector!)} of data file ${snapshot.table}/${decodeAddPath(file.path, snapshot.table)} marks row ${last}, but the file has ${rows} rows`,
    );
  }
}

/**
 * The rows of one batch of a data file that the file's deletion vector leaves.
 *
 * @param snapshot the table version
 * @param schema its Arrow schema
 * @param batch consecutive rows of the data file, in file order
 * @param firstRow the index in the file of the batch's first row
 * @param deleted the row indexes of the file the DV marks, ascending
 * @returns a batch of the remaining rows
 */
function dropDeletedRows(snapshot: Snapshot, schema: arrow.Schema, batch: arrow.RecordBatch, firstRow: number, deleted: Float64Array): arrow.RecordBatch {
  const keep = new Uint8Array(batch.numRows).fill(1);
  let dropped = 0;
  for (let i = lowerBound(deleted, firstRow); i < deleted.length && deleted[i] < firstRow + batch.numRows; i++) {
    keep[deleted[i] - firstRow] = 0;
    dropped++;
  }
  if (dropped === 0) return batch;
  // Rebuilt rather than sliced: scattered deletions would make a batch per surviving run.
  const columns = snapshot.schema.fields.map((field, i) =>
    buildVector(
      field.type,
      readValues(batch.getChildAt(i)!, field.type).filter((_, row) => keep[row]),
    ),
  );
  const data = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length: batch.numRows - dropped,
    nullCount: 0,
    children: columns.map((c) => c.data[0]),
  });
  return new arrow.RecordBatch(schema, data);
}

/** Index of the first value ≥ `value` in an ascending array. */
function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function* conformFile(
  snapshot: Snapshot,
  schema: arrow.Schema,
  file: AddFile,
  table: arrow.Table,
  timeZone: string,
  mode: ColumnMappingMode,
): Generator<arrow.RecordBatch> {
  const length = table.numRows;
  const columns: arrow.Vector[] = snapshot.schema.fields.map((field) => {
    if (snapshot.partitionColumns.includes(field.name)) {
      const value = parsePartitionValue(file.partitionValues?.[physicalName(field, mode)] ?? null, field.type, field.name, timeZone);
      return buildVector(field.type, new Array(length).fill(value));
    }
    return conformColumn(table, field, length, `${snapshot.table}/${decodeAddPath(file.path)}`, mode);
  });
  const data = arrow.makeData({
    type: new arrow.Struct(schema.fields),
    length,
    nullCount: 0,
    children: columns.map((c) => c.data[0]), // conformColumn and buildVector return single-chunk vectors
  });
  yield new arrow.RecordBatch(schema, data);
}

function conformColumn(table: arrow.Table, field: DeltaField, length: number, where: string, mode: ColumnMappingMode): arrow.Vector {
  const index = findFileColumn(table.schema.fields, field, mode);
  if (index < 0) return buildVector(field.type, new Array(length).fill(null));
  let vector = table.getChildAt(index)!;
  if (mode !== 'none') vector = arrow.makeVector(vector.data.map((d) => toLogicalData(d, field.type, mode)));
  if (isCanonicalArrowType(vector.type, field.type)) {
    if (vector.data.length === 1) return vector;
    return buildVector(field.type, readValues(vector, field.type));
  }
  try {
    return buildVector(field.type, readValues(vector, field.type));
  } catch (err) {
    throw new DataFileError(
      `delta data: column "${field.name}" of ${where} has Parquet type ${vector.type}, which does not fit table type ${JSON.stringify(field.type)}`,
      where,
      { cause: err },
    );
  }
}
