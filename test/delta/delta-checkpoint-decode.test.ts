// What a latest-version load pays for its checkpoint: a small checkpoint is written without
// dictionaries, compression or statistics (other engines still read it: DuckDB reads the file here),
// and a process that loads the same table again reuses the rows it decoded, but only when the bytes
// it just read are the bytes it decoded; every load gets objects of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Action, serialiseCommit } from '../../shared/delta/actions';
import { writeCheckpoint } from '../../shared/delta/checkpoint';
import { checkpointPath, commitPath } from '../../shared/delta/log';
import { decodeParquetObjects, readParquetMetadata } from '../../shared/delta/parquet';
import { CREATE_PROTOCOL } from '../../shared/delta/protocol';
import { applyActions, cloneState, emptyState, TableState } from '../../shared/delta/replay';
import { loadSnapshot } from '../../shared/delta/snapshot';
import { LocalStore } from '../../shared/storage/local';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';

// Counts the checkpoint decodes, so that a cache that never answered could not pass for one.
vi.mock('../../shared/delta/parquet', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../shared/delta/parquet')>();
  return { ...original, decodeParquetObjects: vi.fn(original.decodeParquetObjects) };
});
const decodes = () => vi.mocked(decodeParquetObjects).mock.calls.length;

const SCHEMA = JSON.stringify({ type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] });

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const localStore = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-checkpoint-decode-'));
  dirs.push(dir);
  return new LocalStore(dir);
};

const add = (i: number) => ({
  add: {
    path: `part-${i}.parquet`,
    partitionValues: {},
    size: 100 + i,
    modificationTime: 1_700_000_000_000 + i,
    dataChange: true,
    stats: `{"numRecords":${i}}`,
  },
});

/** A table of versions 0..`lastVersion` holding `files` files, with a checkpoint at `checkpointAt`. */
async function tableWithCheckpoint(store: ObjectStore, files: number, checkpointAt: number, lastVersion: number): Promise<TableState> {
  const state = emptyState();
  let checkpointState: TableState | undefined;
  for (let v = 0; v <= lastVersion; v++) {
    const actions: Action[] =
      v === 0
        ? [
            { protocol: CREATE_PROTOCOL },
            {
              metaData: {
                id: 'tbl',
                format: { provider: 'parquet' },
                schemaString: SCHEMA,
                partitionColumns: [],
                configuration: { 'delta.appendOnly': 'false' },
              },
            },
            ...Array.from({ length: files }, (_, i) => add(i)),
          ]
        : [{ txn: { appId: 'writer', version: v } }];
    await store.createIfAbsent(commitPath(v), serialiseCommit(actions));
    applyActions(state, actions, v);
    if (v === checkpointAt) {
      checkpointState = cloneState(state);
      await writeCheckpoint(store, checkpointState);
    }
  }
  return checkpointState!;
}

describe('checkpoint decoding', () => {
  it('writes a small checkpoint plain and a large one with zstd and dictionaries; DuckDB reads the small one', async () => {
    const small = localStore();
    await tableWithCheckpoint(small, 10, 1, 1);
    const smallBytes = await small.read(checkpointPath(1));
    const smallFooter = await readParquetMetadata(smallBytes);
    const chunks = smallFooter.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!));
    expect(chunks.length).toBeGreaterThan(40);
    for (const chunk of chunks) {
      expect(chunk.codec, chunk.path_in_schema.join('.')).toBe('UNCOMPRESSED');
      expect(chunk.dictionary_page_offset, chunk.path_in_schema.join('.')).toBeUndefined();
      expect(chunk.statistics?.min_value ?? chunk.statistics?.max_value, chunk.path_in_schema.join('.')).toBeUndefined();
    }

    const large = localStore();
    await tableWithCheckpoint(large, 200, 1, 1);
    const largeChunks = (await readParquetMetadata(await large.read(checkpointPath(1)))).row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!));
    expect(new Set(largeChunks.map((c) => c.codec))).toEqual(new Set(['ZSTD']));
    expect(largeChunks.some((c) => c.dictionary_page_offset !== undefined)).toBe(true);

    // The protocol's checkpoint columns, as another engine sees them.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const file = join(small.root, '_delta_log', '00000000000000000001.checkpoint.parquet');
      const rows = (
        await connection.runAndReadAll(
          `SELECT add.path AS path, CAST(add.size AS VARCHAR) AS size, add.stats AS stats, metaData.id AS id, CAST(protocol.minReaderVersion AS VARCHAR) AS reader, txn.appId AS app FROM read_parquet('${file}')`,
        )
      ).getRowObjectsJson();
      expect(rows.length).toBe(1 + 1 + 10 + 1);
      expect(rows.filter((r) => r.path !== null).map((r) => [r.path, r.size, r.stats])).toEqual(
        Array.from({ length: 10 }, (_, i) => [`part-${i}.parquet`, String(100 + i), `{"numRecords":${i}}`]),
      );
      expect(rows.filter((r) => r.id !== null).map((r) => r.id)).toEqual(['tbl']);
      expect(rows.filter((r) => r.reader !== null).map((r) => r.reader)).toEqual([String(CREATE_PROTOCOL.minReaderVersion)]);
      expect(rows.filter((r) => r.app !== null).map((r) => r.app)).toEqual(['writer']);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  for (const backend of ['local', 'azurite'] as const) {
    const open = () => (backend === 'local' ? localStore() : openStore(azuriteUri(uniqueContainer('cpdecode'), 'tbl')));

    it(`${backend}: a second load decodes nothing and gets objects of its own`, async () => {
      const store = open();
      await tableWithCheckpoint(store, 10, 10, 13);
      const first = await loadSnapshot(store);
      const before = decodes();
      const second = await loadSnapshot(store);
      expect(decodes()).toBe(before);
      expect(second.checkpointVersion).toBe(10);
      expect(second.version).toBe(13);
      expect([...second.state.files.keys()]).toEqual([...first.state.files.keys()]);
      expect(second.state.files.get('part-3.parquet')).toEqual(first.state.files.get('part-3.parquet'));
      // Changing what one load returned reaches no later load.
      expect(second.state.files.get('part-3.parquet')).not.toBe(first.state.files.get('part-3.parquet'));
      expect(second.metadata).not.toBe(first.metadata);
      first.state.files.get('part-3.parquet')!.size = -1;
      first.metadata.configuration['delta.appendOnly'] = 'true';
      const third = await loadSnapshot(store);
      expect(third.state.files.get('part-3.parquet')!.size).toBe(103);
      expect(third.metadata.configuration['delta.appendOnly']).toBe('false');
      expect(third.state.txns.get('writer')?.version).toBe(13);
    });

    it(`${backend}: a checkpoint rewritten in place is decoded again, and a corrupt one fails as without the cache`, async () => {
      const store = open();
      const atCheckpoint = await tableWithCheckpoint(store, 10, 10, 12);
      expect((await loadSnapshot(store)).state.files.size).toBe(10);
      // Same name, other content: a checkpoint of version 10 with one file fewer.
      const other = localStore();
      const fewer = cloneState(atCheckpoint);
      fewer.files.delete('part-9.parquet');
      await writeCheckpoint(other, fewer);
      await store.write(checkpointPath(10), await other.read(checkpointPath(10)));
      const before = decodes();
      const reloaded = await loadSnapshot(store);
      expect(decodes()).toBe(before + 1);
      expect(reloaded.state.files.size).toBe(9);
      expect(reloaded.state.files.has('part-9.parquet')).toBe(false);

      // The bytes of the cached file with one byte changed in the middle: not valid Parquet any more.
      const bytes = await store.read(checkpointPath(10));
      const corrupt = bytes.slice();
      corrupt[corrupt.length >> 1] ^= 0xff;
      corrupt.set(new TextEncoder().encode('XXXX'), corrupt.length - 4);
      await store.write(checkpointPath(10), corrupt);
      await expect(loadSnapshot(store)).rejects.toThrow(/checkpoint .*00000000000000000010\.checkpoint\.parquet cannot be read/);
    });
  }

  it('keeps the same table at two paths apart', async () => {
    const a = localStore();
    const b = localStore();
    await tableWithCheckpoint(a, 10, 10, 10);
    await tableWithCheckpoint(b, 4, 10, 10);
    expect((await loadSnapshot(a)).state.files.size).toBe(10);
    expect((await loadSnapshot(b)).state.files.size).toBe(4);
    expect((await loadSnapshot(a)).state.files.size).toBe(10);
  });
});
