/**
 * The Avro object container format, read defensively: a header (magic, metadata map, 16-byte sync
 * marker), then blocks of record count, byte size, data and the sync marker again.
 *
 * A file declares counts and lengths, and a hostile or damaged one declares whatever it likes: a
 * hundred million records in one byte, a 4 GiB string in a 1 KiB block, a block inflating a
 * thousandfold. So every declared count and length is checked against the bytes actually there (and
 * against the record-size limit) before anything is allocated for it, and decompression stops at the
 * limit. A block whose declarations do not hold is one bad block (`AvroBlockError`); the reader then
 * resumes after the next sync marker, which is what the markers are for.
 */
import * as zlib from 'node:zlib';
import type * as avro from 'avsc';
import { Decompress as ZstdDecompress } from 'fzstd';
import { crc32c } from './crc32c';

/** A block (or the header) declares something its bytes do not hold. */
export class AvroBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AvroBlockError';
  }
}

/** Nesting deeper than this (a recursive schema) is refused before avsc recurses into it. */
const MAX_DEPTH = 512;
/**
 * Values that take no bytes (nulls, empty records) cannot be checked against the bytes there, so one
 * record may hold at most this many of them in its arrays and maps.
 */
export const MAX_EMPTY_ITEMS = 1 << 20;

/** Reads the zig-zag varints and fixed lengths of one span of bytes, refusing to run past its end. */
export class Cursor {
  /** Items that took no bytes so far (see `MAX_EMPTY_ITEMS`). */
  emptyItems = 0;

  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  /** Bytes left in the span. */
  get left(): number {
    return this.end - this.pos;
  }

  /**
   * A zig-zag varint long, as a number (exact up to 2^53; anything larger is a lie about a length).
   *
   * @param what what it is, for the message
   * @returns the value
   */
  long(what: string): number {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new AvroBlockError(`${what} runs past the end of its bytes`);
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
    throw new AvroBlockError(`${what} is a varint longer than 10 bytes`);
  }

  /**
   * Step over `n` bytes.
   *
   * @param n how many
   * @param what what they are, for the message
   */
  bytes(n: number, what: string): void {
    if (n < 0) throw new AvroBlockError(`${what} declares a negative length (${n})`);
    if (n > this.left) throw new AvroBlockError(`${what} declares ${n} bytes, only ${this.left} remain`);
    this.pos += n;
  }

  /**
   * A declared item count, checked against the bytes left (each item takes at least `minBytes`).
   *
   * @param n the count
   * @param minBytes the fewest bytes one item takes
   * @param what what is counted, for the message
   */
  items(n: number, minBytes: number, what: string): void {
    if (minBytes > 0) {
      if (n * minBytes > this.left)
        throw new AvroBlockError(`${what} declares ${n} items of at least ${minBytes} byte${minBytes > 1 ? 's' : ''} each, only ${this.left} bytes remain`);
      return;
    }
    this.emptyItems += n;
    if (this.emptyItems > MAX_EMPTY_ITEMS) throw new AvroBlockError(`${what} declares more than ${MAX_EMPTY_ITEMS} items that take no bytes`);
  }
}

/** Steps over one encoded value, checking every count and length in it. */
type Skip = (c: Cursor, depth: number) => void;

/** The fewest bytes a value of `type` takes (a lower bound: 0 where a type refers back to itself). */
function minBytes(type: avro.Type, seen: Map<avro.Type, number>): number {
  const known = seen.get(type);
  if (known !== undefined) return known;
  seen.set(type, 0);
  const t = type as unknown as { typeName: string; fields?: { type: avro.Type }[]; types?: avro.Type[]; size?: number };
  let n: number;
  switch (t.typeName) {
    case 'null':
      n = 0;
      break;
    case 'float':
      n = 4;
      break;
    case 'double':
      n = 8;
      break;
    case 'fixed':
      n = t.size ?? 0;
      break;
    case 'record':
    case 'error':
      n = (t.fields ?? []).reduce((sum, f) => sum + minBytes(f.type, seen), 0);
      break;
    // A union is its index then a branch; everything else (ints, lengths, counts) is at least one byte.
    case 'union:wrapped':
    case 'union:unwrapped':
      n = 1 + Math.min(...(t.types ?? []).map((b) => minBytes(b, seen)));
      break;
    default:
      n = 1;
  }
  seen.set(type, n);
  return n;
}

/**
 * The checker of one record type: steps over an encoded record, throwing `AvroBlockError` at the
 * first count or length its bytes do not hold, so avsc only ever decodes bytes that hold what they say.
 *
 * @param type the writer schema as avsc parsed it
 * @returns the checker and the fewest bytes a record takes
 */
export function recordChecker(type: avro.Type): { skip: (c: Cursor) => void; minBytes: number } {
  const sizes = new Map<avro.Type, number>();
  const compiled = new Map<avro.Type, Skip>();
  const compile = (t: avro.Type): Skip => {
    const known = compiled.get(t);
    if (known) return known;
    let impl: Skip = () => undefined;
    // Recursive schemas refer back to a type still being compiled: go through the slot.
    compiled.set(t, (c, depth) => impl(c, depth));
    impl = build(t);
    return compiled.get(t)!;
  };
  const build = (type: avro.Type): Skip => {
    const t = type as unknown as {
      typeName: string;
      fields?: { name: string; type: avro.Type }[];
      types?: avro.Type[];
      itemsType?: avro.Type;
      valuesType?: avro.Type;
      size?: number;
      symbols?: string[];
    };
    switch (t.typeName) {
      case 'null':
        return () => undefined;
      case 'boolean':
        return (c) => c.bytes(1, 'a boolean');
      case 'int':
      case 'long':
      case 'abstract:long':
        return (c) => void c.long(`an ${t.typeName === 'int' ? 'int' : 'long'}`);
      case 'float':
        return (c) => c.bytes(4, 'a float');
      case 'double':
        return (c) => c.bytes(8, 'a double');
      case 'string':
      case 'bytes':
        return (c) =>
          c.bytes(c.long(`the length of ${t.typeName === 'string' ? 'a string' : 'a bytes value'}`), `a ${t.typeName === 'string' ? 'string' : 'bytes value'}`);
      case 'fixed':
        return (c) => c.bytes(t.size ?? 0, 'a fixed value');
      case 'enum': {
        const symbols = t.symbols?.length ?? 0;
        return (c) => {
          const i = c.long('an enum index');
          if (i < 0 || i >= symbols) throw new AvroBlockError(`enum index ${i} is not one of the ${symbols} symbols`);
        };
      }
      case 'record':
      case 'error': {
        const fields = (t.fields ?? []).map((f) => compile(f.type));
        return (c, depth) => {
          if (depth > MAX_DEPTH) throw new AvroBlockError(`values nested more than ${MAX_DEPTH} levels deep`);
          for (const f of fields) f(c, depth + 1);
        };
      }
      case 'union:wrapped':
      case 'union:unwrapped': {
        const branches = (t.types ?? []).map(compile);
        return (c, depth) => {
          const i = c.long('a union index');
          if (i < 0 || i >= branches.length) throw new AvroBlockError(`union index ${i} is not one of the ${branches.length} branches`);
          branches[i](c, depth + 1);
        };
      }
      case 'array':
      case 'map': {
        const isMap = t.typeName === 'map';
        const item = compile((isMap ? t.valuesType : t.itemsType)!);
        const key = compile({ typeName: 'string' } as unknown as avro.Type);
        const itemBytes = (isMap ? 1 : 0) + minBytes((isMap ? t.valuesType : t.itemsType)!, sizes);
        const what = isMap ? 'a map block' : 'an array block';
        return (c, depth) => {
          if (depth > MAX_DEPTH) throw new AvroBlockError(`values nested more than ${MAX_DEPTH} levels deep`);
          for (;;) {
            let n = c.long(`the count of ${what}`);
            if (n === 0) return;
            if (n < 0) {
              // A negative count is followed by the block's size in bytes.
              n = -n;
              const size = c.long(`the size of ${what}`);
              if (size < 0 || size > c.left) throw new AvroBlockError(`${what} declares ${size} bytes, only ${c.left} remain`);
            }
            c.items(n, itemBytes, what);
            for (let i = 0; i < n; i++) {
              if (isMap) key(c, depth + 1);
              item(c, depth + 1);
            }
          }
        };
      }
    }
    throw new AvroBlockError(`unsupported Avro type ${t.typeName}`);
  };
  const skip = compile(type);
  return {
    skip: (c) => {
      c.emptyItems = 0;
      skip(c, 0);
    },
    minBytes: minBytes(type, sizes),
  };
}

/** The header of a container file. */
export interface AvroHeader {
  /** The `avro.*` metadata (schema, codec); other keys are skipped, not kept. */
  meta: Map<string, Buffer>;
  sync: Buffer;
  /** Bytes the header takes. */
  length: number;
}

const MAGIC = [0x4f, 0x62, 0x6a, 0x01];

/**
 * Parse the header at the start of `buf`.
 *
 * @param buf the first bytes of the file
 * @param complete whether `buf` holds all there is (then running past its end is a truncation)
 * @param limit the most bytes a header may take
 * @returns the header, or `more` when `buf` ends inside it; throws `AvroBlockError` for a header that
 *   is not Avro, is cut off, or declares more than `limit` (or, when complete, its bytes) hold
 */
export function parseHeader(buf: Buffer, complete: boolean, limit: number): AvroHeader | 'more' {
  if (buf.length >= 4 && !MAGIC.every((b, i) => buf[i] === b)) throw new AvroBlockError('not an Avro container file (no Obj\\x01 magic)');
  const c = new Cursor(buf, 4, buf.length);
  const meta = new Map<string, Buffer>();
  const length = (what: string) => {
    const n = c.long(what);
    if (n > limit) throw new AvroBlockError(`${what} is ${n}, more than a header of at most ${limit} bytes can hold`);
    return n;
  };
  try {
    if (buf.length < 4) throw new AvroBlockError('the magic runs past the end of its bytes');
    for (;;) {
      let n = c.long('the metadata map count');
      if (n === 0) break;
      if (n < 0) {
        n = -n;
        c.long('the metadata map block size');
      }
      // A key and a value take at least one byte each.
      if (n * 2 > limit) throw new AvroBlockError(`the metadata map declares ${n} entries, more than a header of at most ${limit} bytes can hold`);
      for (let i = 0; i < n; i++) {
        const keyLength = length('the length of a metadata key');
        const keyStart = c.pos;
        c.bytes(keyLength, 'a metadata key');
        const key = buf.toString('utf8', keyStart, c.pos);
        const valueLength = length(`the length of metadata value ${key}`);
        const valueStart = c.pos;
        c.bytes(valueLength, `metadata value ${key}`);
        if (key.startsWith('avro.')) meta.set(key, buf.subarray(valueStart, c.pos));
      }
    }
    c.bytes(16, 'the sync marker');
  } catch (err) {
    if (!complete && err instanceof AvroBlockError && /runs past the end|only \d+ remain/.test(err.message)) return 'more';
    throw err;
  }
  return { meta, sync: buf.subarray(c.pos - 16, c.pos), length: c.pos };
}

/** Uncompresses one block's data, refusing to produce more than `limit` bytes. */
export type BlockInflater = (data: Buffer, limit: number) => Buffer;

/**
 * The block decompression of a file's codec. Throws `AvroBlockError` for data that is corrupt or
 * inflates past the limit.
 *
 * @param codec the file's codec (`avro.codec`)
 * @returns the inflater, or undefined when the codec is not one Sluice reads
 */
export async function blockInflater(codec: string): Promise<BlockInflater | undefined> {
  switch (codec) {
    case 'null':
      return (data) => data;
    case 'deflate':
      return inflateDeflate;
    case 'zstandard':
      return unzstd;
    case 'snappy': {
      snappyDecoder ??= import('hyparquet').then((m) => m.snappyUncompress);
      const decode = await snappyDecoder;
      return (data, limit) => {
        if (data.length < 4) throw new AvroBlockError('snappy data without its checksum');
        const body = snappyUncompress(data.subarray(0, data.length - 4), limit, decode);
        if (crc32c(body) !== data.readUInt32BE(data.length - 4)) throw new AvroBlockError('snappy block checksum mismatch');
        return Buffer.from(body.buffer, body.byteOffset, body.length);
      };
    }
  }
  return undefined;
}

function inflateDeflate(data: Buffer, limit: number): Buffer {
  try {
    return zlib.inflateRawSync(data, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new AvroBlockError(`its deflate data inflates past the limit of ${limit} bytes`);
    throw new AvroBlockError(`corrupt deflate data (${(err as Error).message})`);
  }
}

/**
 * Zstandard with an output limit. fzstd allocates what a frame header declares (its content size or
 * window), so every frame's header is checked first; the output is then counted as it comes.
 */
function unzstd(data: Buffer, limit: number): Buffer {
  for (let p = 0; p < data.length;) {
    if (p + 8 > data.length) throw new AvroBlockError('truncated zstd frame');
    const magic = data.readUInt32LE(p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      p += 8 + data.readUInt32LE(p + 4);
      continue;
    }
    if (magic !== 0xfd2fb528) throw new AvroBlockError(`not zstd data (magic 0x${magic.toString(16)} at block byte ${p})`);
    const flags = data[p + 4];
    const singleSegment = (flags >> 5) & 1;
    let q = p + 5;
    if (!singleSegment) {
      const descriptor = data[q++];
      const base = 2 ** (10 + (descriptor >> 3));
      const window = base + (base / 8) * (descriptor & 7);
      if (window > limit) throw new AvroBlockError(`its zstd frame declares a ${window}-byte window, more than the limit of ${limit} bytes`);
    }
    q += [0, 1, 2, 4][flags & 3];
    const sizeBytes = flags >> 6 ? 1 << (flags >> 6) : singleSegment;
    let size = 0;
    for (let i = 0; i < sizeBytes; i++) size += data[q + i] * 2 ** (8 * i);
    if (sizeBytes === 2) size += 256;
    if (size > limit) throw new AvroBlockError(`its zstd frame declares ${size} bytes of content, more than the limit of ${limit} bytes`);
    q += sizeBytes;
    for (;;) {
      if (q + 3 > data.length) throw new AvroBlockError('truncated zstd frame');
      const header = data[q] | (data[q + 1] << 8) | (data[q + 2] << 16);
      const type = (header >> 1) & 3;
      q += 3 + (type === 1 ? 1 : header >>> 3);
      if (header & 1) break;
    }
    p = q + ((flags >> 2) & 1) * 4;
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const z = new ZstdDecompress((chunk) => {
    total += chunk.length;
    if (total > limit) throw new AvroBlockError(`its zstd data inflates past the limit of ${limit} bytes`);
    if (chunk.length) parts.push(chunk);
  });
  try {
    z.push(data, true);
  } catch (err) {
    if (err instanceof AvroBlockError) throw err;
    throw new AvroBlockError(`corrupt zstd data (${(err as Error).message})`);
  }
  return Buffer.concat(parts, total);
}

/** Snappy's best ratio: a 3-byte copy element writes at most 64 bytes. */
const SNAPPY_MAX_RATIO = 22;

/** hyparquet's raw Snappy decoder, loaded once (hyparquet is an ES module). */
let snappyDecoder: Promise<SnappyUncompress> | undefined;
type SnappyUncompress = (input: Uint8Array, output: Uint8Array) => void;

/**
 * Raw Snappy block decompression (the format Avro's snappy codec uses, minus its CRC suffix). The
 * length the data declares is checked before anything is allocated: against the limit, and against
 * what its bytes could hold at Snappy's best ratio. hyparquet's decoder then fills exactly that many
 * bytes, or fails.
 */
function snappyUncompress(input: Uint8Array, limit: number, decode: SnappyUncompress): Uint8Array {
  // The length is an unsigned varint of at most 10 bytes.
  let length = 0;
  let mul = 1;
  for (let i = 0, pos = 0; ; i++) {
    if (i === 10) throw new AvroBlockError('snappy length is a varint longer than 10 bytes');
    if (pos >= input.length) throw new AvroBlockError('snappy: truncated length');
    const b = input[pos++];
    length += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) break;
  }
  if (length > limit) throw new AvroBlockError(`its snappy data declares ${length} bytes, more than the limit of ${limit} bytes`);
  if (length > input.length * SNAPPY_MAX_RATIO)
    throw new AvroBlockError(`its snappy data declares ${length} bytes, more than its ${input.length} bytes can hold`);
  const out = new Uint8Array(length);
  try {
    decode(input, out);
  } catch (err) {
    throw new AvroBlockError(`corrupt snappy data (${(err as Error).message})`);
  }
  return out;
}
