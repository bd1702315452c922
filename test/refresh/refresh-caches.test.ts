/**
 * What the refresh keeps between runs of one process, on local disk: the latest snapshot of a table
 * (brought forward by the commits since, and dropped when another table took the location) and the
 * staged-file cache (a data file fetched once, later runs get a link; the least recently used files
 * are dropped beyond the limit).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { activeFiles, writeTable, type DeltaStruct } from '../../shared/delta';
import { latestSnapshot } from '../../shared/delta/latest';
import { StagedFileCache } from '../../shared/sql/file-cache';
import { LocalStore } from '../../shared/storage';
import { deltaBatch } from '../support/refresh-helpers';

const SCHEMA: DeltaStruct = { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }] };

describe('latest snapshots kept between refreshes', () => {
  it('reads only newer commits, and reloads a table created again at the same place', async () => {
    const root = mkdtempSync(nodePath.join(tmpdir(), 'sluice-snapshots-'));
    const store = new LocalStore(root);
    await writeTable(store, [deltaBatch(SCHEMA, [[1n]])]);
    expect((await latestSnapshot(store)).version).toBe(0);
    await writeTable(store, [deltaBatch(SCHEMA, [[2n]])], { mode: 'append' });
    await writeTable(store, [deltaBatch(SCHEMA, [[3n]])], { mode: 'append' });
    const caughtUp = await latestSnapshot(store);
    expect(caughtUp.version).toBe(2);
    expect(activeFiles(caughtUp)).toHaveLength(3);

    // Another table at the same location, with as many versions: the kept snapshot must not be used.
    rmSync(root, { recursive: true, force: true });
    for (let i = 0; i < 3; i++) await writeTable(store, [deltaBatch(SCHEMA, [[10n + BigInt(i)], [20n]])], { mode: i === 0 ? 'overwrite' : 'append' });
    const other = await latestSnapshot(store);
    expect(other.version).toBe(2);
    expect(activeFiles(other).map((f) => JSON.parse(f.stats ?? '{}').numRecords)).toEqual([2, 2, 2]);
  });
});

describe('staged-file cache', () => {
  it('fetches a file once, links it into later runs, and drops the least recently used beyond its limit', async () => {
    const root = mkdtempSync(nodePath.join(tmpdir(), 'sluice-cache-'));
    const cache = new StagedFileCache(root, 400);
    const fetched: string[] = [];
    const fetcher = (name: string) => async (path: string) => {
      fetched.push(name);
      writeFileSync(path, name.repeat(100));
    };
    const run = mkdtempSync(nodePath.join(root, 'run-'));
    await cache.place('a', 100, nodePath.join(run, 'a1'), fetcher('a'));
    await cache.place('a', 100, nodePath.join(run, 'a2'), fetcher('a'));
    expect(fetched).toEqual(['a']);
    expect(readFileSync(nodePath.join(run, 'a2'), 'utf8')).toBe('a'.repeat(100));

    // b, c, d fill the 400 bytes with a; a was used last before them, so e pushes out a first.
    for (const name of ['b', 'c', 'd', 'e']) await cache.place(name, 100, nodePath.join(run, name), fetcher(name));
    await cache.place('e', 100, nodePath.join(run, 'e2'), fetcher('e'));
    await cache.place('a', 100, nodePath.join(run, 'a3'), fetcher('a'));
    expect(fetched).toEqual(['a', 'b', 'c', 'd', 'e', 'a']);
    // A link made before its entry was dropped keeps its bytes.
    expect(readFileSync(nodePath.join(run, 'a1'), 'utf8')).toBe('a'.repeat(100));

    // Files over a quarter of the limit are fetched straight to the run, never kept.
    await cache.place('big', 200, nodePath.join(run, 'big1'), fetcher('big'));
    await cache.place('big', 200, nodePath.join(run, 'big2'), fetcher('big'));
    expect(fetched.filter((n) => n === 'big')).toHaveLength(2);
  });
});
