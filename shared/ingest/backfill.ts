/**
 * Reconcile a landing folder with the ledger: list it and ingest every file version the ledger does
 * not have as committed or dead-lettered (events can be lost, late, or fail for good). Idempotent:
 * running it twice, or next to the event path, ingests nothing twice (ingestFile is exactly once).
 *
 * It does not re-read the ledger on every tick: the ledger keeps a watermark per (table, folder) —
 * a last-modified time W such that every blob last modified before W − margin is done. A run looks up
 * only the blobs modified at or after W − margin (one point read each), ingests what is missing, and
 * moves W to the oldest blob still not done (or to the newest blob seen when all are done). Listing the
 * folder itself is unavoidable (Blob listing cannot filter by time); the margin (default 15 minutes)
 * covers uploads that finish while the listing runs. A blob that is overwritten gets a new
 * last-modified time and ETag, so its new version is picked up.
 *
 * A `started` entry whose claim is live (renewed within a minute, see ledger.ts) is an ingestion
 * running elsewhere and is left alone; one whose claim expired, or whose last attempt failed, is
 * attempted again. A file that keeps failing ends dead-lettered as poison (ingest.ts), which is
 * terminal, so the watermark never stays pinned behind it.
 */
import type { ObjectInfo } from '../storage/types';
import { IngestFileOptions, ingestFile, tableKeyOf } from './ingest';
import { CLAIM_EXPIRY_MS, claimIsLive } from './ledger';
import { normaliseEtag } from './stream';
import type { BackfillResult, IngestOutcome } from './types';

/** Options of `backfill`: those of `ingestFile` without the file, plus the folder. */
export interface BackfillOptions extends Omit<IngestFileOptions, 'path' | 'etag' | 'onProgress'> {
  /** Folder (prefix) of the landing store to reconcile, `''` for all of it. */
  prefix: string;
  /** Only these blobs (e.g. those `routeBlob` gives to this source). */
  filter?: (path: string) => boolean;
  /** Safety margin of the watermark (default 15 minutes). */
  marginMs?: number;
  /** A `started` entry whose claim was renewed less than this ago is taken as in progress elsewhere and left alone (default `CLAIM_EXPIRY_MS`, a minute). */
  inProgressGraceMs?: number;
  /** Files ingested at the same time (default 2). */
  concurrency?: number;
  /** Called after each file. */
  onFile?: (outcome: IngestOutcome | { status: 'error'; path: string; error: Error }) => void;
  /** Called with progress of the file being ingested. */
  onProgress?: (path: string, progress: { bytesRead: number; rowsWritten: number }) => void;
}

/**
 * Ingest what the ledger does not have from a landing folder.
 *
 * @param options landing store and folder, table, source settings, ledger, dead-letter target
 * @returns counts, outcomes and the watermark movement
 */
export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const { landing, ledger } = options;
  const tableKey = options.tableKey ?? tableKeyOf(options.table);
  const margin = options.marginMs ?? 15 * 60_000;
  const grace = options.inProgressGraceMs ?? CLAIM_EXPIRY_MS;
  const stored = await ledger.getWatermark(tableKey, options.prefix);
  const since = stored ? stored.lastModified - margin : -Infinity;

  const candidates: ObjectInfo[] = [];
  let listed = 0;
  let newest: number | null = null;
  for await (const info of landing.list(options.prefix)) {
    if (info.path.endsWith('/')) continue;
    if (options.filter && !options.filter(info.path)) continue;
    listed++;
    const modified = info.lastModified.getTime();
    newest = newest === null ? modified : Math.max(newest, modified);
    if (modified >= since) candidates.push(info);
  }

  const result: BackfillResult = {
    listed,
    checked: candidates.length,
    done: 0,
    inProgress: 0,
    outcomes: [],
    failures: [],
    watermark: { before: stored?.lastModified ?? null, after: null },
  };
  const notDone: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < candidates.length) {
      const info = candidates[next++];
      const modified = info.lastModified.getTime();
      const etag = normaliseEtag(info.etag);
      try {
        const entry = await ledger.get(tableKey, info.path, etag);
        if (entry && entry.status !== 'started') {
          result.done++;
          continue;
        }
        if (entry && claimIsLive(entry, Date.now(), grace)) {
          result.inProgress++;
          notDone.push(modified);
          continue;
        }
        const outcome = await ingestFile({
          ...options,
          tableKey,
          path: info.path,
          etag,
          onProgress: options.onProgress && ((p) => options.onProgress!(info.path, p)),
        });
        result.outcomes.push(outcome);
        options.onFile?.(outcome);
        if (outcome.status !== 'committed' && outcome.status !== 'deadlettered' && outcome.status !== 'duplicate') notDone.push(modified);
      } catch (err) {
        result.failures.push({ path: info.path, error: err as Error });
        options.onFile?.({ status: 'error', path: info.path, error: err as Error });
        notDone.push(modified);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));

  // Not Math.min(...notDone): a folder can hold more files than a call takes arguments.
  const after = notDone.length ? notDone.reduce((a, b) => Math.min(a, b)) : (newest ?? stored?.lastModified ?? null);
  if (after !== null && after !== stored?.lastModified) {
    await ledger.setWatermark(tableKey, options.prefix, { lastModified: after, updatedAt: new Date().toISOString() });
  }
  result.watermark.after = after;
  return result;
}
