/**
 * Table Storage plumbing shared by the engine's tables: status codes, Int64 values, transactions
 * (at most 100 rows and 4 MiB each, one partition), creating rows where a duplicate means "already
 * done", and deleting rows that may already be gone.
 */
import type { TableClient, TransactionAction } from '@azure/data-tables';

/** A row to write. */
export type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

/** Table Storage's status code of a failed call. */
export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** Epoch ms stored as Int64 (JS numbers would be typed Double or Int32 by the service). */
export function int64(ms: number): { value: string; type: 'Int64' } {
  return { value: String(Math.trunc(ms)), type: 'Int64' };
}

/** Read back a number stored as Int64, Int32 or Double. */
export function numberOf(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return Number(typeof value === 'object' && 'value' in (value as object) ? (value as { value: unknown }).value : value);
}

/** Submit actions of one partition in transactions of at most 100 actions and ~3.5 MB. */
export async function submitBatched(client: TableClient, actions: TransactionAction[], sizeOf: (a: TransactionAction) => number): Promise<void> {
  let batch: TransactionAction[] = [];
  let size = 0;
  for (const action of actions) {
    const s = sizeOf(action);
    if (batch.length && (batch.length === 100 || size + s > 3_500_000)) {
      await client.submitTransaction(batch);
      batch = [];
      size = 0;
    }
    batch.push(action);
    size += s;
  }
  if (batch.length) await client.submitTransaction(batch);
}

/** Create a row; one that exists already is left as it is (the write was done before). */
export async function createRow(client: TableClient, entity: Entity): Promise<void> {
  try {
    await client.createEntity(entity);
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
  }
}

/** Create rows of one partition in transactions; a transaction that meets an existing row is redone row by row. */
export async function createRows(client: TableClient, entities: readonly Entity[]): Promise<void> {
  const chunks: Entity[][] = [];
  let size = Infinity;
  for (const e of entities) {
    const s = 2 * JSON.stringify(e).length + 200;
    if (chunks.length === 0 || chunks[chunks.length - 1].length === 100 || size + s > 3_500_000) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1].push(e);
    size += s;
  }
  for (const chunk of chunks) {
    try {
      if (chunk.length === 1) await createRow(client, chunk[0]);
      else await client.submitTransaction(chunk.map((e): TransactionAction => ['create', e]));
    } catch (err) {
      if (statusOf(err) !== 409 && statusOf(err) !== 413) throw err;
      for (const e of chunk) await createRow(client, e);
    }
  }
}

/** Delete rows of one partition (missing ones are fine). */
export async function deleteRows(client: TableClient, partition: string, rowKeys: readonly string[]): Promise<void> {
  const actions: TransactionAction[] = rowKeys.map((rowKey) => ['delete', { partitionKey: partition, rowKey }]);
  try {
    await submitBatched(client, actions, () => 300);
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    // One of them was gone already: a transaction fails whole, so go one by one.
    for (const rowKey of rowKeys) {
      try {
        await client.deleteEntity(partition, rowKey);
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
    }
  }
}

/** OData filter for the RowKeys of one instance (`<key>!…`; `encodeKey` never emits `!`). */
export function instanceRange(key: string): string {
  return `RowKey ge '${key}!' and RowKey lt '${key}"'`;
}

/** Zero-padded number for RowKeys. */
export function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
