// Loading the latest snapshot lists only the log windows from the `_last_checkpoint` hint onward;
// a stale, missing or lying hint, or a gap, must never give a wrong or silently old version.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Action, serialiseCommit } from '../../shared/delta/actions';
import { writeCheckpoint } from '../../shared/delta/checkpoint';
import { laneCommitRecord } from '../../shared/delta/lane';
import { commitPath, LAST_CHECKPOINT } from '../../shared/delta/log';
import { CREATE_PROTOCOL } from '../../shared/delta/protocol';
import { applyActions, cloneState, emptyState } from '../../shared/delta/replay';
import { loadSnapshot } from '../../shared/delta/snapshot';
import { LocalStore } from '../../shared/storage/local';

const SCHEMA = JSON.stringify({ type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] });

/** A log-only table with `versions` commits (one add each) and checkpoints every 10 versions. */
async function logOnlyTable(versions: number): Promise<{ dir: string; store: LocalStore }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-log-'));
  const store = new LocalStore(dir);
  const state = emptyState();
  for (let v = 0; v < versions; v++) {
    const actions: Action[] =
      v === 0
        ? [
            { protocol: CREATE_PROTOCOL },
            { metaData: { id: 'id', format: { provider: 'parquet' }, schemaString: SCHEMA, partitionColumns: [], configuration: {} } },
          ]
        : [];
    actions.push({ add: { path: `f${v}.parquet`, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true } });
    await store.createIfAbsent(commitPath(v), serialiseCommit(actions));
    applyActions(state, actions, v);
    if (v > 0 && v % 10 === 0) await writeCheckpoint(store, cloneState(state));
  }
  return { dir, store };
}

describe('snapshot loading from the checkpoint hint', () => {
  it('finds the latest version across listing windows', async () => {
    const { store } = await logOnlyTable(235);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(234);
    expect(snapshot.checkpointVersion).toBe(230);
    expect(snapshot.state.files.size).toBe(235);
  });

  it('a stale hint still gives the latest version and the newest checkpoint', async () => {
    const { dir, store } = await logOnlyTable(205);
    writeFileSync(join(dir, LAST_CHECKPOINT), JSON.stringify({ version: 90, size: 1 }));
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(204);
    expect(snapshot.checkpointVersion).toBe(200);
  });

  it('a hint naming a checkpoint that does not exist, or garbage, falls back to listing', async () => {
    const { dir, store } = await logOnlyTable(45);
    writeFileSync(join(dir, LAST_CHECKPOINT), JSON.stringify({ version: 43 }));
    expect((await loadSnapshot(store)).version).toBe(44);
    writeFileSync(join(dir, LAST_CHECKPOINT), '{not json');
    expect((await loadSnapshot(store)).version).toBe(44);
  });

  it('a gap after the last listed window is not hidden', async () => {
    const { dir, store } = await logOnlyTable(205);
    writeFileSync(join(dir, LAST_CHECKPOINT), JSON.stringify({ version: 190, size: 1 }));
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, commitPath(199)));
    rmSync(join(dir, '_delta_log', `${String(200).padStart(20, '0')}.checkpoint.parquet`));
    // Windows from 190 stop at 198 (199 is missing); commit 200 exists, so the full listing is used,
    // which sees the gap between checkpoint 190 and version 204.
    await expect(loadSnapshot(store)).rejects.toThrow(/gap in the log .* version 199 missing/);
  });
});

describe('lane commit record (commitInfo.sluiceLane)', () => {
  it('reads the intents and sources a lane commit carries, and nothing from other commits', () => {
    const source = { intent: 'i-1', file: 'pos/sales.csv', etag: '"0x1"', rowsWritten: 3 };
    const lane = [
      { add: { path: 'a.parquet' } },
      { commitInfo: { operation: 'WRITE', sluiceLane: { intents: ['i-1', 'i-2'], sources: [source, null, 'junk'] } } },
    ];
    expect(laneCommitRecord(lane)).toEqual({ intents: ['i-1', 'i-2'], sources: [source] });
    expect(laneCommitRecord([{ commitInfo: { operation: 'OPTIMIZE' } }])).toBeUndefined();
    expect(laneCommitRecord([{ commitInfo: { sluiceLane: { intents: 'i-1' } } }])).toEqual({ intents: [], sources: [] });
  });
});
