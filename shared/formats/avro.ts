/**
 * Avro object container files, streamed block by block, including Event Hubs Capture files.
 *
 * The container is parsed here (header, then blocks of `count`, `size`, data, sync marker) and records
 * are decoded with avsc, longs as bigint so none is rounded. The top-level record's fields become
 * columns:
 *
 * - primitives map to their Delta types; logical `date`, `timestamp-millis`/`-micros` (→ timestamp),
 *   `local-timestamp-*` (→ timestamp_ntz) and `decimal` (precision ≤ 38) are honoured;
 * - a union with one non-null branch is that branch, nullable; other unions become strings (scalars
 *   as text, complex values as JSON);
 * - records, arrays and maps are kept as JSON text (bronze stores what came; bytes inside them as
 *   base64, longs as JSON numbers written exactly);
 * - enums are strings, fixed is binary.
 *
 * Event Hubs Capture (record `EventData` with SequenceNumber, Offset, EnqueuedTimeUtc,
 * SystemProperties, Properties, Body): `EnqueuedTimeUtc` (written by Capture as `M/d/yyyy h:mm:ss AM`,
 * UTC) becomes a timestamp, with the original text rescued if it does not parse; `Body` stays binary
 * as sent, because Capture does not say what the producer put in it (JSON, Avro, text) and bronze does
 * not interpret payloads; `SystemProperties` and `Properties` are JSON text.
 *
 * Codecs: null, deflate, snappy (with its CRC32C check) and zstandard. A block that fails to decode
 * makes each of its records a bad record and reading resumes at the next block; a file cut inside a
 * block ends with a `fatal` at that block.
 */
import * as zlib from 'node:zlib';
import * as avro from 'avsc';
import { decompress as zstdDecompress } from 'fzstd';
import type { DeltaType } from '../delta/schema';
import type { ByteReader } from './bytes';
import { Rescue, typedColumn } from './convert';
import { toJsonText } from './json-text';
import type { ReadContext } from './reader';
import { ChunkPuller, RecordOutput } from './records';
import type { BadRecord } from './types';

/** avsc's long as bigint, so values beyond 2^53 are exact. */
const bigLong = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(0),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return b;
  },
  fromJSON: (v: unknown) => BigInt(v as number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});

/** A value that does not convert; the original goes to `_rescued_data`. */
class Unconvertible {
  constructor(readonly json: string) {}
}

type AvroSchema = string | { type: string | AvroSchema[] | AvroSchema; [key: string]: unknown } | AvroSchema[];

/** How one Avro field becomes a column. */
interface FieldMapping {
  type: DeltaType;
  note: string;
  convert: (v: unknown) => unknown;
}

/** Schema-resolving helpers over the writer schema JSON. */
class SchemaWalker {
  private readonly named = new Map<string, AvroSchema>();

  constructor(root: AvroSchema) {
    this.collect(root, '');
  }

  private collect(s: AvroSchema, ns: string): void {
    if (Array.isArray(s)) {
      s.forEach((b) => this.collect(b, ns));
      return;
    }
    if (typeof s !== 'object' || s === null) return;
    const name = typeof s.name === 'string' ? s.name : undefined;
    const space = typeof s.namespace === 'string' ? s.namespace : ns;
    if (name && (s.type === 'record' || s.type === 'error' || s.type === 'enum' || s.type === 'fixed')) {
      const full = name.includes('.') ? name : space ? `${space}.${name}` : name;
      this.named.set(full, s);
      this.named.set(name, s);
    }
    const inner = name && name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : space;
    if (Array.isArray(s.fields)) for (const f of s.fields as { type: AvroSchema }[]) this.collect(f.type, inner);
    if (s.items) this.collect(s.items as AvroSchema, inner);
    if (s.values) this.collect(s.values as AvroSchema, inner);
    if (typeof s.type === 'object') this.collect(s.type as AvroSchema, inner);
  }

  resolve(s: AvroSchema): AvroSchema {
    if (typeof s === 'string' && this.named.has(s)) return this.named.get(s)!;
    if (typeof s === 'object' && !Array.isArray(s) && typeof s.type === 'object') return this.resolve(s.type as AvroSchema);
    return s;
  }

  /** The type name of a (resolved) schema. */
  kind(s: AvroSchema): string {
    const r = this.resolve(s);
    if (Array.isArray(r)) return 'union';
    if (typeof r === 'string') return r;
    return r.type as string;
  }

  /** A decoded value as plain JS for JSON text: unions unwrapped, bytes base64, longs as bigint. */
  plain(v: unknown, s: AvroSchema): unknown {
    if (v === null || v === undefined) return null;
    const r = this.resolve(s);
    if (Array.isArray(r)) {
      const key = Object.keys(v as object)[0];
      const branch = r.find((b) => this.branchName(b) === key) ?? r[0];
      return this.plain((v as Record<string, unknown>)[key], branch);
    }
    const kind = this.kind(r);
    if (kind === 'bytes' || kind === 'fixed') return Buffer.from(v as Uint8Array).toString('base64');
    if (kind === 'record' || kind === 'error') {
      const out: Record<string, unknown> = {};
      for (const f of (r as unknown as { fields: { name: string; type: AvroSchema }[] }).fields) out[f.name] = this.plain((v as Record<string, unknown>)[f.name], f.type);
      return out;
    }
    if (kind === 'array') return (v as unknown[]).map((item) => this.plain(item, (r as unknown as { items: AvroSchema }).items));
    if (kind === 'map') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v as object)) out[k] = this.plain(item, (r as unknown as { values: AvroSchema }).values);
      return out;
    }
    return v;
  }

  /** The key avsc uses for a wrapped union branch. */
  branchName(b: AvroSchema): string {
    if (typeof b === 'string') return b;
    if (Array.isArray(b)) return 'union';
    if (typeof b.name === 'string') {
      const name = b.name;
      return name.includes('.') || typeof b.namespace !== 'string' ? name : `${b.namespace}.${name}`;
    }
    return typeof b.type === 'string' ? b.type : 'unknown';
  }

  /** How a field of schema `s` becomes a column. */
  mapping(s: AvroSchema): FieldMapping {
    const r = this.resolve(s);
    if (Array.isArray(r)) {
      const branches = r.filter((b) => this.kind(b) !== 'null');
      if (branches.length === 1) {
        const inner = this.mapping(branches[0]);
        return { ...inner, convert: (v) => (v === null || v === undefined ? null : inner.convert((v as Record<string, unknown>)[Object.keys(v as object)[0]])) };
      }
      return {
        type: 'string',
        note: 'string (union of several types)',
        convert: (v) => {
          const p = this.plain(v, r);
          return p === null ? null : typeof p === 'string' ? p : toJsonText(p);
        },
      };
    }
    const kind = this.kind(r);
    const logical = typeof r === 'object' ? (r as { logicalType?: string }).logicalType : undefined;
    switch (kind) {
      case 'null': return { type: 'string', note: 'string (Avro null)', convert: () => null };
      case 'boolean': return { type: 'boolean', note: 'boolean', convert: (v) => v };
      case 'int':
        if (logical === 'date') return { type: 'date', note: 'date (Avro date)', convert: (v) => v };
        return { type: 'integer', note: 'integer', convert: (v) => v };
      case 'long':
        if (logical === 'timestamp-millis') return { type: 'timestamp', note: 'timestamp (Avro timestamp-millis)', convert: (v) => BigInt(v as bigint) * 1000n };
        if (logical === 'timestamp-micros') return { type: 'timestamp', note: 'timestamp (Avro timestamp-micros)', convert: (v) => BigInt(v as bigint) };
        if (logical === 'local-timestamp-millis') return { type: 'timestamp_ntz', note: 'timestamp_ntz (Avro local-timestamp-millis)', convert: (v) => BigInt(v as bigint) * 1000n };
        if (logical === 'local-timestamp-micros') return { type: 'timestamp_ntz', note: 'timestamp_ntz (Avro local-timestamp-micros)', convert: (v) => BigInt(v as bigint) };
        return { type: 'long', note: 'long', convert: (v) => v };
      case 'float': return { type: 'float', note: 'float', convert: (v) => v };
      case 'double': return { type: 'double', note: 'double', convert: (v) => v };
      case 'string': return { type: 'string', note: 'string', convert: (v) => v };
      case 'enum': return { type: 'string', note: 'string (Avro enum)', convert: (v) => v };
      case 'bytes':
      case 'fixed': {
        const precision = Number((r as { precision?: number }).precision);
        const scale = Number((r as { scale?: number }).scale ?? 0);
        if (logical === 'decimal' && precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision) {
          return { type: `decimal(${precision},${scale})`, note: `decimal(${precision},${scale}) (Avro decimal)`, convert: (v) => twosComplement(v as Uint8Array) };
        }
        return { type: 'binary', note: kind === 'fixed' ? 'binary (Avro fixed)' : 'binary', convert: (v) => new Uint8Array(v as Uint8Array) };
      }
    }
    return { type: 'string', note: `string (Avro ${kind} kept as JSON text)`, convert: (v) => (v === null || v === undefined ? null : toJsonText(this.plain(v, r))) };
  }
}

const PRIMITIVE_TYPES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/**
 * The writer schema as given to avsc for decoding: primitives written in object form (`{"type":
 * "long", "logicalType": "timestamp-millis"}`) become their bare name, because avsc applies its type
 * registry (our bigint longs) only to bare names and would decode those longs as lossy JS numbers.
 * Logical types are applied by `SchemaWalker.mapping` from the original schema.
 */
function decodingSchema(s: AvroSchema): AvroSchema {
  if (Array.isArray(s)) return s.map(decodingSchema);
  if (typeof s !== 'object' || s === null) return s;
  if (typeof s.type === 'string' && PRIMITIVE_TYPES.has(s.type)) return s.type;
  const out: Record<string, unknown> = { ...s };
  if (typeof s.type === 'object') out.type = decodingSchema(s.type as AvroSchema);
  if (Array.isArray(s.fields)) out.fields = (s.fields as { type: AvroSchema }[]).map((f) => ({ ...f, type: decodingSchema(f.type) }));
  if (s.items) out.items = decodingSchema(s.items as AvroSchema);
  if (s.values) out.values = decodingSchema(s.values as AvroSchema);
  return out as AvroSchema;
}

function twosComplement(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return bytes.length && bytes[0] & 0x80 ? n - (1n << BigInt(bytes.length * 8)) : n;
}

const CAPTURE_FIELDS = ['SequenceNumber', 'Offset', 'EnqueuedTimeUtc', 'SystemProperties', 'Properties', 'Body'];

/**
 * Event Hubs Capture's `EnqueuedTimeUtc` (`9/13/2018 10:42:08 PM`, or ISO) as UTC microseconds.
 *
 * @param text the text Capture wrote
 * @returns microseconds, or null when it is not such a time
 */
export function parseCaptureTime(text: string): bigint | null {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ?(AM|PM)?$/i.exec(text.trim());
  if (!m) return null;
  const [, mo, d, y, hText, mi, s, frac = '', ampm] = m;
  let h = Number(hText);
  if (ampm) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + (ampm.toUpperCase() === 'PM' ? 12 : 0);
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), h, Number(mi), Number(s));
  const check = new Date(ms);
  if (Number.isNaN(ms) || check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || h > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  return BigInt(ms) * 1000n + BigInt(frac.padEnd(6, '0'));
}

function readVarLong(buf: Uint8Array, pos: number, end: number): [number, number] | null {
  let n = 0;
  let mul = 1;
  for (let p = pos; p < end && p < pos + 10; p++) {
    const b = buf[p];
    n += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) return [n % 2 === 0 ? n / 2 : -(n + 1) / 2, p + 1];
  }
  return null;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Raw Snappy block decompression (the format Avro's snappy codec uses, minus its CRC suffix). */
function snappyUncompress(input: Uint8Array): Uint8Array {
  let pos = 0;
  let length = 0;
  let mul = 1;
  for (;;) {
    if (pos >= input.length) throw new Error('snappy: truncated length');
    const b = input[pos++];
    length += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) break;
  }
  const out = new Uint8Array(length);
  let op = 0;
  while (pos < input.length) {
    const tag = input[pos++];
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = 0;
        for (let i = 0; i < bytes; i++) n += input[pos++] * 2 ** (8 * i);
      }
      n += 1;
      if (pos + n > input.length || op + n > length) throw new Error('snappy: literal out of range');
      out.set(input.subarray(pos, pos + n), op);
      pos += n;
      op += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      n = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[pos++];
    } else if (kind === 2) {
      n = (tag >>> 2) + 1;
      offset = input[pos] | (input[pos + 1] << 8);
      pos += 2;
    } else {
      n = (tag >>> 2) + 1;
      offset = (input[pos] | (input[pos + 1] << 8) | (input[pos + 2] << 16) | (input[pos + 3] << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > op || op + n > length) throw new Error('snappy: copy out of range');
    for (let i = 0; i < n; i++, op++) out[op] = out[op - offset];
  }
  if (op !== length) throw new Error('snappy: length mismatch');
  return out;
}

function decompressBlock(codec: string, data: Buffer): Buffer {
  switch (codec) {
    case 'null': return data;
    case 'deflate': return zlib.inflateRawSync(data);
    case 'zstandard': return Buffer.from(zstdDecompress(data));
    case 'snappy': {
      const body = snappyUncompress(data.subarray(0, data.length - 4));
      const expected = data.readUInt32BE(data.length - 4);
      if (crc32c(body) !== expected) throw new Error('snappy block checksum mismatch');
      return Buffer.from(body.buffer, body.byteOffset, body.length);
    }
  }
  throw new Error(`unsupported Avro codec ${codec}`);
}

/**
 * Read an Avro container file into `ctx.result`.
 *
 * @param input the (decompressed) bytes
 * @param ctx the read in progress
 */
export async function readAvro(input: ByteReader, ctx: ReadContext): Promise<void> {
  const { result } = ctx;
  let buf = Buffer.alloc(0);
  let base = 0;
  let pos = 0;
  const puller = new ChunkPuller(input);
  const pull = async (): Promise<boolean> => {
    const chunk = await puller.next();
    if (!chunk) return false;
    buf = pos > 0 ? Buffer.concat([buf.subarray(pos), chunk]) : Buffer.concat([buf, chunk]);
    base += pos;
    pos = 0;
    return true;
  };

  // Header.
  let header: { meta: Record<string, Buffer>; sync: Buffer } | undefined;
  for (;;) {
    if (buf.length >= 4 && !(buf[0] === 0x4f && buf[1] === 0x62 && buf[2] === 0x6a && buf[3] === 0x01)) {
      result.fatal = { byteOffset: 0, reason: 'not an Avro container file (no Obj\\x01 magic)' };
      return;
    }
    if (buf.length >= 4) {
      const decoded = HEADER.decode(buf, 0) as { value?: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
      if (decoded.offset >= 0) {
        header = decoded.value!;
        pos = decoded.offset;
        break;
      }
    }
    if (!(await pull())) {
      result.fatal = { byteOffset: 0, reason: puller.damage ? puller.damage.message : 'truncated Avro file (incomplete header)' };
      result.stats.bytesRead = ctx.storedBytes();
      return;
    }
  }
  const codec = header.meta['avro.codec']?.toString() || 'null';
  if (!['null', 'deflate', 'snappy', 'zstandard'].includes(codec)) {
    result.fatal = { byteOffset: 0, reason: `unsupported Avro codec "${codec}"` };
    return;
  }
  let schemaJson: AvroSchema;
  let type: avro.Type;
  try {
    schemaJson = JSON.parse(header.meta['avro.schema'].toString()) as AvroSchema;
    type = avro.Type.forSchema(decodingSchema(schemaJson) as never, { registry: { long: bigLong }, wrapUnions: true } as never);
  } catch (err) {
    result.fatal = { byteOffset: 0, reason: `invalid Avro schema: ${err instanceof Error ? err.message : String(err)}` };
    return;
  }
  const walker = new SchemaWalker(schemaJson);
  const root = walker.resolve(schemaJson);
  const isRecord = walker.kind(root) === 'record';
  const avroFields: { name: string; type: AvroSchema }[] = isRecord ? (root as unknown as { fields: { name: string; type: AvroSchema }[] }).fields : [{ name: 'value', type: root }];
  const capture = isRecord && CAPTURE_FIELDS.every((n) => avroFields.some((f) => f.name === n));
  const mappings = avroFields.map((f): FieldMapping => {
    if (capture && f.name === 'EnqueuedTimeUtc') {
      return {
        type: 'timestamp',
        note: 'timestamp (Event Hubs Capture EnqueuedTimeUtc, M/d/yyyy h:mm:ss AM/PM UTC)',
        convert: (v) => {
          if (v === null || v === undefined) return null;
          const text = String(walker.plain(v, f.type));
          return parseCaptureTime(text) ?? new Unconvertible(JSON.stringify(text));
        },
      };
    }
    const m = walker.mapping(f.type);
    if (capture && f.name === 'Body') return { ...m, note: `${m.note} (event body as sent, not interpreted)` };
    return m;
  });
  const output = new RecordOutput(ctx, avroFields.map((f, i) => ({ name: f.name, inferred: { type: mappings[i].type, note: mappings[i].note, dateFormat: 'yyyy-MM-dd' } })), true);
  if (capture) result.inference['#avro'] = 'Event Hubs Capture layout';
  const sync = header.sync;

  let columns: unknown[][] = [];
  let rows = 0;
  const start = () => {
    columns = avroFields.map(() => []);
    rows = 0;
  };
  start();
  const pending: BadRecord[] = [];
  let recordNo = 0;
  const flush = () => {
    const m = rows;
    const rescue = new Rescue();
    const children = output.layout.columns.map((col) => {
      if (col.input < 0) return output.absent(col, m);
      const values = columns[col.input];
      for (let r = 0; r < m; r++) {
        const v = values[r];
        if (v instanceof Unconvertible) {
          rescue.add(r, col.name, v.json);
          values[r] = null;
        }
      }
      return typedColumn(values, mappings[col.input].type, col.type, col.dateFormat, rescue, col.name);
    });
    start();
    return output.batch(children, rescue, m);
  };

  result.batches = (async function* () {
    // Where the input stops being records when it ends early: set when the last block is incomplete.
    let lostFrom = -1;
    for (;;) {
      // One block: count, size, data, sync.
      const count = readVarLong(buf, pos, buf.length);
      const size = count ? readVarLong(buf, count[1], buf.length) : null;
      const dataStart = size ? size[1] : 0;
      if (!count || !size || dataStart + size[0] + 16 > buf.length) {
        if (!puller.eof && (await pull())) continue;
        if (!puller.eof) continue;
        if (puller.damage) lostFrom = base + pos;
        else if (pos < buf.length) result.fatal = { byteOffset: base + pos, reason: `truncated Avro file: the block at byte offset ${base + pos} is incomplete` };
        break;
      }
      const blockOffset = base + pos;
      const n = count[0];
      const data = buf.subarray(dataStart, dataStart + size[0]);
      const marker = buf.subarray(dataStart + size[0], dataStart + size[0] + 16);
      if (n < 0 || size[0] < 0 || !marker.equals(sync)) {
        result.fatal = { byteOffset: blockOffset, reason: `corrupt Avro file: no sync marker after the block at byte offset ${blockOffset}` };
        break;
      }
      pos = dataStart + size[0] + 16;
      let decodedCount = 0;
      let failure = '';
      try {
        const block = decompressBlock(codec, data);
        let off = 0;
        for (; decodedCount < n; decodedCount++) {
          const { value, offset } = type.decode(block, off) as { value: Record<string, unknown>; offset: number };
          if (offset < 0) throw new Error('record runs past the end of its block');
          off = offset;
          const record = isRecord ? value : { value };
          recordNo++;
          // Converted whole before it joins the batch: a record is a row or a bad record, never half of one.
          let converted: unknown[];
          try {
            converted = avroFields.map((f, i) => {
              const v = record[f.name];
              return v === null || v === undefined ? null : mappings[i].convert(v);
            });
          } catch (err) {
            pending.push({ row: recordNo, byteOffset: blockOffset, reason: `Avro record ${recordNo} in the block at byte offset ${blockOffset} does not convert: ${err instanceof Error ? err.message : String(err)}` });
            continue;
          }
          const r = rows++;
          converted.forEach((v, i) => {
            columns[i][r] = v;
          });
          if (rows >= ctx.batchRows) {
            output.release(pending);
            yield flush();
          }
        }
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
      for (let i = decodedCount; i < n; i++) {
        recordNo++;
        pending.push({ row: recordNo, byteOffset: blockOffset, reason: `undecodable Avro record in the block at byte offset ${blockOffset}: ${failure}` });
      }
    }
    if (rows > 0) yield flush();
    output.release(pending);
    output.end(recordNo, lostFrom >= 0 ? puller.damage : null, lostFrom);
  })();
}
