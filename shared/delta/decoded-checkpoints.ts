/**
 * Checkpoint files this process decoded lately, with their bytes, so that loading a table again
 * does not decode the checkpoint it decoded last time.
 *
 * A process loads the same tables over and over (each refresh run, each ingest commit, each catalog
 * description), and between two checkpoints (ten commits by default) every load starts from the same
 * one. The file is still read every time: the cache answers only when the bytes just read are the
 * bytes it decoded, so a checkpoint rewritten in place, a table dropped and created again at the same
 * path, or a corrupt file is decoded (and fails) as without it. Decoding even a 12-action checkpoint
 * costs more than reading the ten commit files of a short table; comparing 13 kB of bytes costs
 * microseconds.
 *
 * What is kept is the decoder's rows, never handed out: readers get copies (checkpoint.ts converts
 * every row into fresh objects), so nothing a caller changes reaches the next load.
 *
 * Memory: checkpoints of up to MAX_ROWS_PER_FILE rows are kept, MAX_ROWS rows in all, the least
 * recently used dropped first; a decoded action with its stats is roughly a kilobyte, so the cache
 * holds a few MiB at most.
 */

/** Rows of a checkpoint larger than this are not kept: a big table's load is dominated by its size. */
const MAX_ROWS_PER_FILE = 1_000;
/** Rows kept in all. */
const MAX_ROWS = 5_000;

interface Entry {
  bytes: Uint8Array;
  rows: readonly Record<string, unknown>[];
}

/** By file URL and the columns read, in the order of last use. */
const entries = new Map<string, Entry>();
let rowsKept = 0;

const keyOf = (where: string, columns: readonly string[]) => `${columns.join(',')} ${where}`;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/**
 * The rows decoded from a checkpoint file, when its bytes are the ones decoded last time.
 *
 * @param where the file's URL
 * @param columns the columns read
 * @param bytes the bytes just read
 * @returns the decoder's rows (not to be changed), or undefined
 */
export function decodedCheckpointRows(where: string, columns: readonly string[], bytes: Uint8Array): readonly Record<string, unknown>[] | undefined {
  const key = keyOf(where, columns);
  const entry = entries.get(key);
  if (!entry) return undefined;
  if (!sameBytes(entry.bytes, bytes)) {
    forget(key, entry);
    return undefined;
  }
  entries.delete(key);
  entries.set(key, entry);
  return entry.rows;
}

/**
 * Keep the rows decoded from a checkpoint file (nothing when it is too large to keep).
 *
 * @param where the file's URL
 * @param columns the columns read
 * @param bytes the bytes decoded (copied)
 * @param rows the decoder's rows (not to be changed afterwards)
 */
export function keepDecodedCheckpoint(where: string, columns: readonly string[], bytes: Uint8Array, rows: readonly Record<string, unknown>[]): void {
  if (rows.length > MAX_ROWS_PER_FILE) return;
  const key = keyOf(where, columns);
  const previous = entries.get(key);
  if (previous) forget(key, previous);
  entries.set(key, { bytes: bytes.slice(), rows });
  rowsKept += rows.length;
  for (const [oldKey, old] of entries) {
    if (rowsKept <= MAX_ROWS) break;
    forget(oldKey, old);
  }
}

function forget(key: string, entry: Entry): void {
  entries.delete(key);
  rowsKept -= entry.rows.length;
}
