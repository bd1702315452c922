/**
 * A minimal NDJSON reader that honours the formats contract (shared/formats/types.ts), for the ingest
 * tests while the real readers are being written: streaming line by line, schema inferred from the
 * first `sampleRows` records (integers → long, other numbers → double, booleans, strings; objects,
 * arrays and mixtures → string), `schemaHints` and `targetSchema` win, new columns reported, values
 * that do not fit their column's type go to `_rescued_data`, malformed lines become bad records.
 * No vitest import: child processes use it too.
 */
import * as arrow from 'apache-arrow';
import type { DeltaField, DeltaStruct, DeltaType } from '../../shared/delta/schema';
import { deltaFieldToArrow } from '../../shared/delta/schema';
import { buildVector } from '../../shared/delta/values';
import type { BadRecord, ReadOptions, ReadResult } from '../../shared/formats/types';
import type { ReadInput } from '../../shared/ingest/reader';

const RESCUED = '_rescued_data';

interface Line {
  text: string;
  row: number;
  byteOffset: number;
}

async function* lines(input: AsyncIterable<Uint8Array>, counter: { bytes: number }): AsyncGenerator<Line> {
  const decoder = new TextDecoder();
  let pending = '';
  let pendingOffset = 0;
  let row = 0;
  for await (const chunk of input) {
    counter.bytes += chunk.length;
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      row++;
      yield { text, row, byteOffset: pendingOffset };
      pendingOffset += Buffer.byteLength(text) + 1;
      pending = pending.slice(nl + 1);
    }
  }
  pending += decoder.decode();
  if (pending.length) yield { text: pending, row: row + 1, byteOffset: pendingOffset };
}

function inferType(value: unknown): DeltaType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'long' : 'double';
  return 'string';
}

function widen(a: DeltaType | undefined, b: DeltaType): DeltaType {
  if (!a || a === b) return b;
  if ((a === 'long' && b === 'double') || (a === 'double' && b === 'long')) return 'double';
  return 'string';
}

/** The value in the JS form of `type`, or undefined when it does not fit. */
function coerce(value: unknown, type: DeltaType): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'long': return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined;
    case 'integer': return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? value : undefined;
    case 'double':
    case 'float': return typeof value === 'number' ? value : undefined;
    case 'boolean': return typeof value === 'boolean' ? value : undefined;
    case 'string': return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return undefined;
}

/** The NDJSON test reader. */
export const ndjsonReader: ReadInput = async (input: AsyncIterable<Uint8Array>, _name: string, options: ReadOptions): Promise<ReadResult> => {
  const counter = { bytes: 0 };
  const source = lines(input, counter)[Symbol.asyncIterator]();
  const badRecords: BadRecord[] = [];
  const stats = { rowsRead: 0, rowsEmitted: 0, rowsWithRescued: 0, bytesRead: 0 };
  const sample: { line: Line; value: Record<string, unknown> }[] = [];
  const sampleRows = options.sampleRows ?? 1000;
  let exhausted = false;
  const parse = (line: Line): Record<string, unknown> | null => {
    try {
      const value = JSON.parse(line.text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
      throw new Error('not a JSON object');
    } catch (err) {
      stats.rowsRead++;
      badRecords.push({ row: line.row, byteOffset: line.byteOffset, reason: `malformed JSON line: ${(err as Error).message}`, raw: line.text.slice(0, 4096) });
      return null;
    }
  };
  const pending: Line[] = [];
  while (sample.length < sampleRows) {
    const next = await source.next();
    if (next.done) {
      exhausted = true;
      break;
    }
    if (!next.value.text.trim()) continue;
    pending.push(next.value);
    try {
      const value = JSON.parse(next.value.text);
      if (value && typeof value === 'object' && !Array.isArray(value)) sample.push({ line: next.value, value });
    } catch {
      // reported when the line is emitted
    }
  }
  const inferred = new Map<string, DeltaType>();
  for (const { value } of sample) {
    for (const [key, v] of Object.entries(value)) {
      if (v === null) {
        if (!inferred.has(key)) inferred.set(key, 'void');
        continue;
      }
      const prior = inferred.get(key);
      inferred.set(key, widen(prior === 'void' ? undefined : prior, inferType(v)));
    }
  }
  const hints = options.schemaHints ?? {};
  const fieldOf = (name: string, type: DeltaType): DeltaField => ({ name, type: hints[name] ?? (type === 'void' ? 'string' : type), nullable: true, metadata: {} });
  const target = options.targetSchema?.fields ?? [];
  const targetNames = new Set(target.map((f) => f.name.toLowerCase()));
  const newFields = options.targetSchema ? [...inferred].filter(([k]) => !targetNames.has(k.toLowerCase()) && k !== RESCUED).map(([k, t]) => fieldOf(k, t)) : [];
  const dataFields: DeltaField[] = options.targetSchema ? [...target, ...newFields] : [...inferred].filter(([k]) => k !== RESCUED).map(([k, t]) => fieldOf(k, t));
  const schema: DeltaStruct = { type: 'struct', fields: [...dataFields, { name: RESCUED, type: 'string', nullable: true, metadata: {} }] };
  const arrowSchema = new arrow.Schema(schema.fields.map(deltaFieldToArrow));
  const batchRows = options.batchRows ?? 65536;
  const fatal: BadRecord | undefined = counter.bytes === 0 && exhausted ? { reason: 'empty file', byteOffset: 0 } : undefined;

  async function* batches(): AsyncGenerator<arrow.RecordBatch> {
    let rows: unknown[][] = [];
    const flush = () => {
      const children = schema.fields.map((f, c) => buildVector(f.type, rows.map((r) => r[c])).data[0]);
      const batch = new arrow.RecordBatch(arrowSchema, arrow.makeData({ type: new arrow.Struct(arrowSchema.fields), length: rows.length, nullCount: 0, children }));
      stats.rowsEmitted += rows.length;
      rows = [];
      return batch;
    };
    const take = (line: Line) => {
      if (!line.text.trim()) return;
      const value = parse(line);
      if (!value) return;
      stats.rowsRead++;
      const rescued: Record<string, unknown> = {};
      const row = dataFields.map((f) => {
        const key = Object.keys(value).find((k) => k.toLowerCase() === f.name.toLowerCase());
        if (key === undefined) return null;
        const v = coerce(value[key], f.type);
        if (v === undefined) {
          rescued[key] = value[key];
          return null;
        }
        return v;
      });
      for (const key of Object.keys(value)) {
        if (!dataFields.some((f) => f.name.toLowerCase() === key.toLowerCase())) rescued[key] = value[key];
      }
      const any = Object.keys(rescued).length > 0;
      if (any) stats.rowsWithRescued++;
      row.push(any ? JSON.stringify(rescued) : null);
      rows.push(row);
    };
    for (const line of pending) {
      take(line);
      if (rows.length >= batchRows) yield flush();
    }
    if (!exhausted) {
      for (;;) {
        const next = await source.next();
        if (next.done) break;
        take(next.value);
        if (rows.length >= batchRows) yield flush();
      }
    }
    if (rows.length) yield flush();
    stats.bytesRead = counter.bytes;
  }

  return { format: 'ndjson', compression: 'none', inference: {}, schema, newFields, batches: batches(), badRecords, stats, ...(fatal ? { fatal } : {}) };
};
