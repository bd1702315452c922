/**
 * Bronze columns: the metadata columns every ingested row gets, the schema a file is written in, and
 * turning reader batches into batches of that schema.
 *
 * | column | type | value |
 * |---|---|---|
 * | `_rescued_data` | string | JSON object of values that did not fit (from the reader; in `rescue` mode also the new columns) |
 * | `_ingested_at` | timestamp | when the ingestion attempt started (UTC) |
 * | `_source_file` | string | path of the blob in the landing container |
 * | `_source_etag` | string | ETag of the blob version read (no quotes) |
 * | `_load_date` | date | UTC date of `_ingested_at`; the default partition column |
 */
import * as arrow from 'apache-arrow';
import type { DeltaField, DeltaStruct, DeltaType } from '../delta/schema';
import { deltaFieldToArrow, deltaToArrowType } from '../delta/schema';
import { encodeValue, stringifyJson, type JsonValue } from '../delta/rows';
import { buildVector, isCanonicalArrowType, readValues } from '../delta/values';
import { RESCUED_COLUMN } from '../formats/types';

/** Metadata columns added to every row of a file, in table order. */
export const FILE_METADATA_FIELDS: readonly DeltaField[] = [
  { name: '_ingested_at', type: 'timestamp', nullable: true, metadata: {} },
  { name: '_source_file', type: 'string', nullable: true, metadata: {} },
  { name: '_source_etag', type: 'string', nullable: true, metadata: {} },
  { name: '_load_date', type: 'date', nullable: true, metadata: {} },
];

/** The rescued-data column. */
export const RESCUED_FIELD: DeltaField = { name: RESCUED_COLUMN, type: 'string', nullable: true, metadata: {} };

/**
 * Columns the stage owns (never data columns of the input); Event Hubs columns included. Readers get
 * them as `reservedColumns`, so an input column with such a name is renamed rather than overwritten.
 */
export const SYSTEM_COLUMN_NAMES: readonly string[] = [
  RESCUED_COLUMN,
  ...FILE_METADATA_FIELDS.map((f) => f.name),
  '_eh_partition',
  '_eh_sequence_number',
  '_eh_offset',
  '_eh_enqueued_time',
];

const SYSTEM_COLUMNS = new Set(SYSTEM_COLUMN_NAMES);

/**
 * Whether a column is one the stage adds (metadata or rescued data).
 *
 * @param name column name
 * @returns true for system columns
 */
export function isSystemColumn(name: string): boolean {
  return SYSTEM_COLUMNS.has(name.toLowerCase());
}

/**
 * The part of a table schema a reader must conform to (`ReadOptions.targetSchema`): the data columns.
 *
 * @param schema the table schema
 * @returns the schema without system columns
 */
export function dataSchema(schema: DeltaStruct): DeltaStruct {
  return { type: 'struct', fields: schema.fields.filter((f) => !isSystemColumn(f.name)) };
}

/**
 * Data columns of a reader schema that the table does not have.
 *
 * @param readerSchema the reader's emitted schema
 * @param table the table schema (null: no table yet — nothing is new)
 * @returns the new columns, `void` typed ones made `string`
 */
export function newColumns(readerSchema: DeltaStruct, table: DeltaStruct | null): DeltaField[] {
  if (!table) return [];
  const have = new Set(table.fields.map((f) => f.name.toLowerCase()));
  return readerSchema.fields.filter((f) => !isSystemColumn(f.name) && !have.has(f.name.toLowerCase())).map(asNewField);
}

function asNewField(field: DeltaField): DeltaField {
  return { name: field.name, type: field.type === 'void' ? 'string' : field.type, nullable: true, metadata: {} };
}

/**
 * Schema of a table created from a file: its data columns, `_rescued_data`, the metadata columns.
 *
 * @param readerSchema the reader's emitted schema
 * @returns the new table's schema
 */
export function creationSchema(readerSchema: DeltaStruct): DeltaStruct {
  const data = readerSchema.fields.filter((f) => !isSystemColumn(f.name)).map(asNewField);
  return { type: 'struct', fields: [...data, RESCUED_FIELD, ...FILE_METADATA_FIELDS] };
}

/**
 * The schema a file is written in: the table's columns, then (when they may be added) the file's new
 * columns, then any system column the table lacks (a table not created by this stage).
 *
 * @param table the table schema
 * @param added new data columns to add (empty unless the mode is addNewColumns)
 * @returns the write schema, and whether it differs from the table schema
 */
export function writeSchema(table: DeltaStruct, added: DeltaField[]): { schema: DeltaStruct; evolved: boolean } {
  const have = new Set(table.fields.map((f) => f.name.toLowerCase()));
  const extra = [...added, RESCUED_FIELD, ...FILE_METADATA_FIELDS].filter((f) => !have.has(f.name.toLowerCase()));
  return { schema: { type: 'struct', fields: [...table.fields, ...extra] }, evolved: extra.length > 0 };
}

/** Per-file values of the metadata columns. */
export interface FileMetadata {
  /** Microseconds since the epoch (UTC). */
  ingestedAtMicros: bigint;
  sourceFile: string;
  sourceEtag: string;
  /** Days since the epoch. */
  loadDate: number;
}

/**
 * Metadata column values for an ingestion at `now`.
 *
 * @param now attempt start
 * @param path blob path
 * @param etag normalised ETag
 * @returns the values
 */
export function fileMetadata(now: Date, path: string, etag: string): FileMetadata {
  const ms = now.getTime();
  return { ingestedAtMicros: BigInt(ms) * 1000n, sourceFile: path, sourceEtag: etag, loadDate: Math.floor(ms / 86_400_000) };
}

/**
 * A column of one timestamp (microseconds) or date (days) value, filled in its buffer at once instead
 * of built value by value; null for other types and values.
 */
function repeatedFixed(type: DeltaType, length: number, value: unknown): arrow.Data | null {
  if ((type === 'timestamp' || type === 'timestamp_ntz') && typeof value === 'bigint') {
    return arrow.makeData({ type: deltaToArrowType(type), length, nullCount: 0, data: new BigInt64Array(length).fill(value) } as never);
  }
  if (type === 'date' && typeof value === 'number' && Number.isInteger(value)) {
    return arrow.makeData({ type: deltaToArrowType(type), length, nullCount: 0, data: new Int32Array(length).fill(value) } as never);
  }
  return null;
}

/**
 * Turns reader batches into batches of the write schema: columns matched by name (case-insensitive),
 * missing ones null, metadata columns filled, and in `rescue` mode the values of new columns moved
 * into `_rescued_data`.
 */
export class BatchConformer {
  private readonly arrowSchema: arrow.Schema;
  private readonly constants = new Map<string, { length: number; data: arrow.Data }>();
  /** Rows written so far with a non-null `_rescued_data`. */
  rowsRescued = 0;
  rowsWritten = 0;

  /**
   * @param schema the write schema
   * @param metadata metadata column values
   * @param rescueColumns new input columns whose values go to `_rescued_data` (rescue mode)
   */
  constructor(
    private readonly schema: DeltaStruct,
    private readonly metadata: FileMetadata,
    private readonly rescueColumns: DeltaField[] = [],
  ) {
    this.arrowSchema = new arrow.Schema(schema.fields.map(deltaFieldToArrow));
  }

  conform(batch: arrow.RecordBatch): arrow.RecordBatch {
    const length = batch.numRows;
    const byName = new Map<string, arrow.Vector>();
    batch.schema.fields.forEach((f, i) => byName.set(f.name.toLowerCase(), batch.getChildAt(i)!));
    const children = this.schema.fields.map((field) => {
      const lower = field.name.toLowerCase();
      switch (lower) {
        case '_ingested_at':
          return this.constant(field, length, this.metadata.ingestedAtMicros);
        case '_source_file':
          return this.constant(field, length, this.metadata.sourceFile);
        case '_source_etag':
          return this.constant(field, length, this.metadata.sourceEtag);
        case '_load_date':
          return this.constant(field, length, this.metadata.loadDate);
        case RESCUED_COLUMN:
          return this.rescued(field, batch, byName);
      }
      const column = byName.get(lower);
      if (!column) return buildVector(field.type, new Array(length).fill(null)).data[0];
      return convert(column, field);
    });
    this.rowsWritten += length;
    return new arrow.RecordBatch(this.arrowSchema, arrow.makeData({ type: new arrow.Struct(this.arrowSchema.fields), length, nullCount: 0, children }));
  }

  private constant(field: DeltaField, length: number, value: unknown): arrow.Data {
    const cached = this.constants.get(field.name);
    if (cached && cached.length === length) return cached.data;
    const data =
      field.type === 'string' && typeof value === 'string'
        ? repeatedText(value, length)
        : (repeatedFixed(field.type, length, value) ?? buildVector(field.type, new Array(length).fill(value)).data[0]);
    this.constants.set(field.name, { length, data });
    return data;
  }

  private rescued(field: DeltaField, batch: arrow.RecordBatch, byName: Map<string, arrow.Vector>): arrow.Data {
    const length = batch.numRows;
    const column = byName.get(RESCUED_COLUMN);
    const moved = this.rescueColumns
      .map((f) => ({ field: f, vector: byName.get(f.name.toLowerCase()) }))
      .filter((c): c is { field: DeltaField; vector: arrow.Vector } => !!c.vector)
      .map((c) => ({ name: c.field.name, type: c.field.type, values: readValues(c.vector, c.field.type) }));
    if (column && !moved.length && isCanonicalArrowType(column.type, 'string') && column.data.length === 1) {
      // The reader's column as it is: its non-null values are the rescued rows (no value read one by one).
      this.rowsRescued += column.length - column.nullCount;
      return column.data[0];
    }
    const existing: (string | null)[] = column ? (readValues(column, 'string') as (string | null)[]) : new Array(length).fill(null);
    let values = existing;
    if (moved.length) {
      values = existing.map((text, row) => {
        let object: Record<string, JsonValue> | null = null;
        for (const m of moved) {
          const v = m.values[row];
          if (v === null || v === undefined) continue;
          object ??= text ? parseObject(text) : {};
          object[m.name] = encodeValue(v, m.type as DeltaType);
        }
        return object ? stringifyJson(object) : text;
      });
    }
    for (const v of values) if (v !== null && v !== undefined) this.rowsRescued++;
    return buildVector(field.type, values).data[0];
  }
}

/** A string column holding one value in every row: its UTF-8 bytes encoded once and repeated. */
function repeatedText(value: string, length: number): arrow.Data {
  const bytes = new TextEncoder().encode(value);
  const data = new Uint8Array(bytes.length * length);
  const offsets = new Int32Array(length + 1);
  for (let r = 0; r < length; r++) {
    data.set(bytes, r * bytes.length);
    offsets[r + 1] = (r + 1) * bytes.length;
  }
  return arrow.makeData({ type: new arrow.Utf8(), length, nullCount: 0, valueOffsets: offsets, data });
}

function parseObject(text: string): Record<string, JsonValue> {
  try {
    const value = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // not JSON: keep it under a key of its own
  }
  return { [RESCUED_COLUMN]: text };
}

function convert(column: arrow.Vector, field: DeltaField): arrow.Data {
  if (column.data.length === 1 && isCanonicalArrowType(column.type, field.type)) return column.data[0];
  let values = readValues(column, field.type);
  if (field.type === 'string')
    values = values.map((v) =>
      v === null || v === undefined || typeof v === 'string'
        ? v
        : typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : stringifyJson(encodeValue(v, 'string')),
    );
  return buildVector(field.type, values).data[0];
}
