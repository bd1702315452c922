/**
 * Bronze ingestion lag, from what the app can see without extra rights:
 * - landing files not yet ingested: the blobs of a source's landing folder modified since its ledger
 *   watermark (everything older is done, backfill.ts) with no finished ledger entry for their
 *   (path, ETag), and the age of the oldest;
 * - dead-lettered rows: the counts in the table's dead-letter records (those still in
 *   `_sluice/dead-letter/<table>/`, replays' included);
 * - Event Hubs: the last sequence number applied per partition is the bronze table's Delta `txn`
 *   (events.ts); the last one enqueued comes from a `HubPositions` reader when one is given (the Event
 *   Hubs service's partition information, hub-positions.ts, or the local host's stand-in).
 */
import { listDeadLetters } from '../ingest/deadletter-records';
import { normaliseEtag } from '../ingest/stream';
import type { IngestLedger } from '../ingest/types';
import type { ObjectStore } from '../storage/types';

/** Pending landing files of one source. */
export interface LandingLag {
  pendingFiles: number;
  /** Age of the oldest pending file, in seconds (0 when none). */
  oldestPendingSeconds: number;
  /** True when the check stopped at `MAX_CHECKED` blobs: the counts are a floor. */
  truncated: boolean;
}

/** Blobs looked up in the ledger per source and collection. */
export const MAX_CHECKED = 2_000;

/**
 * Landing files of a source not yet in the ledger as committed or dead-lettered.
 *
 * @param landing store rooted at the landing container
 * @param folder the source's landing folder
 * @param ledger the ingest ledger
 * @param tableKey the ledger key of the bronze table
 * @param now the clock
 * @returns the lag
 */
export async function landingLag(landing: ObjectStore, folder: string, ledger: IngestLedger, tableKey: string, now: Date): Promise<LandingLag> {
  const watermark = await ledger.getWatermark(tableKey, folder);
  const since = watermark?.lastModified ?? -Infinity;
  let pendingFiles = 0;
  let oldest = now.getTime();
  let checked = 0;
  let truncated = false;
  for await (const info of landing.list(folder)) {
    if (info.path.endsWith('/') || info.lastModified.getTime() < since) continue;
    if (checked++ >= MAX_CHECKED) {
      truncated = true;
      break;
    }
    const entry = await ledger.get(tableKey, info.path, normaliseEtag(info.etag));
    if (entry && entry.status !== 'started') continue;
    pendingFiles++;
    oldest = Math.min(oldest, info.lastModified.getTime());
  }
  return { pendingFiles, oldestPendingSeconds: pendingFiles ? Math.max(0, (now.getTime() - oldest) / 1000) : 0, truncated };
}

/** Dead-lettered rows and records of a table. */
export interface DeadLetterCounts {
  rows: number;
  records: number;
}

/**
 * Rows in a table's dead-letter records.
 *
 * @param folder store rooted at the dead-letter folder
 * @param table the table path (`bronze/pos_sales`)
 * @returns rows and records
 */
export async function deadLetterCounts(folder: ObjectStore, table: string): Promise<DeadLetterCounts> {
  let rows = 0;
  let records = 0;
  for await (const entry of listDeadLetters(folder, { table })) {
    records++;
    rows += entry.counts.rowsDeadLettered;
  }
  return { rows, records };
}

/** The last sequence number enqueued per partition of an Event Hub. */
export type HubPositions = (hub: string) => Promise<Record<string, number> | null>;

/** Lag of one Event Hubs source. */
export interface HubLag {
  /** Highest sequence number applied per partition (from the table's txn). */
  applied: Record<string, number>;
  /** Events enqueued and not applied, summed over partitions (null: enqueued positions unknown). */
  lagEvents: number | null;
}

/**
 * An Event Hubs source's lag.
 *
 * @param txns the bronze table's txn versions by app id
 * @param hub the Event Hub name
 * @param positions reader of the last enqueued sequence numbers (none: lag unknown)
 * @returns applied positions and lag
 */
export async function hubLag(txns: Record<string, number>, hub: string, positions?: HubPositions): Promise<HubLag> {
  const applied: Record<string, number> = {};
  const wanted = `/${hub.toLowerCase()}/`;
  for (const [appId, version] of Object.entries(txns)) {
    if (!appId.startsWith('sluice-eh:') || !appId.includes(wanted)) continue;
    applied[appId.slice(appId.lastIndexOf('/') + 1)] = version;
  }
  const enqueued = positions ? await positions(hub) : null;
  if (!enqueued) return { applied, lagEvents: null };
  let lag = 0;
  for (const [partition, last] of Object.entries(enqueued)) lag += Math.max(0, last - (applied[partition] ?? -1));
  return { applied, lagEvents: lag };
}
