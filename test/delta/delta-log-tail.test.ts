// Loading the latest version from the `_last_checkpoint` hint reads the checkpoint and the commits
// after it by name, with no listing of `_delta_log/`: its store calls are the same after 25 versions
// as after 205. Anything that cannot be trusted (a stale hint, a missing checkpoint, a gap, a tail
// longer than the checkpoint interval) still goes through the listing, with the same results.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Action, serialiseCommit } from '../../shared/delta/actions';
import { writeCheckpoint } from '../../shared/delta/checkpoint';
import { checkpointPath, commitPath, LAST_CHECKPOINT } from '../../shared/delta/log';
import { latestStateFromHint } from '../../shared/delta/log-tail';
import { CREATE_PROTOCOL } from '../../shared/delta/protocol';
import { applyActions, cloneState, emptyState } from '../../shared/delta/replay';
import { loadSnapshot } from '../../shared/delta/snapshot';
import { LocalStore } from '../../shared/storage/local';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';

const SCHEMA = JSON.stringify({ type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] });
const LIVE = 3;

/**
 * A log-only table of `versions` versions whose state stays LIVE live files: version 0 adds LIVE files,
 * every later one removes the oldest and adds one; checkpoints every `interval` versions (the table's
 * `delta.checkpointInterval` when given).
 */
async function rotatingTable(store: ObjectStore, versions: number, interval = 10, configured = false): Promise<void> {
  const state = emptyState();
  const configuration: Record<string, string> = configured ? { 'delta.checkpointInterval': String(interval) } : {};
  for (let v = 0; v < versions; v++) {
    const actions: Action[] = [];
    if (v === 0) {
      actions.push({ protocol: CREATE_PROTOCOL });
      actions.push({ metaData: { id: 'id', format: { provider: 'parquet' }, schemaString: SCHEMA, partitionColumns: [], configuration } });
      for (let i = 0; i < LIVE; i++) actions.push({ add: { path: `f${i}.parquet`, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true } });
    } else {
      actions.push({ remove: { path: `f${v - 1}.parquet`, dataChange: true, deletionTimestamp: 0 } });
      actions.push({ add: { path: `f${v + LIVE - 1}.parquet`, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true } });
    }
    await store.createIfAbsent(commitPath(v), serialiseCommit(actions));
    applyActions(state, actions, v);
    if (v > 0 && v % interval === 0) await writeCheckpoint(store, cloneState(state), { tombstoneCutoff: 1 });
  }
}

/** The store calls made through a store, by kind. */
function counting(store: ObjectStore): { store: ObjectStore; calls: { list: number; read: number; properties: number } } {
  const calls = { list: 0, read: 0, properties: 0 };
  const counted: ObjectStore = Object.assign(Object.create(store), {
    list: (prefix: string) => (calls.list++, store.list(prefix)),
    read: (path: string, range?: { offset: number; length?: number }) => (calls.read++, store.read(path, range)),
    properties: (path: string) => (calls.properties++, store.properties(path)),
  });
  return { store: counted, calls };
}

const localTable = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-log-tail-'));
  return { dir, store: new LocalStore(dir) };
};

describe('the latest version from the checkpoint hint, read by name', () => {
  it('lists nothing, and makes the same calls after 205 versions as after 25', async () => {
    const calls = [];
    for (const versions of [25, 205]) {
      const { store: base } = localTable();
      await rotatingTable(base, versions);
      const { store, calls: counted } = counting(base);
      const snapshot = await loadSnapshot(store);
      expect(snapshot.version).toBe(versions - 1);
      expect(snapshot.checkpointVersion).toBe(versions - 5);
      expect([...snapshot.state.files.keys()].sort()).toEqual([0, 1, 2].map((i) => `f${versions - 1 + i}.parquet`).sort());
      // The same state as a load through the full listing (time travel to the same version lists the log).
      const listed = await loadSnapshot(base, { version: versions - 1 });
      expect([...snapshot.state.files.keys()].sort()).toEqual([...listed.state.files.keys()].sort());
      expect([...snapshot.state.tombstones.keys()].sort()).toEqual([...listed.state.tombstones.keys()].sort());
      calls.push(counted);
    }
    expect(calls[0].list).toBe(0);
    expect(calls[0].properties).toBe(0);
    // _last_checkpoint, the checkpoint, and 11 commits probed by name (4 found, 7 not there yet).
    expect(calls[0].read).toBe(13);
    expect(calls[1]).toEqual(calls[0]);
  });

  it('right after a checkpoint, and with the longest tail the interval allows', async () => {
    for (const [versions, checkpoint] of [
      [21, 20],
      [30, 20],
    ]) {
      const { store } = localTable();
      await rotatingTable(store, versions);
      const state = await latestStateFromHint(store, { version: checkpoint });
      expect(state?.version).toBe(versions - 1);
      expect(state?.files.size).toBe(LIVE);
    }
  });

  it("follows the table's own checkpoint interval", async () => {
    const { store: base } = localTable();
    await rotatingTable(base, 48, 25, true);
    const { store, calls } = counting(base);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(47);
    expect(snapshot.checkpointVersion).toBe(25);
    expect(calls.list).toBe(0);
    // The first 11 probes all found commits; the rest, up to version 25 + 26, in a second round.
    expect(calls.read).toBe(2 + 26);
  });

  it('a tail longer than the interval (a checkpoint was not written) goes through the listing', async () => {
    const { dir, store: base } = localTable();
    await rotatingTable(base, 35);
    rmSync(join(dir, checkpointPath(30)));
    // The hint still names 30; make it name 20, as when writing checkpoint 30 failed.
    await base.write(LAST_CHECKPOINT, JSON.stringify({ version: 20, size: 1 }));
    expect(await latestStateFromHint(base, { version: 20 })).toBeNull();
    const { store, calls } = counting(base);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(34);
    expect(snapshot.checkpointVersion).toBe(20);
    expect(calls.list).toBeGreaterThan(0);
  });

  it('a missing commit with a newer one after it is a gap, reported as one', async () => {
    const { dir, store } = localTable();
    await rotatingTable(store, 27);
    rmSync(join(dir, commitPath(23)));
    expect(await latestStateFromHint(store, { version: 20 })).toBeNull();
    await expect(loadSnapshot(store)).rejects.toThrow(/gap in the log .* version 23 missing/);
  });

  it('a hint whose checkpoint is missing or unreadable, or names a V2 checkpoint, is left to the listing', async () => {
    const { dir, store } = localTable();
    await rotatingTable(store, 25);
    expect(await latestStateFromHint(store, { version: 20, parts: 2 })).toBeNull();
    expect(await latestStateFromHint(store, { version: 20, v2Checkpoint: { path: 'x.json' } } as never)).toBeNull();
    expect(await latestStateFromHint(store, { version: 21 })).toBeNull();
    await store.write(checkpointPath(20), 'not parquet');
    expect(await latestStateFromHint(store, { version: 20 })).toBeNull();
    await expect(loadSnapshot(store)).rejects.toThrow(/checkpoint/);
    rmSync(join(dir, checkpointPath(20)));
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(24);
    expect(snapshot.checkpointVersion).toBe(10);
  });

  it('on Azurite: no listing, the same calls after 205 versions as after 15', async () => {
    const calls = [];
    for (const versions of [15, 205]) {
      const base = openStore(azuriteUri(uniqueContainer('logtail'), 'tbl'));
      await rotatingTable(base, versions);
      const { store, calls: counted } = counting(base);
      const snapshot = await loadSnapshot(store);
      expect(snapshot.version).toBe(versions - 1);
      expect(snapshot.state.files.size).toBe(LIVE);
      calls.push(counted);
    }
    expect(calls[0]).toEqual({ list: 0, read: 13, properties: 0 });
    expect(calls[1]).toEqual(calls[0]);
  });
});
