/**
 * Pulling bytes from an input stream with look-ahead: format detection needs the first bytes before a
 * reader is chosen, and the chosen reader must still see them. And, for a format that needs random
 * access (Parquet) but arrives as a stream (compressed, an event body), a spooled copy.
 */
import { open, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';

/** The input is damaged (corrupt or truncated archive): nothing after `compressedOffset` can be decoded. */
export class DamagedInputError extends Error {
  /**
   * @param message what went wrong, for the user
   * @param compressedOffset byte offset in the stored (compressed) input where decoding failed
   */
  constructor(
    message: string,
    readonly compressedOffset: number,
  ) {
    super(message);
    this.name = 'DamagedInputError';
  }
}

/**
 * A pull reader over an async iterable of byte chunks, with peek and push-back.
 */
export class ByteReader implements AsyncIterable<Uint8Array> {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly pending: Uint8Array[] = [];
  private finished = false;
  /** Bytes taken from the underlying iterable so far (peeked bytes included). */
  count = 0;

  /** @param source the chunks to read */
  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /**
   * The next chunk, or null at the end. Chunks are never empty.
   *
   * @returns a chunk or null
   */
  async read(): Promise<Uint8Array | null> {
    if (this.pending.length) return this.pending.shift()!;
    while (!this.finished) {
      const next = await this.iterator.next();
      if (next.done) {
        this.finished = true;
        break;
      }
      const chunk = next.value;
      if (chunk.length === 0) continue;
      this.count += chunk.length;
      return chunk;
    }
    return null;
  }

  /**
   * Put a chunk back so the next `read` returns it first.
   *
   * @param chunk bytes previously read
   */
  unread(chunk: Uint8Array): void {
    if (chunk.length) this.pending.unshift(chunk);
  }

  /**
   * Up to `n` bytes from the current position without consuming them (fewer only at the end).
   *
   * @param n how many bytes are wanted
   * @returns the bytes (a copy when they span chunks)
   */
  async peek(n: number): Promise<Uint8Array> {
    const taken: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.read();
      if (!chunk) break;
      taken.push(chunk);
      have += chunk.length;
    }
    for (let i = taken.length - 1; i >= 0; i--) this.unread(taken[i]);
    if (taken.length === 1) return taken[0].subarray(0, Math.min(n, taken[0].length));
    return concatBytes(taken, Math.min(n, have));
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        const value = await this.read();
        return value ? { done: false, value } : { done: true, value: undefined };
      },
    };
  }
}

/**
 * Concatenate chunks, optionally only the first `limit` bytes.
 *
 * @param chunks byte arrays
 * @param limit maximum length of the result
 * @returns one array
 */
export function concatBytes(chunks: Uint8Array[], limit = Infinity): Uint8Array {
  const total = Math.min(
    limit,
    chunks.reduce((n, c) => n + c.length, 0),
  );
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    if (at >= total) break;
    const part = c.length > total - at ? c.subarray(0, total - at) : c;
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Append a chunk to a scanning window, doubling the window when it is full (the text readers keep one
 * window that grows to the longest record and is then reused).
 *
 * @param window the window
 * @param used bytes of the window in use
 * @param chunk the bytes to append after them
 * @returns the window holding the chunk at `used`: the same one, or a larger copy
 */
export function appendToWindow(window: Buffer, used: number, chunk: Uint8Array): Buffer {
  let out = window;
  if (used + chunk.length > window.length) {
    out = Buffer.allocUnsafe(Math.max(window.length * 2, used + chunk.length));
    window.copy(out, 0, 0, used);
  }
  out.set(chunk, used);
  return out;
}

/** A stream spooled for random access. */
export interface SpooledBytes {
  readonly size: number;
  /** Bytes [offset, offset + length); rejects when they are not all there. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Release the copy (the temporary file, if any). */
  close(): Promise<void>;
}

/** Spooled input beyond this size goes to a temporary file rather than memory. */
export const SPOOL_MEMORY_BYTES = 8 * 1024 * 1024;

/**
 * Copy a stream where it can be read by range: in memory while small, else in a temporary file that
 * is unlinked as soon as it is open (so nothing is left behind if the process dies).
 *
 * @param input the bytes
 * @param memoryBytes the most bytes kept in memory
 * @returns the copy; rejects with the stream's error (e.g. `DamagedInputError`) after cleaning up
 */
export async function spool(input: AsyncIterable<Uint8Array>, memoryBytes = SPOOL_MEMORY_BYTES): Promise<SpooledBytes> {
  const held: Uint8Array[] = [];
  let size = 0;
  let file: FileHandle | undefined;
  try {
    for await (const chunk of input) {
      if (!file && size + chunk.length > memoryBytes) {
        const path = nodePath.join(tmpdir(), `sluice-spool-${randomUUID()}`);
        file = await open(path, 'w+', 0o600);
        await unlink(path);
        for (const part of held.splice(0)) await file.write(part);
      }
      if (file) await file.write(chunk);
      else held.push(chunk);
      size += chunk.length;
    }
  } catch (err) {
    await file?.close();
    throw err;
  }
  const check = (offset: number, length: number) => {
    if (offset < 0 || length < 0 || offset + length > size)
      throw new RangeError(`bytes ${offset}..${offset + length} are not within the ${size} bytes of the input`);
  };
  if (!file) {
    const bytes = concatBytes(held);
    return {
      size,
      read: async (offset, length) => {
        check(offset, length);
        return bytes.subarray(offset, offset + length);
      },
      close: async () => undefined,
    };
  }
  const handle = file;
  return {
    size,
    read: async (offset, length) => {
      check(offset, length);
      const out = new Uint8Array(length);
      for (let at = 0; at < length;) {
        const { bytesRead } = await handle.read(out, at, length - at, offset + at);
        if (bytesRead === 0) throw new RangeError(`the spooled input ended at byte ${offset + at}`);
        at += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/**
 * Write a short string as UTF-8 when it is ASCII, byte by byte: for the few characters of a typical
 * value, cheaper than a call into the encoder.
 *
 * @param text the string
 * @param buf where to write (room for `text.length` bytes at `at`)
 * @param at the position to write at
 * @returns the bytes written, or -1 when the text is longer than 32 units or not ASCII (nothing usable written)
 */
export function writeShortAscii(text: string, buf: Uint8Array, at: number): number {
  const n = text.length;
  if (n > 32) return -1;
  for (let k = 0; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c >= 0x80) return -1;
    buf[at + k] = c;
  }
  return n;
}
