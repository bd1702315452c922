/**
 * Deletion vectors (reader feature `deletionVectors`): the rows of a data file that a DELETE, UPDATE or
 * MERGE marked as gone without rewriting the file. A DV is stored inline in the log (`i`, Z85 text),
 * in a file of the table named by a Z85-encoded UUID (`u`), or in a file at an absolute path (`p`),
 * always as a "portable" 64-bit RoaringBitmap behind a magic number; a DV file frames each bitmap
 * with its size and a CRC-32.
 *
 * Anything that does not decode exactly (a bad checksum, a missing file, an unknown storage type, a
 * cardinality other than the log's) is an error naming the table, the data file and the DV: a reader
 * that guessed would return deleted rows.
 */
import { dirname, posix } from 'node:path';
import { openStore } from '../storage/location';
import { ObjectNotFoundError, type ObjectStore } from '../storage/types';
import type { DeletionVector } from './actions';
import { DeltaError } from './errors';

/** A deletion vector that cannot be used; no row of its data file is returned. */
export class DeletionVectorError extends DeltaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeletionVectorError';
  }
}

/** Magic number of the portable RoaringBitmap serialisation Delta uses (little endian). */
const PORTABLE_MAGIC = 1681511377;
/** RoaringBitmap 32-bit cookies: without and with run containers. */
const COOKIE_NO_RUNS = 12346;
const COOKIE_RUNS = 12347;
/** A 32-bit bucket key above this would make row indexes beyond 2^53, which no Parquet file holds. */
const MAX_SAFE_BUCKET = 0x1fffff;

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUES = new Map([...Z85_ALPHABET].map((c, i) => [c, i]));

/**
 * Decode Z85 (ZeroMQ's Base85) text: every 5 characters give 4 bytes, big endian.
 *
 * @param text the encoded text; its length must be a multiple of 5
 * @returns the bytes
 */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new Error(`Z85 text has ${text.length} characters, not a multiple of 5`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85_VALUES.get(text[i + j]);
      if (digit === undefined) throw new Error(`Z85 text has the invalid character ${JSON.stringify(text[i + j])} at ${i + j}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new Error(`Z85 group at ${i} is out of range`);
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** Where a deletion vector's bytes are. */
export type DeletionVectorLocation =
  | { kind: 'inline' }
  /** A file of the table: `path` is relative to the table root (a store path). */
  | { kind: 'table'; path: string }
  /** A file outside the table, by URL. */
  | { kind: 'external'; url: string };

/**
 * Work out where a deletion vector is stored.
 *
 * @param dv the descriptor
 * @param tableUrl the table's URL (absolute `p` paths inside it become table paths)
 * @returns its location
 */
export function deletionVectorLocation(dv: DeletionVector, tableUrl: string): DeletionVectorLocation {
  if (dv.storageType === 'i') return { kind: 'inline' };
  if (dv.storageType === 'u') {
    const encoded = dv.pathOrInlineDv;
    if (typeof encoded !== 'string' || encoded.length < 20) throw new Error(`relative DV "${encoded}" is shorter than the 20-character Z85 UUID`);
    const prefix = encoded.slice(0, -20);
    const uuid = formatUuid(z85Decode(encoded.slice(-20)));
    return { kind: 'table', path: prefix ? `${prefix}/deletion_vector_${uuid}.bin` : `deletion_vector_${uuid}.bin` };
  }
  if (dv.storageType === 'p') {
    // The path is a URI like add.path: percent-encoded, and `file:/x` and `file:///x` are the same file.
    const url = new URL(dv.pathOrInlineDv).href;
    const root = new URL(tableUrl).href.replace(/\/?$/, '/');
    if (url.startsWith(root)) return { kind: 'table', path: decodeURIComponent(url.slice(root.length)) };
    return { kind: 'external', url };
  }
  throw new Error(`unknown DV storage type "${dv.storageType}" (Delta defines u, i and p)`);
}

/**
 * A DV descriptor as people read it: storage type, where, offset, size and cardinality.
 *
 * @param dv the descriptor
 * @returns e.g. `u:vBn[lx{q8@P<9BNH/isA@1 (36 bytes, 2 rows)`
 */
export function describeDeletionVector(dv: DeletionVector): string {
  const at = dv.offset === undefined || dv.offset === null ? '' : `@${dv.offset}`;
  return `deletion vector ${dv.storageType}:${dv.pathOrInlineDv}${at} (${dv.sizeInBytes} bytes, ${dv.cardinality} rows)`;
}

/**
 * Read the row indexes a deletion vector marks as deleted.
 *
 * @param store store rooted at the table
 * @param dv the descriptor of the logical file
 * @param dataFile the data file it belongs to, for messages
 * @returns the deleted row indexes, ascending
 */
export async function readDeletionVector(store: ObjectStore, dv: DeletionVector, dataFile: string): Promise<Float64Array> {
  const fail = (why: string, cause?: unknown): never => {
    throw new DeletionVectorError(`delta data: the ${describeDeletionVector(dv)} of data file ${store.url}/${dataFile} cannot be used: ${why}`, { cause });
  };
  let location: DeletionVectorLocation;
  try {
    location = deletionVectorLocation(dv, store.url);
  } catch (err) {
    return fail((err as Error).message, err);
  }
  const size = Number(dv.sizeInBytes);
  if (!Number.isInteger(size) || size < 4) fail(`sizeInBytes ${dv.sizeInBytes} is not a size of a serialised bitmap`);
  let bitmap: Uint8Array;
  if (location.kind === 'inline') {
    let bytes: Uint8Array;
    try {
      bytes = z85Decode(dv.pathOrInlineDv);
    } catch (err) {
      return fail((err as Error).message, err);
    }
    if (bytes.length < size) fail(`the inline data holds ${bytes.length} bytes, fewer than sizeInBytes`);
    bitmap = bytes.subarray(0, size);
  } else {
    bitmap = await readFramedBitmap(location, store, dv, size, fail);
  }
  let rows: Float64Array;
  try {
    rows = decodeDeletionBitmap(bitmap);
  } catch (err) {
    return fail((err as Error).message, err);
  }
  if (rows.length !== Number(dv.cardinality)) fail(`it marks ${rows.length} rows but the log says cardinality ${dv.cardinality}`);
  return rows;
}

/** Read one DV out of a DV file: [size (BE)][bitmap][CRC-32 of bitmap (BE)] at `offset`, after a version byte. */
async function readFramedBitmap(
  location: Exclude<DeletionVectorLocation, { kind: 'inline' }>,
  store: ObjectStore,
  dv: DeletionVector,
  size: number,
  fail: (why: string, cause?: unknown) => never,
): Promise<Uint8Array> {
  // Absent offset: the first DV, right after the format version byte (as delta-kernel reads it).
  const offset = dv.offset === undefined || dv.offset === null ? 1 : Number(dv.offset);
  if (!Number.isInteger(offset) || offset < 1) fail(`offset ${dv.offset} is before the first DV of a DV file`);
  const [source, path, name] =
    location.kind === 'table'
      ? [store, location.path, `${store.url}/${location.path}`]
      : [openStore(dirname(location.url)), decodeURIComponent(posix.basename(new URL(location.url).pathname)), location.url];
  // Reading from byte 0 when the DV is the first one lets us check the file's format version too.
  const start = offset === 1 ? 0 : offset;
  const length = offset - start + 4 + size + 4;
  let bytes: Uint8Array;
  try {
    bytes = await source.read(path, { offset: start, length });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) fail(`DV file ${name} is missing`, err);
    throw err;
  }
  if (bytes.length < length) fail(`DV file ${name} ends before the DV does (${bytes.length} of ${length} bytes from byte ${start})`);
  if (start === 0 && bytes[0] !== 1) fail(`DV file ${name} has format version ${bytes[0]}, not 1`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = offset - start;
  const framed = view.getUint32(at, false);
  if (framed !== size) fail(`DV file ${name} says the DV at offset ${offset} has ${framed} bytes, the log says ${size}`);
  const bitmap = bytes.subarray(at + 4, at + 4 + size);
  const checksum = view.getUint32(at + 4 + size, false);
  const actual = crc32(bitmap);
  if (checksum !== actual) fail(`checksum mismatch in DV file ${name} at offset ${offset} (stored ${checksum}, computed ${actual})`);
  return bitmap;
}

/**
 * Decode Delta's serialised DV bitmap: the magic number, then a portable 64-bit RoaringBitmap.
 *
 * @param bytes the bitmap bytes (magic included)
 * @returns the row indexes it holds, ascending
 */
export function decodeDeletionBitmap(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new BoundedReader(view);
  const magic = reader.u32();
  if (magic !== PORTABLE_MAGIC) throw new Error(`the bitmap starts with magic number ${magic}, not ${PORTABLE_MAGIC} (portable RoaringBitmap array)`);
  const buckets = reader.u64();
  const rows: number[] = [];
  let previous = -1;
  const push = (row: number) => {
    if (row <= previous) throw new Error(`the bitmap's values are not in ascending order at ${row}`);
    rows.push(row);
    previous = row;
  };
  for (let b = 0; b < buckets; b++) {
    const high = reader.u32();
    if (high > MAX_SAFE_BUCKET) throw new Error(`the bitmap has bucket ${high}, a row index beyond 2^53`);
    readRoaring32(reader, high * 2 ** 32, push);
  }
  return Float64Array.from(rows);
}

/** One standard 32-bit RoaringBitmap (RoaringFormatSpec), values offset by `base`. */
function readRoaring32(reader: BoundedReader, base: number, push: (row: number) => void): void {
  const cookie = reader.u32();
  let containers: number;
  let runFlags: Uint8Array | null = null;
  if ((cookie & 0xffff) === COOKIE_RUNS) {
    containers = (cookie >>> 16) + 1;
    runFlags = reader.bytes((containers + 7) >> 3);
  } else if (cookie === COOKIE_NO_RUNS) {
    containers = reader.u32();
  } else {
    throw new Error(`a 32-bit bucket starts with cookie ${cookie}, not a RoaringBitmap`);
  }
  const keys: number[] = [];
  const cardinalities: number[] = [];
  for (let i = 0; i < containers; i++) {
    keys.push(reader.u16());
    cardinalities.push(reader.u16() + 1);
  }
  // The offset header is present except in small bitmaps with run containers; its values are not needed.
  if (!runFlags || containers >= 4) reader.bytes(4 * containers);
  for (let i = 0; i < containers; i++) {
    const start = base + keys[i] * 65536;
    if (runFlags && runFlags[i >> 3] & (1 << (i & 7))) {
      const runs = reader.u16();
      for (let r = 0; r < runs; r++) {
        const first = reader.u16();
        const length = reader.u16();
        for (let v = first; v <= first + length; v++) push(start + v);
      }
    } else if (cardinalities[i] <= 4096) {
      for (let j = 0; j < cardinalities[i]; j++) push(start + reader.u16());
    } else {
      const words = reader.bytes(8192);
      for (let byte = 0; byte < 8192; byte++) {
        const bits = words[byte];
        if (!bits) continue;
        for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) push(start + byte * 8 + bit);
      }
    }
  }
}

/** Little-endian reads that fail with a message instead of reading past the end. */
class BoundedReader {
  private pos = 0;
  constructor(private readonly view: DataView) {}
  private need(n: number): number {
    if (this.pos + n > this.view.byteLength) throw new Error(`the bitmap is truncated: ${n} more bytes needed at byte ${this.pos} of ${this.view.byteLength}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  u64(): number {
    const value = this.view.getBigUint64(this.need(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`the bitmap claims ${value} buckets`);
    return Number(value);
  }
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return new Uint8Array(this.view.buffer, this.view.byteOffset + at, n);
  }
}

function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let CRC_TABLE: Uint32Array | null = null;

/**
 * CRC-32 (ISO-HDLC, the zlib one) of some bytes, as DV files store it.
 *
 * @param bytes the data
 * @returns the checksum as an unsigned 32-bit number
 */
export function crc32(bytes: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * File names of the DVs stored at absolute URLs that do not start with the table's URL. Such a URL may
 * still point into the table under another spelling (`abfss://` for a table opened by `https://`), so
 * vacuum keeps any file of that name.
 *
 * @param dvs descriptors (nulls are skipped)
 * @param tableUrl the table's URL
 * @returns the file names
 */
export function externalDeletionVectorNames(dvs: Iterable<DeletionVector | null | undefined>, tableUrl: string): Set<string> {
  const out = new Set<string>();
  for (const dv of dvs) {
    if (dv?.storageType !== 'p') continue;
    const location = deletionVectorLocation(dv, tableUrl);
    if (location.kind === 'external') out.add(decodeURIComponent(posix.basename(new URL(location.url).pathname)));
  }
  return out;
}

/**
 * The storage paths (relative to the table) of the DV files a set of logical files needs; inline DVs
 * and DVs outside the table have none.
 *
 * @param dvs descriptors (nulls are skipped)
 * @param tableUrl the table's URL
 * @returns the paths
 */
export function deletionVectorFiles(dvs: Iterable<DeletionVector | null | undefined>, tableUrl: string): Set<string> {
  const out = new Set<string>();
  for (const dv of dvs) {
    if (!dv) continue;
    let location: DeletionVectorLocation;
    try {
      location = deletionVectorLocation(dv, tableUrl);
    } catch (err) {
      // Vacuum must not judge files it cannot map: better to stop than delete a DV file still in use.
      throw new DeletionVectorError(
        `delta: ${tableUrl} references a ${describeDeletionVector(dv)} whose file cannot be worked out: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (location.kind === 'table') out.add(location.path);
  }
  return out;
}
