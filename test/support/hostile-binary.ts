/**
 * Hostile Avro and Parquet files, built byte by byte (small and deterministic): containers whose
 * blocks declare more records, longer strings, larger sizes or bigger inflated data than their bytes
 * hold, and Parquet files whose footer lies about its length.
 */
import * as zlib from 'node:zlib';

/** Avro's zig-zag varint of a (possibly huge) integer. */
export function zigzag(n: number | bigint): Buffer {
  let v = BigInt(n);
  v = v >= 0n ? v * 2n : -v * 2n - 1n;
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(out);
}

/** An Avro string (or bytes) value. */
export function avroString(text: string | Buffer): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  return Buffer.concat([zigzag(bytes.length), bytes]);
}

/** The sync marker of every file built here. */
export const SYNC = Buffer.from('0123456789abcdef');

/** The schema of most files here: `{ id: long, name: string }`. */
export const PERSON_SCHEMA = {
  type: 'record',
  name: 'Person',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
  ],
};

/** One encoded `PERSON_SCHEMA` record. */
export function person(id: number, name: string): Buffer {
  return Buffer.concat([zigzag(id), avroString(name)]);
}

/**
 * An Avro header: magic, metadata (schema, codec), sync marker.
 *
 * @param schema the writer schema
 * @param codec the codec name
 * @param metaCount the metadata map count to declare (default: the real one)
 */
export function avroHeader(schema: object, codec = 'null', metaCount?: number | bigint): Buffer {
  const entries = [avroString('avro.schema'), avroString(JSON.stringify(schema)), avroString('avro.codec'), avroString(codec)];
  return Buffer.concat([Buffer.from('Obj\x01', 'latin1'), zigzag(metaCount ?? 2), ...entries, zigzag(0), SYNC]);
}

/**
 * One block: record count, size, data, sync marker.
 *
 * @param count the record count to declare
 * @param data the block's data (as stored, i.e. compressed for a codec)
 * @param size the size to declare (default: the data's)
 */
export function avroBlock(count: number | bigint, data: Buffer, size?: number | bigint): Buffer {
  return Buffer.concat([zigzag(count), zigzag(size ?? data.length), data, SYNC]);
}

/** A block of good `PERSON_SCHEMA` records with ids from `from`. */
export function personBlock(from: number, n: number): Buffer {
  return avroBlock(n, Buffer.concat(Array.from({ length: n }, (_, i) => person(from + i, `p${from + i}`))));
}

/** Raw deflate, as Avro's deflate codec stores it. */
export function deflate(data: Buffer): Buffer {
  return zlib.deflateRawSync(data, { level: 9 });
}

/**
 * A zstd frame of `blocks` RLE blocks of 128 KiB each (zeros): a few bytes that inflate to
 * `blocks × 128 KiB`, declaring neither a content size nor more than a 1 MiB window.
 */
export function zstdZeros(blocks: number): Buffer {
  const BLOCK = 128 * 1024;
  // Frame header: magic, descriptor (no content size, not single-segment), window 2^(10+10) = 1 MiB.
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3])];
  for (let i = 0; i < blocks; i++) {
    const header = (BLOCK << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x00]));
  }
  return Buffer.concat(parts);
}

/** Snappy data (Avro's framing: CRC32C suffix) that declares `length` bytes and holds one literal byte. */
export function snappyDeclaring(length: number): Buffer {
  return Buffer.concat([unsignedVarint(length), Buffer.from([0x00, 0x41]), Buffer.alloc(4)]);
}

function unsignedVarint(n: number): Buffer {
  const out: number[] = [];
  for (let v = n; ; v = Math.floor(v / 128)) {
    out.push(v >= 128 ? (v & 0x7f) | 0x80 : v);
    if (v < 128) break;
  }
  return Buffer.from(out);
}

/** A zstd frame holding `data` (under 256 bytes) as one raw block. */
export function zstdRaw(data: Buffer): Buffer {
  const header = (data.length << 3) | 1;
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length, header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), data]);
}

/**
 * A copy of a Parquet file whose footer length field declares `declared` bytes.
 *
 * @param file a valid Parquet file
 * @param declared the footer length to declare
 * @returns the patched copy
 */
export function parquetWithFooterLength(file: Uint8Array, declared: number): Buffer {
  const out = Buffer.from(file);
  out.writeUInt32LE(declared, out.length - 8);
  return out;
}
