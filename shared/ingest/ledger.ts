/**
 * The ingestion ledger: one entry per (table, landing blob path, ETag) recording where its ingestion
 * stands and what it counted, plus one listing watermark per (table, landing folder) for `backfill`.
 *
 * The ledger is a record, not the lock: exactly-once comes from the Delta commit, which names its
 * source (the lane intent id is derived from path + ETag and every commit lists the intents it
 * carries), so a crash after the commit and before the ledger update is repaired on retry by reading
 * the commits made since the entry's `startVersion`. See ingest.ts.
 *
 * A `started` entry is a claim: a live ingestion renews it (`updatedAt`) every `CLAIM_RENEW_MS`, so
 * reconcile can tell an ingestion still running elsewhere from one whose process died, once the
 * claim is `CLAIM_EXPIRY_MS` old, instead of waiting a fixed grace long enough for any file. An
 * attempt that failed gives the claim up at once (`failedAt`); a non-transient failure also counts in
 * `failures`, with its message in `lastError`.
 *
 * Two implementations:
 * - `TableLedger`: Azure Table Storage table `SluiceLedger` (the Functions app; also Azurite).
 *   PartitionKey = the table key (e.g. `lake/bronze/pos_sales`), RowKey = `file!<path>!<etag>` or
 *   `wm!<folder>`, both encoded by `encodeKey` (Table keys forbid `/ \ # ?` and control characters,
 *   and are limited to 1 KiB). The blob's ETag is stored as `blobEtag` (`etag` is the entity's own).
 *   Only point reads and writes are used, so Azurite's query limits do not matter.
 * - `StoreLedger`: one small JSON object per entry in an `ObjectStore` (the CLI on local disk), at
 *   `<encoded table key>/<row key>.json`; creation is create-if-absent, so it is as safe under
 *   concurrency as the table.
 */
import type { TableClient } from '@azure/data-tables';
import type { LakeConnection } from '../config/settings';
import { connectionStringTables, openLakeTables, tableCreation } from '../storage/lake';
import { encodeKey } from '../storage/table-keys';
import { ObjectAlreadyExistsError, ObjectNotFoundError, ObjectStore } from '../storage/types';
import { LEDGER_TABLE } from '../storage/lake-layout';
import type { IngestLedger, LedgerEntry, Watermark } from './types';

/** How often a running ingestion renews its claim on its `started` entry. */
export const CLAIM_RENEW_MS = 15_000;
/** A claim not renewed for this long belongs to an ingestion that died (four renewals missed). */
export const CLAIM_EXPIRY_MS = 60_000;

/**
 * Whether a `started` entry is held by a live ingestion: renewed within `expiryMs`, and not given up by
 * a failed attempt since.
 *
 * @param entry the ledger entry
 * @param now the time to judge at (ms)
 * @param expiryMs how old a claim may be (default `CLAIM_EXPIRY_MS`)
 * @returns true while another attempt should be left alone
 */
export function claimIsLive(entry: LedgerEntry, now: number, expiryMs = CLAIM_EXPIRY_MS): boolean {
  if (entry.status !== 'started') return false;
  const renewed = Date.parse(entry.updatedAt);
  if (entry.failedAt && Date.parse(entry.failedAt) >= renewed) return false;
  return now - renewed < expiryMs;
}

/** A claim being renewed in the background; `ledger` writes only after the renewals stopped. */
export interface HeldClaim {
  /** The ledger, whose `put` and `remove` first stop the renewals (so none lands after them). */
  readonly ledger: IngestLedger;
  /** Stop renewing (waits for a renewal under way). */
  release(): Promise<void>;
}

/**
 * Keep renewing the claim on a `started` entry until the attempt writes its outcome or gives up.
 * A failed renewal is not fatal: the attempt goes on, and at worst reconcile takes a long attempt
 * for a dead one and runs it again beside it, which the commit lane makes harmless.
 *
 * @param ledger the ledger
 * @param entry the entry this attempt started or took over
 * @param everyMs renewal interval (default `CLAIM_RENEW_MS`)
 * @returns the held claim
 */
export function holdClaim(ledger: IngestLedger, entry: LedgerEntry, everyMs = CLAIM_RENEW_MS): HeldClaim {
  let renewing: Promise<unknown> | undefined;
  let held = true;
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = ledger
      .renew(entry, new Date().toISOString())
      .catch(() => false)
      .finally(() => (renewing = undefined));
  }, everyMs);
  // A claim must not keep a CLI process alive after its work is done.
  timer.unref();
  const release = async () => {
    if (held) clearInterval(timer);
    held = false;
    await renewing;
  };
  const wrapped: IngestLedger = {
    description: ledger.description,
    get: (table, path, etag) => ledger.get(table, path, etag),
    start: (e) => ledger.start(e),
    put: async (e) => {
      await release();
      await ledger.put(e);
    },
    remove: async (e) => {
      await release();
      await ledger.remove(e);
    },
    renew: (e, at) => ledger.renew(e, at),
    getWatermark: (table, folder) => ledger.getWatermark(table, folder),
    setWatermark: (table, folder, watermark) => ledger.setWatermark(table, folder, watermark),
  };
  return { ledger: wrapped, release };
}

/** RowKey of a file entry. */
export function fileRowKey(path: string, etag: string): string {
  return `file!${encodeKey(path)}!${encodeKey(etag)}`;
}

/** RowKey of a watermark. */
export function watermarkRowKey(folder: string): string {
  return `wm!${encodeKey(folder)}`;
}

const NUMBER_FIELDS = ['attempts', 'startVersion', 'version', 'rowsRead', 'rowsWritten', 'rowsRescued', 'rowsDeadLettered', 'bytes', 'failures'] as const;
const STRING_FIELDS = ['table', 'path', 'etag', 'status', 'source', 'startedAt', 'updatedAt', 'deadLetter', 'reason', 'lastError', 'failedAt'] as const;

function num(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && 'value' in (value as object)) return Number((value as { value: unknown }).value);
  return Number(value);
}

function fromRecord(record: Record<string, unknown>): LedgerEntry {
  const out: Record<string, unknown> = {};
  for (const key of STRING_FIELDS) if (typeof record[key] === 'string') out[key] = record[key];
  // In Table Storage the entity's own `etag` is the service's concurrency tag: the blob's is `blobEtag`.
  if (typeof record.blobEtag === 'string') out.etag = record.blobEtag;
  for (const key of NUMBER_FIELDS) {
    const n = num(record[key]);
    if (n !== undefined) out[key] = n;
  }
  for (const key of ['attempts', 'rowsRead', 'rowsWritten', 'rowsRescued', 'rowsDeadLettered', 'bytes', 'startVersion'] as const)
    out[key] ??= key === 'startVersion' ? -1 : 0;
  return out as unknown as LedgerEntry;
}

/** Ledger in Azure Table Storage (`SluiceLedger`). */
export class TableLedger implements IngestLedger {
  readonly description: string;
  private readonly ensure: () => Promise<void>;

  /** @param client client of the ledger table (created on first use if missing) */
  constructor(private readonly client: TableClient) {
    this.description = `Azure Table ${client.tableName} at ${client.url.replace(/\?.*$/, '')}`;
    this.ensure = tableCreation(client);
  }

  /**
   * A ledger reached with a connection string (Azurite: `UseDevelopmentStorage=true` or one with `TableEndpoint=`).
   *
   * @param connectionString storage connection string
   * @param tableName table name (default SluiceLedger)
   * @returns the ledger
   */
  static fromConnectionString(connectionString: string, tableName = LEDGER_TABLE): TableLedger {
    return new TableLedger(connectionStringTables(connectionString)(tableName));
  }

  /**
   * The ledger of the running app: the lake connection from the settings (connection string, or
   * identity with the table endpoint).
   *
   * @param connection the lake connection
   * @param tableName table name (default SluiceLedger)
   * @returns the ledger
   */
  static fromConnection(connection: LakeConnection, tableName = LEDGER_TABLE): TableLedger {
    return new TableLedger(openLakeTables(connection)(tableName));
  }

  private async read(partition: string, row: string): Promise<Record<string, unknown> | null> {
    await this.ensure();
    try {
      return (await this.client.getEntity(partition, row)) as unknown as Record<string, unknown>;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  private entity(entry: LedgerEntry): Record<string, unknown> & { partitionKey: string; rowKey: string } {
    const out: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: encodeKey(entry.table),
      rowKey: fileRowKey(entry.path, entry.etag),
    };
    for (const key of STRING_FIELDS) if (entry[key] !== undefined) out[key === 'etag' ? 'blobEtag' : key] = entry[key];
    for (const key of NUMBER_FIELDS) if (entry[key] !== undefined) out[key] = { value: String(entry[key]), type: 'Int64' };
    return out;
  }

  async get(table: string, path: string, etag: string): Promise<LedgerEntry | null> {
    const record = await this.read(encodeKey(table), fileRowKey(path, etag));
    return record ? fromRecord(record) : null;
  }

  async start(entry: LedgerEntry): Promise<{ entry: LedgerEntry; created: boolean }> {
    await this.ensure();
    try {
      await this.client.createEntity(this.entity(entry));
      return { entry, created: true };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
    const existing = await this.get(entry.table, entry.path, entry.etag);
    if (!existing) throw new Error(`ingest ledger: entry for ${entry.path} (${entry.etag}) exists and vanished; retry`);
    return { entry: existing, created: false };
  }

  async put(entry: LedgerEntry): Promise<void> {
    await this.ensure();
    await this.client.upsertEntity(this.entity(entry), 'Replace');
  }

  async remove(entry: LedgerEntry): Promise<void> {
    await this.ensure();
    try {
      await this.client.deleteEntity(encodeKey(entry.table), fileRowKey(entry.path, entry.etag));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  async renew(entry: LedgerEntry, at: string): Promise<boolean> {
    const partition = encodeKey(entry.table);
    const row = fileRowKey(entry.path, entry.etag);
    const record = await this.read(partition, row);
    if (!record || record.status !== 'started') return false;
    try {
      // If-Match on the entity's own ETag: an outcome written since the read is never overwritten.
      await this.client.updateEntity({ partitionKey: partition, rowKey: row, updatedAt: at }, 'Merge', { etag: String(record.etag) });
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 412 || (err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }

  async getWatermark(table: string, folder: string): Promise<Watermark | null> {
    const record = await this.read(encodeKey(table), watermarkRowKey(folder));
    if (!record) return null;
    return { lastModified: num(record.lastModified) ?? 0, updatedAt: String(record.updatedAt ?? '') };
  }

  async setWatermark(table: string, folder: string, watermark: Watermark): Promise<void> {
    await this.ensure();
    await this.client.upsertEntity(
      {
        partitionKey: encodeKey(table),
        rowKey: watermarkRowKey(folder),
        folder,
        lastModified: { value: String(watermark.lastModified), type: 'Int64' },
        updatedAt: watermark.updatedAt,
      },
      'Replace',
    );
  }
}

/** Ledger kept as JSON objects in an object store (the CLI on local tables). */
export class StoreLedger implements IngestLedger {
  readonly description: string;

  /** @param store store rooted at the ledger folder */
  constructor(private readonly store: ObjectStore) {
    this.description = store.url;
  }

  private entryPath(table: string, path: string, etag: string): string {
    return `${encodeKey(table)}/${fileRowKey(path, etag)}.json`;
  }

  private async readJson(path: string): Promise<Record<string, unknown> | null> {
    try {
      return JSON.parse(new TextDecoder().decode(await this.store.read(path)));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    }
  }

  async get(table: string, path: string, etag: string): Promise<LedgerEntry | null> {
    const record = await this.readJson(this.entryPath(table, path, etag));
    return record ? fromRecord(record) : null;
  }

  async start(entry: LedgerEntry): Promise<{ entry: LedgerEntry; created: boolean }> {
    try {
      await this.store.createIfAbsent(this.entryPath(entry.table, entry.path, entry.etag), JSON.stringify(entry), { contentType: 'application/json' });
      return { entry, created: true };
    } catch (err) {
      if (!(err instanceof ObjectAlreadyExistsError)) throw err;
    }
    const existing = await this.get(entry.table, entry.path, entry.etag);
    if (!existing) throw new Error(`ingest ledger: entry for ${entry.path} (${entry.etag}) exists and vanished; retry`);
    return { entry: existing, created: false };
  }

  async put(entry: LedgerEntry): Promise<void> {
    await this.store.write(this.entryPath(entry.table, entry.path, entry.etag), JSON.stringify(entry), { contentType: 'application/json' });
  }

  async remove(entry: LedgerEntry): Promise<void> {
    await this.store.delete(this.entryPath(entry.table, entry.path, entry.etag));
  }

  async renew(entry: LedgerEntry, at: string): Promise<boolean> {
    // Not atomic (a local ledger is one process's, the CLI's): read, then write only a started entry.
    const current = await this.get(entry.table, entry.path, entry.etag);
    if (!current || current.status !== 'started') return false;
    await this.put({ ...current, updatedAt: at });
    return true;
  }

  async getWatermark(table: string, folder: string): Promise<Watermark | null> {
    const record = await this.readJson(`${encodeKey(table)}/${watermarkRowKey(folder)}.json`);
    return record ? { lastModified: Number(record.lastModified), updatedAt: String(record.updatedAt) } : null;
  }

  async setWatermark(table: string, folder: string, watermark: Watermark): Promise<void> {
    await this.store.write(`${encodeKey(table)}/${watermarkRowKey(folder)}.json`, JSON.stringify({ folder, ...watermark }), {
      contentType: 'application/json',
    });
  }
}
