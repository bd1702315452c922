/**
 * The local host's Event Grid delivery journal. In Azure, Event Grid keeps an event until the
 * function has handled it: an invocation that dies (the instance crashed or was evicted) is a failed
 * delivery and is delivered again. The landing watch must do the same across a crash of the local
 * host itself, so it journals each BlobCreated event before handing it to the function and forgets it
 * only once the function returned; a host started after a crash delivers what the journal still
 * holds. The journal also records up to when the landing folders had been listed, so that the next
 * start delivers the blobs that arrived while no host was watching, as Event Grid would have queued
 * their events, instead of leaving them to the reconcile timer.
 *
 * Kept in the Azure Table `SluiceDevDeliveries` of the local Azurite (beside the other `SluiceDev*`
 * tables of the local host): PartitionKey `pending|<container>`, RowKey `<path>!<etag>` (encoded as
 * ledger keys are), and one row `watch|<container>` / `listed` with the listing time.
 *
 * Retries follow Event Grid's schedule (https://learn.microsoft.com/azure/event-grid/delivery-and-retry):
 * 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h, with a small
 * randomisation, for at most 30 attempts within 24 hours (the subscription defaults).
 */
import type { TableClient } from '@azure/data-tables';
import { encodeKey } from '../shared/storage/table-keys';
import { tableCreation } from '../shared/storage/lake';

/** Event Grid's pause before each retry: the n-th entry follows the n-th failed attempt. */
export const EVENT_GRID_RETRY_MS: readonly number[] = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000];
/** Event Grid's default maximum number of delivery attempts of one event. */
export const EVENT_GRID_MAX_ATTEMPTS = 30;
/** Event Grid's default event time to live (1,440 minutes). */
export const EVENT_GRID_TTL_MS = 24 * 60 * 60_000;

/**
 * Event Grid's pause after a failed attempt, randomised by up to ±5 %.
 *
 * @param failedAttempt the attempt that failed (1 for the first delivery)
 * @param random a number in [0, 1) (default Math.random)
 * @returns milliseconds to wait before the next attempt
 */
export function eventGridRetryDelay(failedAttempt: number, random: () => number = Math.random): number {
  const base = EVENT_GRID_RETRY_MS[Math.min(Math.max(failedAttempt, 1), EVENT_GRID_RETRY_MS.length) - 1];
  return Math.round(base * (0.95 + 0.1 * random()));
}

/** A BlobCreated event not yet handled by the function. */
export interface PendingDelivery {
  path: string;
  etag: string;
  size: number;
  /** The attempt to make next (1 for the first delivery). */
  attempt: number;
  /** When that attempt is due (ms since the epoch). */
  dueAt: number;
  /** When the event was first raised (ms): it expires `EVENT_GRID_TTL_MS` later. */
  raisedAt: number;
}

/** Where the watch keeps its deliveries across restarts. */
export interface DeliveryJournal {
  /** Every delivery not yet handled. */
  pending(): Promise<PendingDelivery[]>;
  /** Record (or update) a delivery before it is attempted. */
  keep(delivery: PendingDelivery): Promise<void>;
  /** The function handled it (or it was given up): forget it. */
  forget(delivery: Pick<PendingDelivery, 'path' | 'etag'>): Promise<void>;
  /** Every blob modified before this time (ms) had been listed, or null before the first watch. */
  listedUntil(): Promise<number | null>;
  setListedUntil(time: number): Promise<void>;
}

/**
 * The journal in an Azure Table (the local Azurite).
 *
 * @param client the `SluiceDevDeliveries` table (created on first use)
 * @param container the landing container (one journal per container)
 * @returns the journal
 */
export function tableJournal(client: TableClient, container: string): DeliveryJournal {
  const ensure = tableCreation(client);
  const pendingPartition = `pending|${container}`;
  const watchPartition = `watch|${container}`;
  const rowKey = (d: Pick<PendingDelivery, 'path' | 'etag'>) => `${encodeKey(d.path)}!${encodeKey(d.etag)}`;
  return {
    async pending() {
      await ensure();
      const out: PendingDelivery[] = [];
      // The blob's ETag is `blobEtag`: an entity's own `etag` is the table service's concurrency tag.
      const rows = client.listEntities<{ path: string; blobEtag: string; size: string; attempt: number; dueAt: string; raisedAt: string }>({
        queryOptions: { filter: `PartitionKey eq '${pendingPartition.replace(/'/g, "''")}'` },
      });
      for await (const row of rows) {
        out.push({
          path: row.path,
          etag: row.blobEtag,
          size: Number(row.size),
          attempt: Number(row.attempt),
          dueAt: Number(row.dueAt),
          raisedAt: Number(row.raisedAt),
        });
      }
      return out;
    },
    async keep(d) {
      await ensure();
      // Times as text: an untyped JSON number beyond Int32 is read back differently by different services.
      await client.upsertEntity(
        {
          partitionKey: pendingPartition,
          rowKey: rowKey(d),
          path: d.path,
          blobEtag: d.etag,
          size: String(d.size),
          attempt: d.attempt,
          dueAt: String(d.dueAt),
          raisedAt: String(d.raisedAt),
        },
        'Replace',
      );
    },
    async forget(d) {
      await ensure();
      try {
        await client.deleteEntity(pendingPartition, rowKey(d));
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    },
    async listedUntil() {
      await ensure();
      try {
        const row = await client.getEntity<{ time: string }>(watchPartition, 'listed');
        return Number(row.time);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return null;
        throw err;
      }
    },
    async setListedUntil(time) {
      await ensure();
      await client.upsertEntity({ partitionKey: watchPartition, rowKey: 'listed', time: String(time) }, 'Replace');
    },
  };
}
