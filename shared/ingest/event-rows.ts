/**
 * What one Event Hubs event becomes in a bronze table: its body split into candidate rows (one JSON
 * object per row) for the shared/formats reader — read from the decoded objects' values when the host
 * decoded them and every record of the batch allows it (json-objects.ts), else as NDJSON text, with
 * the same result —, the per-event metadata columns, and the dead-letter entries of rows that cannot
 * be ingested.
 *
 * | column | type | value |
 * |---|---|---|
 * | `_rescued_data` | string | JSON object of values that did not fit (as for files) |
 * | `_ingested_at` | timestamp | when the ingestion started (UTC) |
 * | `_eh_partition` | string | Event Hubs partition id |
 * | `_eh_sequence_number` | long | the event's sequence number in its partition |
 * | `_eh_offset` | string | the event's offset (string form) |
 * | `_eh_enqueued_time` | timestamp | when Event Hubs accepted the event (UTC) |
 * | `_load_date` | date | UTC date of `_ingested_at`; the default partition column |
 *
 * Event tables have no `_source_file` / `_source_etag`: an event has neither, and its identity is
 * (partition, sequence number). A table that also receives files gets those columns from the file path
 * (rows from events read null there), just as a file table gets the `_eh_*` columns from its first
 * event batch; events written to a table that has them put null in them.
 */
import * as arrow from 'apache-arrow';
import { deltaFieldToArrow, type DeltaField, type DeltaStruct } from '../delta/schema';
import { allBadRecords, badRecordCount } from '../formats/bad-records';
import { readJsonObjects } from '../formats/json-objects';
import { firstInvalidUtf8 } from '../formats/reader';
import type { BadRecord, ReadOptions } from '../formats/types';
import { creationSchema, isSystemColumn, RESCUED_FIELD, SYSTEM_COLUMN_NAMES } from './columns';
import { deadLetterPath, writeDeadLetter } from './deadletter';
import type { DeadLetterRecord, DeadLetterTarget, HubEvent, HubPartition } from './types';
import type { ReadInput } from './reader';

/** Metadata columns added to every row of an event, in table order. */
export const EVENT_METADATA_FIELDS: readonly DeltaField[] = [
  { name: '_ingested_at', type: 'timestamp', nullable: true, metadata: {} },
  { name: '_eh_partition', type: 'string', nullable: true, metadata: {} },
  { name: '_eh_sequence_number', type: 'long', nullable: true, metadata: {} },
  { name: '_eh_offset', type: 'string', nullable: true, metadata: {} },
  { name: '_eh_enqueued_time', type: 'timestamp', nullable: true, metadata: {} },
  { name: '_load_date', type: 'date', nullable: true, metadata: {} },
];

/** File columns that rows of events leave null when a table has them. */
const FILE_ONLY_COLUMNS = new Set(['_source_file', '_source_etag']);

/**
 * Schema of a table created by an event batch: the data columns the reader found, `_rescued_data`,
 * then the event metadata columns.
 *
 * @param readerSchema the reader's emitted schema
 * @returns the new table's schema
 */
export function eventCreationSchema(readerSchema: DeltaStruct): DeltaStruct {
  // creationSchema decides how inferred columns become table columns (void → string); only the
  // metadata columns differ from a file's.
  const data = creationSchema(readerSchema).fields.filter((f) => !isSystemColumn(f.name));
  return { type: 'struct', fields: [...data, RESCUED_FIELD, ...EVENT_METADATA_FIELDS] };
}

/**
 * The schema event rows are written in: the table's columns, the new data columns when they may be
 * added, then any event system column the table lacks (e.g. a table created by a file).
 *
 * @param table the table schema
 * @param added new data columns to add (empty unless the mode is addNewColumns)
 * @returns the write schema, and whether it differs from the table schema
 */
export function eventWriteSchema(table: DeltaStruct, added: DeltaField[]): { schema: DeltaStruct; evolved: boolean } {
  const have = new Set(table.fields.map((f) => f.name.toLowerCase()));
  const extra = [...added, RESCUED_FIELD, ...EVENT_METADATA_FIELDS].filter((f) => !have.has(f.name.toLowerCase()));
  return { schema: { type: 'struct', fields: [...table.fields, ...extra] }, evolved: extra.length > 0 };
}

/**
 * One row an event body holds: a JSON object for the reader (as an NDJSON line, or as the object the
 * host decoded), or why it cannot be a row.
 */
export interface BodyRow {
  /** 1-based element number when the body is a JSON array. */
  element?: number;
  /** One JSON object on one line. */
  line?: string;
  /**
   * The object as the host decoded it, in place of `line`: read from its values when every row of the
   * batch can be (shared/formats/json-objects.ts), else made into its line first (`objectRow`).
   */
  object?: Record<string, unknown>;
  /** Why there is no row (set exactly when neither `line` nor `object` is). */
  reason?: string;
  /** Column involved, when one is. */
  column?: string;
  /** The text of the body or element, for the dead-letter record. */
  raw?: string;
  /** The body's bytes when they are not text. */
  rawBase64?: string;
}

/**
 * Split an event body into rows: a JSON object is one row, a JSON array of objects one row per
 * element; anything else (not UTF-8, not JSON, a scalar, an empty array) is one row that cannot be
 * ingested. Plain objects the host already decoded are kept as they are (`object`); other decoded
 * values are serialised again; text keeps its numbers as written (the reader infers types from the
 * text, so `12345678901234567890` is not rounded).
 *
 * @param body the body as the trigger delivers it
 * @returns the rows
 */
export function decodeBody(body: unknown): BodyRow[] {
  if (body === null || body === undefined) return [{ reason: 'empty body (null)' }];
  if (body instanceof ArrayBuffer) body = new Uint8Array(body);
  if (body instanceof Uint8Array) {
    const bad = firstInvalidUtf8(body, 0, body.length);
    if (bad < 0) return textRows(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
    const reason = `body is not UTF-8 text: invalid byte 0x${body[bad].toString(16).padStart(2, '0')} at byte offset ${bad}`;
    return [{ reason, rawBase64: Buffer.from(body).toString('base64') }];
  }
  if (typeof body === 'string') return textRows(body);
  if (!Array.isArray(body)) return [plainObject(body) ? { object: body } : objectRow(body)];
  if (body.length === 0) return [{ reason: 'body is an empty JSON array (no rows)', raw: '[]' }];
  return body.map((element, i) => (plainObject(element) ? { element: i + 1, object: element } : objectRow(element, i + 1)));
}

/** A decoded value `JSON.stringify` writes as its own members: a plain object without `toJSON`. */
function plainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Whether a row is one for the reader (it has a line or an object), not one that cannot be ingested.
 *
 * @param row the row
 * @returns whether it has a record
 */
export function hasRecord(row: BodyRow): boolean {
  return row.line !== undefined || row.object !== undefined;
}

/**
 * The JSON text of a row's record, for a dead-letter record.
 *
 * @param row a row with a record
 * @returns its line, or its object as JSON
 */
export function recordText(row: BodyRow): string | undefined {
  return row.line ?? (row.object !== undefined ? JSON.stringify(row.object) : undefined);
}

/** Turn a row's decoded object into its line (or into why it has none), for the NDJSON reader. */
function toLine(row: BodyRow): void {
  const made = objectRow(row.object, row.element);
  row.object = undefined;
  row.line = made.line;
  if (made.reason !== undefined) Object.assign(row, { reason: made.reason, raw: made.raw });
}

/** A value the host decoded, as one row. */
function objectRow(value: unknown, element?: number): BodyRow {
  const at = element === undefined ? {} : { element };
  const what = element === undefined ? 'body' : `array element ${element}`;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    return { ...at, reason: `${what} cannot be written as JSON: ${(err as Error).message}`, raw: String(value) };
  }
  if (text === undefined) return { ...at, reason: `${what} is ${typeof value}, not a JSON object`, raw: String(value) };
  if (value === null || typeof value !== 'object' || Array.isArray(value) || text.charCodeAt(0) !== 0x7b) {
    return { ...at, reason: `${what} is ${kindOf(value)}, not a JSON object`, raw: text };
  }
  return element === undefined ? { line: text } : { element, line: text };
}

/** A text body as rows. */
function textRows(raw: string): BodyRow[] {
  const text = (raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw).trim();
  if (!text) return [{ reason: 'empty body (no text)', raw }];
  let value: unknown;
  try {
    // The strict parser decides validity (control characters in strings, trailing commas, …);
    // the values come from the reader, which keeps numbers exact.
    value = JSON.parse(text);
  } catch (err) {
    return [{ reason: `body is not valid JSON: ${(err as Error).message}`, raw }];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return [{ reason: 'body is an empty JSON array (no rows)', raw }];
    return arrayElements(text).map((element, i) => {
      if (element.startsWith('{')) return { element: i + 1, line: oneLine(element) };
      return { element: i + 1, reason: `array element ${i + 1} is ${kindOf(value[i])}, not a JSON object`, raw: element };
    });
  }
  if (value === null || typeof value !== 'object') return [{ reason: `body is ${kindOf(value)}, not a JSON object`, raw }];
  return [{ line: oneLine(text) }];
}

/** Valid JSON on one line: line breaks can only be whitespace between tokens there. */
function oneLine(json: string): string {
  return json.replace(/[\r\n]+/g, ' ');
}

/**
 * The source text of each element of a valid JSON array.
 *
 * @param text valid JSON whose value is an array
 * @returns the elements' text, trimmed
 */
function arrayElements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth === 1) start = i + 1;
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth === 0) {
        out.push(text.slice(start, i).trim());
        break;
      }
    } else if (c === 0x2c && depth === 1) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return out;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return `a ${typeof value}`;
  }
}

/** The `_eh_*` columns each row gets from its event (the other metadata columns are the same for a whole batch). */
const EVENT_ROW_FIELDS = EVENT_METADATA_FIELDS.filter((f) => f.name.startsWith('_eh_')).map(deltaFieldToArrow);

/**
 * Add the per-row event columns (`_eh_*`) to a batch of the reader, before BatchConformer puts it in
 * the write schema (which then takes them by name, as it takes the data columns, and fills the
 * columns shared with files).
 *
 * @param batch rows as the reader emitted them (input columns named like these are renamed by the reader)
 * @param partitionId the partition all events come from
 * @param events the event of each row, in row order
 * @returns the batch with the event columns after its own
 */
export function withEventColumns(batch: arrow.RecordBatch, partitionId: string, events: readonly HubEvent[]): arrow.RecordBatch {
  const length = batch.numRows;
  const typeOf = (name: string) => EVENT_ROW_FIELDS.find((f) => f.name === name)!.type;
  // Built straight into Arrow buffers: one pass over the events per column, no per-event value array,
  // BigInt or string encoding (built value by value, these columns cost more than the body columns).
  const columns: Record<string, arrow.Data> = {
    _eh_partition: repeatedString(partitionId, length),
    _eh_sequence_number: longData(
      typeOf('_eh_sequence_number'),
      events.map((e) => (Number.isSafeInteger(e.sequenceNumber) ? e.sequenceNumber : null)),
    ),
    _eh_offset: stringData(events.map((e) => (e.offset === undefined || e.offset === null ? null : String(e.offset)))),
    _eh_enqueued_time: longData(
      typeOf('_eh_enqueued_time'),
      events.map((e) => millis(e.enqueuedTime)),
      1000,
    ),
  };
  const fields = [...batch.schema.fields, ...EVENT_ROW_FIELDS];
  const children = [...batch.data.children, ...EVENT_ROW_FIELDS.map((f) => columns[f.name])];
  const schema = new arrow.Schema(fields);
  return new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(fields), length, nullCount: 0, children }));
}

/**
 * Rows of events have no source file: null in `_source_file` / `_source_etag` when the table has them
 * (a table created by a file), where BatchConformer put the file metadata.
 *
 * @param batch rows in the write schema
 * @returns the batch with those columns null
 */
export function clearFileColumns(batch: arrow.RecordBatch): arrow.RecordBatch {
  if (!batch.schema.fields.some((f) => FILE_ONLY_COLUMNS.has(f.name.toLowerCase()))) return batch;
  const length = batch.numRows;
  const children = batch.schema.fields.map((field, i) => (FILE_ONLY_COLUMNS.has(field.name.toLowerCase()) ? nullStrings(length) : batch.data.children[i]));
  return new arrow.RecordBatch(batch.schema, arrow.makeData({ type: new arrow.Struct(batch.schema.fields), length, nullCount: 0, children }));
}

/** Milliseconds since the epoch, or null for a missing or invalid time. */
function millis(time: unknown): number | null {
  const ms = time instanceof Date ? time.getTime() : time === undefined || time === null ? NaN : new Date(time as string).getTime();
  return Number.isFinite(ms) ? ms : null;
}

function nullStrings(length: number): arrow.Data {
  const nullBitmap = new Uint8Array((length + 7) >> 3);
  return arrow.makeData({ type: new arrow.Utf8(), length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) });
}

function repeatedString(value: string, length: number): arrow.Data {
  const bytes = Buffer.from(value, 'utf8');
  const data = new Uint8Array(bytes.length * length);
  const valueOffsets = new Int32Array(length + 1);
  for (let r = 0; r < length; r++) {
    data.set(bytes, r * bytes.length);
    valueOffsets[r + 1] = (r + 1) * bytes.length;
  }
  return arrow.makeData({ type: new arrow.Utf8(), length, nullCount: 0, valueOffsets, data });
}

/** A string column encoded in one call: the values joined, offsets from their UTF-8 lengths. */
function stringData(values: readonly (string | null)[]): arrow.Data {
  const length = values.length;
  const valueOffsets = new Int32Array(length + 1);
  const nullBitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  let chars = 0;
  for (let r = 0; r < length; r++) {
    const v = values[r];
    if (v === null) nullCount++;
    else {
      nullBitmap[r >> 3] |= 1 << (r & 7);
      chars += v.length;
    }
  }
  const joined = values.join('');
  const data = Buffer.from(joined, 'utf8');
  // Offsets count bytes: char lengths are byte lengths when the text is ASCII, else measure each value.
  const ascii = data.length === chars;
  let at = 0;
  for (let r = 0; r < length; r++) {
    const v = values[r];
    if (v !== null) at += ascii ? v.length : Buffer.byteLength(v, 'utf8');
    valueOffsets[r + 1] = at;
  }
  const validity = nullCount ? { nullBitmap } : {};
  return arrow.makeData({
    type: new arrow.Utf8(),
    length,
    nullCount,
    ...validity,
    valueOffsets,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  });
}

/**
 * A 64-bit integer column (long, or a timestamp in microseconds when `scale` is 1000) from safe
 * integers, written as two 32-bit words each so that no BigInt is made per value.
 */
function longData(type: arrow.DataType, values: readonly (number | null)[], scale = 1): arrow.Data {
  const length = values.length;
  const words = new Int32Array(length * 2);
  const nullBitmap = new Uint8Array((length + 7) >> 3);
  let nullCount = 0;
  let big: BigInt64Array | null = null;
  for (let r = 0; r < length; r++) {
    const v = values[r];
    if (v === null) {
      nullCount++;
      continue;
    }
    nullBitmap[r >> 3] |= 1 << (r & 7);
    const n = v * scale;
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
      words[2 * r] = (n % 0x1_0000_0000) | 0;
      words[2 * r + 1] = Math.floor(n / 0x1_0000_0000);
    } else {
      big ??= new BigInt64Array(words.buffer);
      big[r] = BigInt(v) * BigInt(scale);
    }
  }
  const data = new BigInt64Array(words.buffer);
  const validity = nullCount ? { nullBitmap } : {};
  return arrow.makeData({ type, length, nullCount, ...validity, data } as never);
}

/** A row of one of the batch's events. */
export interface EventRow extends BodyRow {
  /** Index of the event in the delivered batch. */
  event: number;
}

/** What the reader made of a set of rows. */
export interface EventRead {
  /** The reader's data schema (empty when no row was given). */
  schema: DeltaStruct;
  batches: arrow.RecordBatch[];
  /** The event (index) of each emitted row, in row order across `batches`. */
  rowEvents: number[];
}

/**
 * Read the rows that have a record through the shared/formats reader as NDJSON (types inferred from
 * all of them, converted to `targetSchema`, misfits rescued). When every record is a decoded object
 * and `objects` allows it, they are read from their values (`readJsonObjects`, the same result),
 * else as lines of JSON text. Rows the reader rejects lose their record and get its reason, so
 * afterwards every row either has a record (and is in the batches, in order) or a reason.
 *
 * @param reader the input reader
 * @param rows the rows (changed in place)
 * @param name input name for messages
 * @param options hints and target schema
 * @param objects whether decoded objects may be read from their values (false: `reader` reads all)
 * @returns the batches and the event of each row in them
 */
export async function readEventRows(reader: ReadInput, rows: EventRow[], name: string, options: ReadOptions, objects = true): Promise<EventRead> {
  let lines = rows.filter(hasRecord);
  if (lines.length === 0) return { schema: { type: 'struct', fields: [] }, batches: [], rowEvents: [] };
  const readOptions: ReadOptions = {
    ...options,
    format: 'ndjson',
    compression: 'none',
    sampleRows: lines.length,
    // Column writers sized to the batch, not to the reader's default of 32,768 rows (allocated per call).
    batchRows: lines.length,
    // Body keys named like a metadata column are renamed by the reader (`_eh_offset_1`), not overwritten.
    reservedColumns: [...SYSTEM_COLUMN_NAMES],
  };
  // The inference notes are not used here: the types of the table's columns need not be inferred.
  const direct = objects && lines.every((r) => r.object !== undefined);
  let result = direct
    ? readJsonObjects(
        lines.map((r) => r.object),
        name,
        readOptions,
        { targetColumns: 'skip' },
      )
    : null;
  if (!result) {
    for (const row of lines) if (row.object !== undefined) toLine(row);
    lines = lines.filter((r) => r.line !== undefined);
    if (lines.length === 0) return { schema: { type: 'struct', fields: [] }, batches: [], rowEvents: [] };
    result = await reader(ndjson(lines.map((r) => r.line!)), name, readOptions);
  }
  const batches: arrow.RecordBatch[] = [];
  for await (const batch of result.batches) batches.push(batch);
  const rejected = new Map<number, BadRecord>();
  for (const bad of allBadRecords(result)) if (bad.row !== undefined) rejected.set(bad.row, bad);
  result.moreBadRecords?.dispose();
  const badCount = badRecordCount(result);
  const rowEvents: number[] = [];
  lines.forEach((row, i) => {
    const bad = rejected.get(i + 1);
    if (!bad) return void rowEvents.push(row.event);
    row.raw = recordText(row);
    row.line = undefined;
    row.object = undefined;
    row.reason = bad.reason;
    if (bad.column) row.column = bad.column;
  });
  const emitted = batches.reduce((n, b) => n + b.numRows, 0);
  if (result.stats.rowsRead !== lines.length || emitted !== rowEvents.length || badCount !== rejected.size) {
    throw new Error(
      `ingest events: accounting mismatch reading ${name}: ${lines.length} rows given, the reader read ${result.stats.rowsRead}, ` +
        `emitted ${emitted} and rejected ${badCount}${result.fatal ? ` (${result.fatal.reason})` : ''}`,
    );
  }
  return { schema: result.schema, batches, rowEvents };
}

async function* ndjson(lines: string[]): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (let i = 0; i < lines.length; i += 1000) yield encoder.encode(lines.slice(i, i + 1000).join('\n') + '\n');
}

/**
 * The body as the dead-letter record keeps it: text, or base64 when it is bytes that are not UTF-8.
 *
 * @param body the body as delivered
 * @returns `raw` or `rawBase64`
 */
export function rawBody(body: unknown): Pick<BodyRow, 'raw' | 'rawBase64'> {
  if (body instanceof ArrayBuffer) body = new Uint8Array(body);
  if (body instanceof Uint8Array) {
    if (firstInvalidUtf8(body, 0, body.length) >= 0) return { rawBase64: Buffer.from(body).toString('base64') };
    return { raw: Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8') };
  }
  if (typeof body === 'string') return { raw: body };
  try {
    return { raw: JSON.stringify(body) ?? String(body) };
  } catch {
    return { raw: String(body) };
  }
}

/** Who writes a dead-letter record of events, and why. */
export interface EventDeadLetterContext {
  target: DeadLetterTarget;
  /** Ledger key of the table. */
  table: string;
  partition: HubPartition;
  /** Dates the folder. */
  startedAt: string;
  /** Attempt id: each attempt writes its own record, so one that did not land can remove its own. */
  attempt: string;
  /** Batch-level reason (the whole batch failed). */
  reason?: string;
  counts: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number } & Record<string, number>;
}

/**
 * Write the dead-letter record of event rows, at
 * `<prefix><date>/eventhubs/<namespace>/<hub>/<consumer group>/<partition>@seq<first>-<last>.<attempt>.json`.
 * Unlike a file's record it carries each whole body (`raw`, or `rawBase64` for bytes that are not
 * text): an event cannot be read again once the checkpoint has moved past it. Each entry names the
 * partition, sequence number, offset and enqueued time, the array element when the body was an
 * array, and the reason.
 *
 * @param ctx where, for which table and partition, and the counts
 * @param rows the rows that could not be ingested
 * @param events the delivered events (rows refer to them by index)
 * @returns the record's path in the dead-letter store
 */
export async function writeEventDeadLetter(ctx: EventDeadLetterContext, rows: EventRow[], events: readonly HubEvent[]): Promise<string> {
  const { namespace, hub, consumerGroup, partitionId } = ctx.partition;
  const sequences = rows.map((r) => events[r.event].sequenceNumber).filter((n) => Number.isSafeInteger(n));
  const range = sequences.length ? `${Math.min(...sequences)}-${Math.max(...sequences)}` : 'none';
  const path = deadLetterPath(
    ctx.target,
    ctx.startedAt,
    `eventhubs/${namespace}/${hub}/${consumerGroup}/${partitionId}`,
    `seq${range}.${ctx.attempt.slice(0, 8)}`,
  );
  const records: BadRecord[] = rows.map((row) => {
    const event = events[row.event];
    const enqueued = millis(event.enqueuedTime);
    const entry = {
      partition: partitionId,
      sequenceNumber: event.sequenceNumber,
      offset: event.offset,
      ...(enqueued !== null ? { enqueuedTime: new Date(enqueued).toISOString() } : {}),
      ...(event.partitionKey ? { partitionKey: event.partitionKey } : {}),
      ...(row.element !== undefined ? { element: row.element } : {}),
      ...(row.column ? { column: row.column } : {}),
      reason: row.reason ?? ctx.reason ?? 'not ingested',
      ...(row.raw !== undefined ? { raw: row.raw } : {}),
      ...(row.rawBase64 !== undefined ? { rawBase64: row.rawBase64 } : {}),
      ...(event.properties && Object.keys(event.properties).length ? { properties: event.properties } : {}),
    };
    return entry;
  });
  const source = {
    landing: `sb://${namespace}/${hub}`,
    path: `${consumerGroup}/${partitionId}`,
    etag: `seq ${range}`,
    size: rows.reduce((n, r) => n + (r.rawBase64 ? Buffer.from(r.rawBase64, 'base64').length : Buffer.byteLength(r.raw ?? '')), 0),
    eventHub: { namespace, hub, consumerGroup, partitionId },
  };
  const record: DeadLetterRecord = {
    table: ctx.table,
    source,
    ...(ctx.reason ? { reason: ctx.reason } : {}),
    counts: ctx.counts,
    createdAt: new Date().toISOString(),
    records,
  };
  return writeDeadLetter(ctx.target, path, record);
}
