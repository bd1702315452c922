/**
 * Reading table data: each live file of a snapshot decoded to Arrow, projected onto the table schema
 * by column name (columns a file lacks read as null, as after schema evolution), with partition
 * columns filled in from the log, never from directory names.
 */
import * as arrow from 'apache-arrow';
import { ObjectNotFoundError } from '../storage/types';
import type { AddFile } from './actions';
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
    const table = await readDataFile(snapshot, file, mode);
    for (const batch of conformFile(snapshot, schema, file, table, timeZone, mode)) {
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
      throw new DataFileError(`delta data: data file ${snapshot.table}/${path} of version ${snapshot.version} is missing (add.path "${file.path}")`, file.path, { cause: err });
    }
    throw err;
  }
  if (file.size && bytes.length !== file.size) {
    throw new DataFileError(`delta data: data file ${snapshot.table}/${path} has ${bytes.length} bytes but the log says ${file.size} (truncated or replaced)`, file.path);
  }
  const nonPartition = snapshot.schema.fields.filter((f) => !snapshot.partitionColumns.includes(f.name));
  const ids = mode === 'id' ? nonPartition.map(fieldId).filter((id): id is number => id !== undefined) : [];
  try {
    return await decodeParquet(bytes, nonPartition.map((f) => physicalName(f, mode)), ids);
  } catch (err) {
    throw new DataFileError(`delta data: data file ${snapshot.table}/${path} cannot be decoded as Parquet: ${(err as Error).message}`, file.path, { cause: err });
  }
}

function* conformFile(snapshot: Snapshot, schema: arrow.Schema, file: AddFile, table: arrow.Table, timeZone: string, mode: ColumnMappingMode): Generator<arrow.RecordBatch> {
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
    throw new DataFileError(`delta data: column "${field.name}" of ${where} has Parquet type ${vector.type}, which does not fit table type ${JSON.stringify(field.type)}`, where, { cause: err });
  }
}
