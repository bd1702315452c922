/**
 * Streaming gzip and zstd decompression.
 *
 * Both decoders hand over every byte they could decode before reporting damage, so a reader can emit
 * the rows before a corrupt or truncated spot and report the rest as one `DamagedInputError`.
 *
 * The decompressed bytes held at once are what one slice of input expands to, so slices are sized
 * for the worst case rather than the usual one: deflate expands at most about 1032:1, so 16 KiB of
 * gzip input makes at most about 16 MiB. A zstd block of a few bytes can expand to 128 KiB, so zstd
 * slices start small and follow the ratio seen so far, aiming at a few MiB of output per slice.
 */
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { DamagedInputError } from './bytes';
import type { Compression } from './types';

/** Gzip input per write: at most ~16 MiB of output whatever the data. */
const GZIP_SLICE = 16 * 1024;
/** Zstd input per push: from 1 to 64 KiB, chosen so that one push makes about ZSTD_OUTPUT bytes. */
const ZSTD_MIN_SLICE = 1024;
const ZSTD_MAX_SLICE = 64 * 1024;
const ZSTD_OUTPUT = 4 * 1024 * 1024;

/**
 * Decompress a stream.
 *
 * @param source the stored bytes
 * @param compression how they are compressed
 * @returns the decompressed bytes, chunk by chunk; throws `DamagedInputError` after the last good chunk
 */
export function decompress(source: AsyncIterable<Uint8Array>, compression: Compression): AsyncIterable<Uint8Array> {
  if (compression === 'gzip') return gunzip(source);
  if (compression === 'zstd') return unzstd(source);
  return source;
}

function* slices(chunk: Uint8Array, size: () => number): Generator<Uint8Array> {
  for (let at = 0; at < chunk.length;) {
    const end = at + size();
    yield chunk.subarray(at, end);
    at = end;
  }
}

async function* gunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const z = zlib.createGunzip();
  const out: Uint8Array[] = [];
  let failure: Error | null = null;
  let ended = false;
  let fed = 0;
  z.on('data', (c: Buffer) => out.push(c));
  z.on('error', (e: Error) => {
    failure = e;
  });
  const endOrError = new Promise<void>((resolve) => {
    z.on('end', () => {
      ended = true;
      resolve();
    });
    z.on('error', () => resolve());
  });
  const damaged = (e: Error) => new DamagedInputError(`corrupt or truncated gzip data (${e.message}) at compressed byte ${fed}`, fed);
  try {
    for await (const chunk of source) {
      for (const slice of slices(chunk, () => GZIP_SLICE)) {
        // The callback runs once zlib has processed the slice, so its output is queued by then; after
        // an error it may never run, so the error ends the wait too.
        await new Promise<void>((resolve) => {
          if (failure) return resolve();
          const onError = () => resolve();
          z.once('error', onError);
          z.write(slice, () => {
            z.off('error', onError); // one listener per slice would pile up on long files
            resolve();
          });
        });
        if (!failure) fed += slice.length;
        while (out.length) yield out.shift()!;
        if (failure) throw damaged(failure);
      }
    }
    z.end();
    await endOrError;
    while (out.length) yield out.shift()!;
    if (failure) throw damaged(failure);
    if (!ended) throw new DamagedInputError(`truncated gzip data at compressed byte ${fed}`, fed);
  } finally {
    z.destroy();
  }
}

async function* unzstd(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  // In streaming mode fzstd allocates a fresh array per block, so blocks can be handed on as they are.
  const z = new ZstdDecompress((data) => {
    if (data.length) out.push(data);
  });
  let fed = 0;
  let slice = ZSTD_MIN_SLICE;
  const damaged = (e: unknown) =>
    new DamagedInputError(`corrupt or truncated zstd data (${e instanceof Error ? e.message : String(e)}) at compressed byte ${fed}`, fed);
  for await (const chunk of source) {
    for (const part of slices(chunk, () => slice)) {
      try {
        z.push(part);
      } catch (e) {
        while (out.length) yield out.shift()!;
        throw damaged(e);
      }
      fed += part.length;
      let made = 0;
      for (const block of out) made += block.length;
      slice = Math.max(ZSTD_MIN_SLICE, Math.min(ZSTD_MAX_SLICE, Math.floor((part.length * ZSTD_OUTPUT) / Math.max(1, made))));
      while (out.length) yield out.shift()!;
    }
  }
  try {
    z.push(new Uint8Array(0), true);
  } catch (e) {
    while (out.length) yield out.shift()!;
    throw damaged(e);
  }
  while (out.length) yield out.shift()!;
}
