/**
 * Writing a stream of chunks to a local file, waiting for the disk when it falls behind: landing
 * files spooled for DuckDB, objects staged for a refresh, a hook's Parquet, local-store writes. The
 * file is left as far as it got when the stream fails; the caller removes it.
 */
import { createWriteStream } from 'node:fs';

/**
 * Write the chunks to a file (created or truncated).
 *
 * @param file the local path
 * @param chunks the content
 * @throws the stream's error, or the file system's
 */
export async function writeFileFrom(file: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const out = createWriteStream(file);
  const closed = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  // A write error rejects `closed` while a chunk is awaited; it is reported from the loop below.
  closed.catch(() => undefined);
  try {
    for await (const chunk of chunks) {
      if (!out.write(chunk)) await Promise.race([new Promise<void>((resolve) => out.once('drain', () => resolve())), closed]);
    }
    out.end();
    await closed;
  } catch (err) {
    out.destroy();
    throw err;
  }
}
