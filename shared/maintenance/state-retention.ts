/**
 * Keeping Sluice's own state in bounds: what the maintenance timer deletes besides table files, and
 * what it keeps on purpose.
 *
 * - **Durable instance history** (`SLUICE_HISTORY_RETENTION_DAYS`, default 30): finished instances
 *   (completed, failed, terminated) created before the cutoff are purged, through the Durable client
 *   in Azure and through the local engine on the local host (timer.ts). Running instances are never
 *   touched. Run outcomes stay answerable after the purge from the event log (below).
 * - **`SluiceEvents`** (`SLUICE_EVENTS_RETENTION_DAYS`, default 90): rows recorded before the cutoff
 *   are deleted: table updates (both copies: by run and by table), run requests. A row is dated by
 *   what it records (`recordedAt` of an update, `requestedAt` of a request), else by the time the
 *   table service last wrote it. Nothing exactly-once rests on these rows: a retried `refreshTable`
 *   reads its run's record within minutes, far inside any retention allowed (1 day at least).
 * - **`SluiceLedger`** is not pruned by age. Exactly-once of landing files rests on it: reconcile and
 *   redelivered BlobCreated events skip a blob whose (path, ETag) has an entry, so an entry is needed
 *   for exactly as long as its blob, with that ETag, is in the landing container. Deleting it earlier
 *   would ingest the file again however old it is; once the blob is deleted or replaced (a new ETag)
 *   no trigger can read those bytes again. The ledger therefore shrinks with the landing container (the
 *   tiering policy for landing files deletes committed or dead-lettered files after N days), and
 *   `pruneLedger` removes the entries whose blob is gone. Entries still `started` (an ingestion under
 *   way) and the listing watermarks of `sluice backfill` (one row per folder) are always kept.
 */
import type { TableClient } from '@azure/data-tables';
import { normaliseEtag } from '../ingest/stream';
import type { ObjectStore } from '../storage/types';

/** One day in ms: retentions are set in days. */
export const DAY_MS = 86_400_000;

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Delete entities in batches of one partition (the table service's transaction unit), 100 at a time. */
async function deleteEntities(client: TableClient, doomed: { partitionKey: string; rowKey: string }[]): Promise<void> {
  const byPartition = new Map<string, string[]>();
  for (const e of doomed) byPartition.set(e.partitionKey, [...(byPartition.get(e.partitionKey) ?? []), e.rowKey]);
  for (const [partition, rows] of byPartition) {
    for (let i = 0; i < rows.length; i += 100) {
      await client.submitTransaction(rows.slice(i, i + 100).map((rowKey) => ['delete', { partitionKey: partition, rowKey }]));
    }
  }
}

/** When a row of the event log was recorded: its own date, else the service's write time. */
function recordedAt(entity: Record<string, unknown>): number {
  for (const key of ['recordedAt', 'requestedAt', 'timestamp']) {
    const at = typeof entity[key] === 'string' ? Date.parse(entity[key] as string) : NaN;
    if (!Number.isNaN(at)) return at;
  }
  return Infinity; // undated: keep
}

/**
 * Delete the event log rows recorded before a cutoff.
 *
 * @param client the `SluiceEvents` table
 * @param before the cutoff
 * @returns how many rows were deleted
 */
export async function pruneEventLog(client: TableClient, before: Date): Promise<number> {
  const doomed: { partitionKey: string; rowKey: string }[] = [];
  try {
    for await (const entity of client.listEntities<Record<string, unknown>>({
      queryOptions: { select: ['PartitionKey', 'RowKey', 'recordedAt', 'requestedAt', 'Timestamp'] },
    })) {
      if (recordedAt(entity) < before.getTime()) doomed.push({ partitionKey: entity.partitionKey!, rowKey: entity.rowKey! });
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return 0; // no event log yet
    throw err;
  }
  await deleteEntities(client, doomed);
  return doomed.length;
}

/**
 * Delete the ledger entries no trigger can need any more: committed or dead-lettered entries whose
 * landing blob, with the entry's ETag, no longer exists (see the file's header for the rule).
 *
 * @param client the `SluiceLedger` table
 * @param landing store rooted at the landing container
 * @returns how many entries were deleted
 */
export async function pruneLedger(client: TableClient, landing: ObjectStore): Promise<number> {
  // Entries first, blobs second: an entry listed names a blob that existed before it was written, so a
  // blob missing from the later listing is gone for good, never one not uploaded yet.
  const candidates: { partitionKey: string; rowKey: string; key: string }[] = [];
  const filter = `status eq ${quote('committed')} or status eq ${quote('deadlettered')}`;
  try {
    for await (const entity of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'path', 'blobEtag', 'status'] },
    })) {
      const path = typeof entity.path === 'string' ? entity.path : undefined;
      const etag = typeof entity.blobEtag === 'string' ? normaliseEtag(entity.blobEtag) : undefined;
      // An entry we cannot place is kept: keeping one costs a row, dropping one costs a duplicate.
      if (path === undefined || etag === undefined) continue;
      candidates.push({ partitionKey: entity.partitionKey!, rowKey: entity.rowKey!, key: `${path}\u0000${etag}` });
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return 0;
    throw err;
  }
  const present = new Set<string>();
  for await (const info of landing.list('')) present.add(`${info.path}\u0000${normaliseEtag(info.etag)}`);
  const doomed = candidates.filter((c) => !present.has(c.key)).map(({ partitionKey, rowKey }) => ({ partitionKey, rowKey }));
  await deleteEntities(client, doomed);
  return doomed.length;
}
