/** A table for the tiering tests: versions, removes inside and outside the retention, an orphan (Azurite). */
import { commitTransaction, loadSnapshot, writeTable } from '../../shared/delta';
import { removeAction } from '../../shared/delta/actions';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { writerBatch } from '../../bench/writers';
import { azuriteUri, uniqueContainer } from './azurite';

const DAY = 86_400_000;

/**
 * Partitions writer=1..5, one file each; retention 60 days. Version 5 removes writer=2 (removed 50
 * days ago: vacuum may delete it in 10 days), writer=3 (removed now: 60 days left) and writer=4
 * (removed 70 days ago: expired). Plus one orphan data file no version names.
 */
export async function tieredTable(label: string): Promise<{ store: ObjectStore; paths: Record<string, string>; now: number; container: string; uri: string }> {
  const container = uniqueContainer(label);
  const uri = azuriteUri(container, 'bronze/events');
  const store = openStore(uri);
  await writeTable(store, [writerBatch(1, 0, 3)], {
    partitionColumns: ['writer'],
    configuration: { 'delta.deletedFileRetentionDuration': 'interval 60 days' },
  });
  for (const w of [2, 3, 4, 5]) await writeTable(store, [writerBatch(w, 0, 3)]);
  const snapshot = await loadSnapshot(store);
  const byWriter = new Map([...snapshot.state.files.values()].map((f) => [f.partitionValues.writer, f]));
  const now = Date.now();
  await commitTransaction(store, snapshot, {
    operation: 'DELETE',
    actions: [
      removeAction(byWriter.get('2')!, true, now - 50 * DAY),
      removeAction(byWriter.get('3')!, true, now),
      removeAction(byWriter.get('4')!, true, now - 70 * DAY),
    ],
  });
  await store.write('writer=9/part-orphan.parquet', 'not committed');
  const paths = Object.fromEntries([...byWriter].map(([w, f]) => [`w${w}`, decodeURIComponent(f.path)]));
  return { store, paths: { ...paths, orphan: 'writer=9/part-orphan.parquet' }, now, container, uri };
}
