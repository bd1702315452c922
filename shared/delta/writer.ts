/**
 * Writing data files: record batches in the table schema are split by partition, encoded to Parquet
 * (zstd) as they arrive, streamed to storage under fresh UUID names in Hive-style partition folders,
 * and described by `add` actions with statistics. Nothing is committed here; files that are never
 * committed are orphans for vacuum to remove.
 */
import { randomUUID } from 'node:crypto';
import * as arrow from 'apache-arrow';
import type { ObjectStore } from '../storage/types';
import type { AddFile } from './actions';
import { WriteRejectedError } from './errors';
import { encodeParquet } from './parquet';
import { decodeAddPath, encodeAddPath, formatPartitionValue, partitionDirectory } from './partitions';
import { deltaFieldToArrow, DeltaField, DeltaStruct } from './schema';
import { addBatchStats, dataFields, newStats, statsToJson } from './stats';
import { buildVector, isCanonicalArrowType, readValue, readValues } from './values';

/** Options for writing data files. */
export interface WriteFilesOptions {
  /** Roll to a new file once this many encoded bytes were written (default 128 MiB). */
  targetFileBytes?: number;
  /** Roll to a new file after this many rows (default 4M). */
  maxRowsPerFile?: number;
  /** Rows per Parquet row group (default 128k). */
  rowGroupRows?: number;
  /** Columns to collect min/max/nullCount for (Delta's dataSkippingNumIndexedCols). */
  statsColumns?: number;
  /** Called with each new partition's values before its first file is opened; throw to refuse the rows. */
  acceptPartition?: (values: Record<string, string | null>) => void;
}

/** The table shape the files are written for. */
export interface WriteTarget {
  store: ObjectStore;
  schema: DeltaStruct;
  partitionColumns: string[];
}

/** One open output file. */
interface OpenFile {
  path: string;
  partitionValues: Record<string, string | null>;
  push: (batch: arrow.RecordBatch) => Promise<void>;
  finish: () => Promise<AddFile>;
  rows: number;
  bytes: () => number;
}

/**
 * Write batches as Parquet data files of a table, split by partition values.
 *
 * @param target store, schema and partition columns
 * @param batches input in the table schema (all columns, partition columns included)
 * @param options file size and row group settings
 * @returns one `add` action per file written (dataChange=true)
 */
export async function writeDataFiles(
  target: WriteTarget,
  batches: AsyncIterable<arrow.RecordBatch> | Iterable<arrow.RecordBatch>,
  options: WriteFilesOptions = {},
): Promise<AddFile[]> {
  const fields = dataFields(target.schema, target.partitionColumns);
  const fileSchema = new arrow.Schema(fields.map(deltaFieldToArrow));
  const open = new Map<string, OpenFile>();
  const done: AddFile[] = [];
  const targetBytes = options.targetFileBytes ?? 128 * 1024 * 1024;
  const maxRows = options.maxRowsPerFile ?? 4_000_000;
  try {
    for await (const batch of batches) {
      checkBatch(batch, target.schema);
      if (batch.numRows === 0) continue;
      for (const [key, part] of splitByPartition(batch, target)) {
        let file = open.get(key);
        if (!file) {
          options.acceptPartition?.(part.values);
          file = openFile(target, fields, fileSchema, part.values, options);
          open.set(key, file);
        }
        await file.push(part.batch);
        if (file.rows >= maxRows || file.bytes() >= targetBytes) {
          done.push(await file.finish());
          open.delete(key);
        }
      }
    }
    for (const file of open.values()) done.push(await file.finish());
  } catch (err) {
    // Nothing will commit these files: remove them now rather than leave orphans for vacuum.
    await Promise.allSettled([...open.values()].map((f) => f.finish()));
    const paths = [...done.map((f) => decodeAddPath(f.path)), ...[...open.values()].map((f) => f.path)];
    await Promise.allSettled(paths.map((p) => target.store.delete(p)));
    throw err;
  }
  return done;
}

function checkBatch(batch: arrow.RecordBatch, schema: DeltaStruct): void {
  for (const field of schema.fields) {
    const column = batch.getChild(field.name);
    if (!column) throw new WriteRejectedError(`delta write: input has no column "${field.name}" of the table schema`);
    if (!field.nullable && column.nullCount > 0) {
      let row = 0;
      for (const data of column.data) {
        for (let i = 0; i < data.length; i++, row++) {
          if (readValue(data, i, field.type) === null) {
            throw new WriteRejectedError(`delta write: column "${field.name}" is NOT NULL but input row ${row} of the batch has null`);
          }
        }
      }
    }
  }
}

function splitByPartition(batch: arrow.RecordBatch, target: WriteTarget): Map<string, { values: Record<string, string | null>; batch: arrow.RecordBatch }> {
  const out = new Map<string, { values: Record<string, string | null>; batch: arrow.RecordBatch }>();
  const dataOnly = (b: arrow.RecordBatch) => selectColumns(b, dataFields(target.schema, target.partitionColumns));
  if (target.partitionColumns.length === 0) {
    out.set('', { values: {}, batch: dataOnly(batch) });
    return out;
  }
  const fields = target.partitionColumns.map((c) => target.schema.fields.find((f) => f.name === c)!);
  const columns = fields.map((f) => readValues(batch.getChild(f.name)!, f.type));
  const groups = new Map<string, { values: Record<string, string | null>; rows: number[] }>();
  for (let i = 0; i < batch.numRows; i++) {
    const values: Record<string, string | null> = {};
    fields.forEach((f, c) => (values[f.name] = formatPartitionValue(columns[c][i], f.type)));
    const key = JSON.stringify(fields.map((f) => values[f.name]));
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { values, rows: [] }));
    group.rows.push(i);
  }
  for (const [key, group] of groups) {
    const rows = group.rows.length === batch.numRows ? batch : takeRows(batch, target.schema, group.rows);
    out.set(key, { values: group.values, batch: dataOnly(rows) });
  }
  return out;
}

/**
 * Select rows of a batch by index into a new batch (used to split mixed-partition batches).
 *
 * @param batch the batch
 * @param schema the Delta schema of its columns
 * @param rows row indexes to keep, in order
 * @returns the new batch
 */
export function takeRows(batch: arrow.RecordBatch, schema: DeltaStruct, rows: number[]): arrow.RecordBatch {
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of schema.fields) {
    const column = batch.getChild(field.name);
    if (!column) continue;
    const all = readValues(column, field.type);
    vectors[field.name] = buildVector(field.type, rows.map((r) => all[r]));
  }
  return new arrow.Table(vectors).batches[0];
}

function selectColumns(batch: arrow.RecordBatch, fields: DeltaField[]): arrow.RecordBatch {
  const schema = new arrow.Schema(fields.map(deltaFieldToArrow));
  const children = fields.map((f) => {
    const column = batch.getChild(f.name)!;
    // Input from other sources may use other Arrow types for the same Delta type (int32 for long, ms timestamps): convert.
    if (column.data.length === 1 && isCanonicalArrowType(column.type, f.type)) return column.data[0];
    return buildVector(f.type, readValues(column, f.type)).data[0];
  });
  return new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: batch.numRows, nullCount: 0, children }));
}

function openFile(
  target: WriteTarget,
  fields: DeltaField[],
  fileSchema: arrow.Schema,
  partitionValues: Record<string, string | null>,
  options: WriteFilesOptions,
): OpenFile {
  const dir = partitionDirectory(target.partitionColumns, partitionValues);
  const name = `part-00000-${randomUUID()}.c000.zstd.parquet`;
  const path = dir ? `${dir}/${name}` : name;
  const stats = newStats(fields, options.statsColumns ?? 32);
  // A push-fed queue of batches that the Parquet encoder pulls from.
  const queue: (arrow.RecordBatch | null)[] = [];
  let wake = (): void => undefined;
  let written = 0;
  async function* source(): AsyncGenerator<arrow.RecordBatch> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const next = queue.shift()!;
      if (next === null) return;
      yield next;
    }
  }
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of encodeParquet(source(), { rowGroupRows: options.rowGroupRows, metadata: { 'sluice.schema': JSON.stringify(fileSchema.fields.map((f) => f.name)) } })) {
      written += chunk.length;
      yield chunk;
    }
  }
  const upload = target.store.write(path, counted(), { contentType: 'application/vnd.apache.parquet' });
  upload.catch(() => undefined);
  const file: OpenFile = {
    path,
    partitionValues,
    rows: 0,
    bytes: () => written,
    async push(batch) {
      addBatchStats(stats, batch);
      file.rows += batch.numRows;
      queue.push(batch);
      wake();
      // Let the encoder drain so that at most a few batches wait in memory.
      while (queue.length > 2) await new Promise((r) => setImmediate(r));
    },
    async finish() {
      queue.push(null);
      wake();
      const info = await upload;
      return {
        path: encodeAddPath(path),
        partitionValues,
        size: info.size,
        modificationTime: info.lastModified.getTime(),
        dataChange: true,
        stats: statsToJson(stats),
      };
    },
  };
  return file;
}
