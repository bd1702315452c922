/**
 * Azure Table Storage state (the ingestion ledger `SluiceLedger`, the event log `SluiceEvents`)
 * exported as NDJSON beside the table backups, and imported back into another account.
 *
 * Each line is one entity with every property as `{ value, type }` (the service's EDM type: Int64,
 * DateTime, Binary…), read with type conversion off, so the import writes back exactly what was
 * there, numbers beyond 2^53 and all. The service's own `etag` and `Timestamp` are not carried: the
 * target account sets its own.
 */
import type { TableClient, TableEntity } from '@azure/data-tables';
import { createTableIfMissing } from '../storage/lake';
import type { ObjectStore } from '../storage/types';
import { BackupError } from './errors';

/** Entities per write batch of an import (upserts, in parallel). */
const IMPORT_PARALLEL = 16;

/**
 * Export a table's entities as NDJSON to `path` of a store.
 *
 * @param client the table (a missing table exports as empty)
 * @param store where to write
 * @param path the NDJSON object's path
 * @returns entities exported
 */
export async function exportTableEntities(client: TableClient, store: ObjectStore, path: string): Promise<number> {
  let count = 0;
  const lines: string[] = [];
  try {
    for await (const entity of client.listEntities({ disableTypeConversion: true })) {
      const { etag: _etag, timestamp: _timestamp, ...rest } = entity as Record<string, unknown>;
      void _etag;
      void _timestamp;
      delete rest['odata.metadata'];
      delete rest['Timestamp'];
      lines.push(JSON.stringify(rest));
      count++;
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  await store.write(path, lines.length ? lines.join('\n') + '\n' : '', { contentType: 'application/x-ndjson' });
  return count;
}

/**
 * Import NDJSON entities into a table (created if missing); an entity with the same keys is replaced.
 *
 * @param client the target table
 * @param store where the NDJSON is
 * @param path its path
 * @returns entities imported
 * @throws BackupError naming the line that is not an entity
 */
export async function importTableEntities(client: TableClient, store: ObjectStore, path: string): Promise<number> {
  const text = new TextDecoder().decode(await store.read(path));
  const entities: TableEntity[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new BackupError(`${store.url}/${path} line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
    const keys = [value.partitionKey, value.rowKey].map((k) => (k && typeof k === 'object' ? (k as { value?: unknown }).value : k));
    if (typeof keys[0] !== 'string' || typeof keys[1] !== 'string') throw new BackupError(`${store.url}/${path} line ${i + 1} has no partitionKey and rowKey`);
    entities.push({ ...value, partitionKey: keys[0], rowKey: keys[1] } as TableEntity);
  });
  if (!entities.length) return 0;
  await createTableIfMissing(client);
  for (let i = 0; i < entities.length; i += IMPORT_PARALLEL) {
    await Promise.all(entities.slice(i, i + IMPORT_PARALLEL).map((e) => client.upsertEntity(e, 'Replace')));
  }
  return entities.length;
}
