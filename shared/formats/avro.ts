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
 * Codecs: null, deflate, snappy (with its CRC32C check) and zstandard. The container is read
 * defensively (avro-container.ts): every count and length a block declares is checked against the
 * bytes there before avsc decodes anything, and a block may take and inflate to at most the record-size
 * limit (`ReadOptions.maxRecordBytes`). A block that does not hold what it declares, or fails to
 * decompress, is ONE bad record (its byte offset and why; it counts as one record read, since its
 * declared count cannot be trusted) and reading resumes after the next sync marker. A file cut inside
 * a block ends with a `fatal` at that block.
 */
import * as avro from 'avsc';
import type { DeltaType } from '../delta/schema';
import { AvroBlockError, AvroHeader, blockInflater, Cursor, MAX_EMPTY_ITEMS, parseHeader, recordChecker } from './avro-container';
import type { ByteReader } from './bytes';
import { typedColumn } from './convert';
import { Rescue } from './rescue';
import { toJsonText } from './json-text';
import { MAX_BATCH_BYTES, maxRecordBytes, ReadContext } from './reader';
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
      for (const f of (r as unknown as { fields: { name: string; type: AvroSchema }[] }).fields)
        out[f.name] = this.plain((v as Record<string, unknown>)[f.name], f.type);
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
        return {
          ...inner,
          convert: (v) => (v === null || v === undefined ? null : inner.convert((v as Record<string, unknown>)[Object.keys(v as object)[0]])),
        };
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
      case 'null':
        return { type: 'string', note: 'string (Avro null)', convert: () => null };
      case 'boolean':
        return { type: 'boolean', note: 'boolean', convert: (v) => v };
      case 'int':
        if (logical === 'date') return { type: 'date', note: 'date (Avro date)', convert: (v) => v };
        return { type: 'integer', note: 'integer', convert: (v) => v };
      case 'long':
        if (logical === 'timestamp-millis')
          return { type: 'timestamp', note: 'timestamp (Avro timestamp-millis)', convert: (v) => BigInt(v as bigint) * 1000n };
        if (logical === 'timestamp-micros') return { type: 'timestamp', note: 'timestamp (Avro timestamp-micros)', convert: (v) => BigInt(v as bigint) };
        if (logical === 'local-timestamp-millis')
          return { type: 'timestamp_ntz', note: 'timestamp_ntz (Avro local-timestamp-millis)', convert: (v) => BigInt(v as bigint) * 1000n };
        if (logical === 'local-timestamp-micros')
          return { type: 'timestamp_ntz', note: 'timestamp_ntz (Avro local-timestamp-micros)', convert: (v) => BigInt(v as bigint) };
        return { type: 'long', note: 'long', convert: (v) => v };
      case 'float':
        return { type: 'float', note: 'float', convert: (v) => v };
      case 'double':
        return { type: 'double', note: 'double', convert: (v) => v };
      case 'string':
        return { type: 'string', note: 'string', convert: (v) => v };
      case 'enum':
        return { type: 'string', note: 'string (Avro enum)', convert: (v) => v };
      case 'bytes':
      case 'fixed': {
        const precision = Number((r as { precision?: number }).precision);
        const scale = Number((r as { scale?: number }).scale ?? 0);
        if (logical === 'decimal' && precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision) {
          return {
            type: `decimal(${precision},${scale})`,
            note: `decimal(${precision},${scale}) (Avro decimal)`,
            convert: (v) => twosComplement(v as Uint8Array),
          };
        }
        return { type: 'binary', note: kind === 'fixed' ? 'binary (Avro fixed)' : 'binary', convert: (v) => new Uint8Array(v as Uint8Array) };
      }
    }
    return {
      type: 'string',
      note: `string (Avro ${kind} kept as JSON text)`,
      convert: (v) => (v === null || v === undefined ? null : toJsonText(this.plain(v, r))),
    };
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
  if (Number.isNaN(ms) || check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || h > 23 || Number(mi) > 59 || Number(s) > 59)
    return null;
  return BigInt(ms) * 1000n + BigInt(frac.padEnd(6, '0'));
}

/**
 * The input from the block being read on: bytes are pulled in as a block needs them, one copy per
 * pull (never the quadratic re-concatenation of growing buffers), and dropped once consumed.
 */
class BlockInput {
  buf = Buffer.alloc(0);
  pos = 0;
  /** Offset in the (decompressed) input of `buf[0]`. */
  base = 0;

  constructor(readonly puller: ChunkPuller) {}

  /** Offset in the input of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /**
   * Have at least `n` unread bytes in `buf` (fewer only when the input ends first).
   *
   * @param n bytes wanted
   * @returns whether they are there
   */
  async ensure(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    const parts: Uint8Array[] = [this.buf.subarray(this.pos)];
    let have = this.available;
    while (have < n) {
      const chunk = await this.puller.next();
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    this.base += this.pos;
    this.buf = Buffer.concat(parts, have);
    this.pos = 0;
    return have >= n;
  }

  /**
   * Move past the next occurrence of `marker` at or after `from` (an offset in the input), discarding
   * what comes before it, in bounded memory.
   *
   * @param marker the sync marker
   * @param from input offset to search from
   * @returns whether it was found (when not, everything to the end was discarded)
   */
  async skipPast(marker: Buffer, from: number): Promise<boolean> {
    this.pos = Math.max(this.pos, from - this.base);
    for (;;) {
      const at = this.buf.indexOf(marker, this.pos);
      if (at >= 0) {
        this.pos = at + marker.length;
        return true;
      }
      // A marker may straddle two chunks: keep its length minus one.
      this.pos = Math.max(this.pos, this.buf.length - (marker.length - 1));
      const chunk = await this.puller.next();
      if (!chunk) {
        this.pos = this.buf.length;
        return false;
      }
      this.base += this.pos;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
  }
}

/**
 * Read an Avro container file into `ctx.result`.
 *
 * @param input the (decompressed) bytes
 * @param ctx the read in progress
 */
export async function readAvro(input: ByteReader, ctx: ReadContext): Promise<void> {
  const { result } = ctx;
  const limit = maxRecordBytes(ctx);
  const puller = new ChunkPuller(input);
  const bytes = new BlockInput(puller);

  // Header: pulled in until it parses, never beyond the limit whatever lengths it declares.
  let header: AvroHeader;
  try {
    for (;;) {
      const parsed = parseHeader(bytes.buf, puller.eof, limit);
      if (parsed !== 'more') {
        header = parsed;
        break;
      }
      if (bytes.buf.length >= limit) throw new AvroBlockError(`the header is longer than the limit of ${limit} bytes`);
      await bytes.ensure(Math.min(limit, Math.max(2 * bytes.buf.length, 64 * 1024)));
    }
  } catch (err) {
    if (!(err instanceof AvroBlockError)) throw err;
    const reason = puller.damage
      ? puller.damage.message
      : /runs past the end|only \d+ remain/.test(err.message)
        ? 'truncated Avro file (incomplete header)'
        : err.message;
    result.fatal = { byteOffset: 0, reason: /^not an Avro|^truncated/.test(reason) || puller.damage ? reason : `corrupt Avro header: ${reason}` };
    result.stats.bytesRead = ctx.storedBytes();
    return;
  }
  bytes.pos = header.length;
  const codec = header.meta.get('avro.codec')?.toString() || 'null';
  const inflate = await blockInflater(codec);
  if (!inflate) {
    result.fatal = { byteOffset: 0, reason: `unsupported Avro codec "${codec}"` };
    return;
  }
  let schemaJson: AvroSchema;
  let type: avro.Type;
  let checker: ReturnType<typeof recordChecker>;
  try {
    schemaJson = JSON.parse(header.meta.get('avro.schema')?.toString() ?? 'null') as AvroSchema;
    type = avro.Type.forSchema(decodingSchema(schemaJson) as never, { registry: { long: bigLong }, wrapUnions: true } as never);
    checker = recordChecker(type);
  } catch (err) {
    result.fatal = { byteOffset: 0, reason: `invalid Avro schema: ${err instanceof Error ? err.message : String(err)}` };
    return;
  }
  const walker = new SchemaWalker(schemaJson);
  const root = walker.resolve(schemaJson);
  const isRecord = walker.kind(root) === 'record';
  const avroFields: { name: string; type: AvroSchema }[] = isRecord
    ? (root as unknown as { fields: { name: string; type: AvroSchema }[] }).fields
    : [{ name: 'value', type: root }];
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
  const output = new RecordOutput(
    ctx,
    avroFields.map((f, i) => ({ name: f.name, inferred: { type: mappings[i].type, note: mappings[i].note, dateFormat: 'yyyy-MM-dd' } })),
    true,
  );
  if (capture) result.inference['#avro'] = 'Event Hubs Capture layout';
  const sync = header.sync;

  let columns: unknown[][] = [];
  let rows = 0;
  let batchBytes = 0;
  const start = () => {
    columns = avroFields.map(() => []);
    rows = 0;
    batchBytes = 0;
  };
  start();
  const pending: BadRecord[] = [];
  let recordNo = 0;
  let badBlocks = 0;
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

  /** One bad block (it counts as one record read); reading resumes after the next sync marker from `resumeFrom`. */
  const badBlock = async (blockOffset: number, why: string, resumeFrom: number | null) => {
    badBlocks++;
    let where = '';
    if (resumeFrom !== null) {
      where = (await bytes.skipPast(sync, resumeFrom))
        ? `; reading resumed after the sync marker ending at byte offset ${bytes.offset}`
        : `; no sync marker follows, so the rest of the input (from byte offset ${blockOffset}) is skipped`;
    }
    pending.push({ byteOffset: blockOffset, reason: `bad Avro block at byte offset ${blockOffset}: ${why}${where}` });
    // A file of nothing but bad blocks must not pile them up here until the end.
    if (pending.length >= 1024) output.release(pending);
  };

  result.batches = (async function* () {
    // Where the input stops being records when it ends early: set when the last block is incomplete.
    let lostFrom = -1;
    for (;;) {
      if (!(await bytes.ensure(1))) {
        if (puller.damage) lostFrom = bytes.offset;
        break;
      }
      const blockOffset = bytes.offset;
      await bytes.ensure(20);
      // Count and size: two varints at most 10 bytes each.
      const head = new Cursor(bytes.buf, bytes.pos, bytes.buf.length);
      let count: number;
      let size: number;
      try {
        count = head.long('the record count');
        size = head.long('the block size');
      } catch (err) {
        if (!(err instanceof AvroBlockError)) throw err;
        if (bytes.available < 20 && puller.eof) {
          if (puller.damage) lostFrom = blockOffset;
          else result.fatal = { byteOffset: blockOffset, reason: `truncated Avro file: the block at byte offset ${blockOffset} is incomplete` };
          break;
        }
        await badBlock(blockOffset, err.message, blockOffset + 1);
        continue;
      }
      if (count < 0 || size < 0) {
        await badBlock(blockOffset, `it declares a negative ${count < 0 ? `record count (${count})` : `size (${size})`}`, blockOffset + 1);
        continue;
      }
      if (size > limit) {
        await badBlock(blockOffset, `it declares ${size} bytes, more than the limit of ${limit} bytes`, blockOffset + 1);
        continue;
      }
      // Positions relative to `bytes.pos`: `ensure` may move the bytes to a new buffer.
      const headerBytes = head.pos - bytes.pos;
      if (!(await bytes.ensure(headerBytes + size + 16))) {
        if (puller.damage) {
          lostFrom = blockOffset;
          break;
        }
        // A cut file, unless a sync marker follows: then the size lied.
        const resumed = await bytes.skipPast(sync, blockOffset + 1);
        if (!resumed) {
          result.fatal = { byteOffset: blockOffset, reason: `truncated Avro file: the block at byte offset ${blockOffset} is incomplete` };
          break;
        }
        badBlocks++;
        pending.push({
          byteOffset: blockOffset,
          reason: `bad Avro block at byte offset ${blockOffset}: it declares ${size} bytes, more than the input holds before the next sync marker (ending at byte offset ${bytes.offset}), where reading resumed`,
        });
        continue;
      }
      const offsetInBuf = bytes.pos + headerBytes;
      const data = bytes.buf.subarray(offsetInBuf, offsetInBuf + size);
      if (!bytes.buf.subarray(offsetInBuf + size, offsetInBuf + size + 16).equals(sync)) {
        await badBlock(blockOffset, `no sync marker after the ${size} bytes it declares`, blockOffset + 1);
        continue;
      }
      bytes.pos = offsetInBuf + size + 16;

      let block: Buffer;
      try {
        block = inflate(data, limit);
        // A count the bytes cannot hold is refused before a single record is decoded or allocated.
        if (checker.minBytes > 0 ? count * checker.minBytes > block.length : count > MAX_EMPTY_ITEMS) {
          throw new AvroBlockError(
            `it declares ${count} records in ${block.length} bytes, and a record takes at least ${checker.minBytes} byte${checker.minBytes === 1 ? '' : 's'}`,
          );
        }
        const cursor = new Cursor(block, 0, block.length);
        for (let i = 0; i < count; i++) {
          try {
            checker.skip(cursor);
          } catch (err) {
            if (err instanceof AvroBlockError) throw new AvroBlockError(`record ${i + 1} of the ${count} it declares: ${err.message}`);
            throw err;
          }
        }
        if (cursor.pos !== block.length) throw new AvroBlockError(`${block.length - cursor.pos} bytes follow the last of the ${count} records it declares`);
      } catch (err) {
        if (!(err instanceof AvroBlockError)) throw err;
        await badBlock(blockOffset, err.message, null);
        continue;
      }
      // Checked: every record lies within the block and ends where the next begins.
      for (let i = 0, off = 0; i < count; i++) {
        const { value, offset: end } = type.decode(block, off) as { value: Record<string, unknown>; offset: number };
        batchBytes += end - off;
        off = end;
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
          pending.push({
            row: recordNo,
            byteOffset: blockOffset,
            reason: `Avro record ${recordNo} in the block at byte offset ${blockOffset} does not convert: ${err instanceof Error ? err.message : String(err)}`,
          });
          continue;
        }
        const r = rows++;
        converted.forEach((v, i) => {
          columns[i][r] = v;
        });
        if (rows >= ctx.batchRows || batchBytes >= MAX_BATCH_BYTES) {
          output.release(pending);
          yield flush();
        }
      }
    }
    if (rows > 0) yield flush();
    output.release(pending);
    output.end(recordNo + badBlocks, lostFrom >= 0 ? puller.damage : null, lostFrom);
  })();
}
