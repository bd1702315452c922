/**
 * Locating keys in an upserted table without reading it.
 *
 * Rows are laid out by key hash: `_key_hash` is a 63-bit hash of the key values (MD5 of their text,
 * each prefixed with its length so `("ab","c")` and `("a","bc")` differ) and the table is partitioned
 * by `_key_bucket = _key_hash % buckets`. An update touches only the buckets of its keys; inside them,
 * only the `_key_hash` column of each file is read (ranged reads of the Parquet footer and that one
 * column chunk, never the whole file; a small file's footer read brings the chunk with it) to find the files that really hold a changed key. Those files,
 * and only those, are rewritten. Hash equality only nominates files; rows are matched on the key
 * values themselves. A file's hashes are kept in memory once read (files never change), so an update
 * reads only the hash columns of files it has not seen before.
 */
import * as arrow from 'apache-arrow';
import { writeFile } from 'node:fs/promises';
import type { AddFile } from '../delta/actions';
import { encodeParquetBuffer } from '../delta/parquet';
import { decodeAddPath } from '../delta/partitions';
import { quoteIdent, quoteLiteral, type SqlEngine } from '../sql';
import type { ObjectStore } from '../storage/types';
import { KEY_BUCKET, KEY_HASH } from './contract';

/**
 * SQL of the key hash of a row.
 *
 * @param keys key columns
 * @param qualifier optional table alias
 * @returns a BIGINT expression (0 … 2^63-1)
 */
export function keyHashSql(keys: string[], qualifier?: string): string {
  const text = keys.map((k) => {
    const value = `coalesce(CAST(${qualifier ? `${qualifier}.` : ''}${quoteIdent(k)} AS VARCHAR), '')`;
    return `CAST(length(${value}) AS VARCHAR) || ':' || ${value}`;
  });
  return `CAST(md5_number_lower(${text.join(` || ',' || `)}) >> 1 AS BIGINT)`;
}

/**
 * SQL matching two rows on their keys (hash first, then every key value, NULL-safe).
 *
 * @param keys key columns
 * @param a alias of one side
 * @param b alias of the other
 * @returns a boolean expression
 */
export function keysMatchSql(keys: string[], a: string, b: string): string {
  return [`${a}.${KEY_HASH} = ${b}.${KEY_HASH}`, ...keys.map((k) => `${a}.${quoteIdent(k)} IS NOT DISTINCT FROM ${b}.${quoteIdent(k)}`)].join(' AND ');
}

/**
 * The bucket a table file belongs to.
 *
 * @param file an add action of the table
 * @returns the bucket, or null when the file has none
 */
export function fileBucket(file: AddFile): number | null {
  const value = file.partitionValues?.[KEY_BUCKET];
  return value === null || value === undefined || value === '' ? null : Number(value);
}

let lookups = 0;

/**
 * `_key_hash` columns already read, by file (store URL, path and size): data files never change, so a
 * file's hashes are read from storage once per process. Bounded by the number of hashes kept
 * (8 bytes each); the least recently used files go first.
 */
const hashCache = new Map<string, BigInt64Array>();
const HASH_CACHE_LIMIT = 2_000_000;
let cachedHashes = 0;

function remember(key: string, hashes: BigInt64Array): void {
  if (hashes.length > HASH_CACHE_LIMIT / 4) return;
  hashCache.set(key, hashes);
  cachedHashes += hashes.length;
  for (const [k, v] of hashCache) {
    if (cachedHashes <= HASH_CACHE_LIMIT) break;
    hashCache.delete(k);
    cachedHashes -= v.length;
  }
}

function recall(key: string): BigInt64Array | undefined {
  const hashes = hashCache.get(key);
  if (hashes) {
    hashCache.delete(key);
    hashCache.set(key, hashes);
  }
  return hashes;
}

/**
 * Remember the `_key_hash` column of a file this process has just written, so that the next update of
 * its bucket finds the file's keys without reading it back.
 *
 * @param store store rooted at the table
 * @param file the file's add action
 * @param hashes its `_key_hash` values
 */
export function rememberFileHashes(store: ObjectStore, file: AddFile, hashes: BigInt64Array): void {
  remember(`${store.url}\n${decodeAddPath(file.path, store.url)}\n${file.size}`, hashes);
}

/**
 * The files among `candidates` that hold a row whose `_key_hash` is in the table `incoming`.
 *
 * @param engine the engine (with the `incoming` table, which has a `_key_hash` column)
 * @param store store rooted at the target table
 * @param candidates live files of the touched buckets
 * @param incoming name of the table of incoming rows
 * @returns the files holding at least one incoming hash
 */
export async function filesHoldingKeys(engine: SqlEngine, store: ObjectStore, candidates: AddFile[], incoming: string): Promise<AddFile[]> {
  if (candidates.length === 0) return [];
  const [hp, { compressors }] = await Promise.all([import('hyparquet'), import('hyparquet-compressors')]);
  const perFile: BigInt64Array[] = new Array(candidates.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const index = next++;
      const file = candidates[index];
      const path = decodeAddPath(file.path, store.url);
      const size = file.size;
      const key = `${store.url}\n${path}\n${size}`;
      const known = recall(key);
      if (known) {
        perFile[index] = known;
        continue;
      }
      // The footer read takes the file's tail (all of a small file): a column chunk inside the bytes
      // it brought is cut from them instead of being read again.
      let held: { start: number; bytes: Uint8Array } | undefined;
      const buffer = {
        byteLength: size,
        slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
          const stop = end ?? size;
          let bytes: Uint8Array;
          if (held && start >= held.start && stop <= held.start + held.bytes.byteLength) {
            bytes = held.bytes.subarray(start - held.start, stop - held.start);
          } else {
            bytes = await store.read(path, { offset: start, length: stop - start });
            held = { start, bytes };
          }
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        },
      };
      const metadata = await hp.parquetMetadataAsync(buffer);
      const hashes: bigint[] = [];
      await hp.parquetRead({
        file: buffer,
        metadata,
        columns: [KEY_HASH],
        compressors,
        onChunk: (chunk) => {
          const values = chunk.columnData as ArrayLike<bigint | number | null>;
          for (let i = 0; i < values.length; i++) {
            const value = values[i];
            if (value === null || value === undefined) continue;
            hashes.push(BigInt(value));
          }
        },
      });
      perFile[index] = BigInt64Array.from(hashes);
      remember(key, perFile[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, candidates.length) }, worker));
  const total = perFile.reduce((n, h) => n + h.length, 0);
  const fileNumbers = new Int32Array(total);
  const hashes = new BigInt64Array(total);
  let at = 0;
  perFile.forEach((h, index) => {
    fileNumbers.fill(index, at, at + h.length);
    hashes.set(h, at);
    at += h.length;
  });
  const local = engine.path(`key-index-${++lookups}.parquet`);
  const table = new arrow.Table({ file_no: arrow.makeVector(fileNumbers), [KEY_HASH]: arrow.makeVector(hashes) });
  await writeFile(local, await encodeParquetBuffer(table));
  const rows = await engine.rows(
    `SELECT DISTINCT file_no FROM read_parquet(${quoteLiteral(local)}) AS t SEMI JOIN ${quoteIdent(incoming)} AS i ON t.${KEY_HASH} = i.${KEY_HASH} ORDER BY file_no`,
    'looking up the files holding changed keys',
  );
  return rows.map((r) => candidates[Number(r.file_no)]);
}
