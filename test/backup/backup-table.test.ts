/**
 * Backup, restore, clone and verify of one table, on Azurite (server-side copies between containers)
 * and on the local disk: a table with many versions backed up, appended to and backed up again (the
 * second backup copies only the new files), restored at an older and at the newest version with rows
 * identical to reading the source at that version and a log the independent validator accepts;
 * damaged backups found by verify.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchToRows, loadSnapshot, optimizeTable, scanTable, vacuumTable, writeTable } from '../../shared/delta';
import { backupTable, cloneTable, manifestVersions, pruneBackup, readManifest, restoreBackup, verifyBackup, verifyTable } from '../../shared/backup';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { validateTable } from '../support/delta-validate';
import { scratchCopy } from '../support/fixture-tables';
import { writerBatch } from '../../bench/writers';

const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** Rows of a table at a version, as sorted JSON lines (what `sluice read --version N` prints). */
async function rowsAt(store: ObjectStore, version?: number): Promise<string[]> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const out: string[] = [];
  for await (const batch of scanTable(snapshot))
    for (const row of batchToRows(batch, snapshot.schema)) out.push(JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  return out.sort();
}

async function appendBatches(store: ObjectStore, from: number, count: number): Promise<void> {
  for (let b = from; b < from + count; b++) await writeTable(store, [writerBatch(1, b, 5)]);
}

type Place = { name: string; open: (label: string) => Promise<ObjectStore> };

const PLACES: Place[] = [
  { name: 'Azurite', open: async (label) => openStore(azuriteUri(uniqueContainer(label), 'tables/events')) },
  {
    name: 'local disk',
    open: async (label) => {
      const dir = await mkdtemp(nodePath.join(tmpdir(), `sluice-${label}-`));
      folders.push(dir);
      return openStore(dir);
    },
  },
];

describe.each(PLACES)('backup of one table on $name', (place) => {
  it('backs up incrementally and restores any backed-up version with the same rows and a valid log', async () => {
    const source = await place.open('src');
    const backup = await place.open('bak');
    await appendBatches(source, 0, 12); // versions 0..11, a checkpoint at 10
    const first = await backupTable(source, backup);
    expect(first.version).toBe(11);
    expect(first.previousVersion).toBeNull();
    expect(first.copied).toBe(12 + 12); // 12 data files + 12 commits
    expect(first.methods).toEqual(place.name === 'Azurite' ? { server: 24 } : { local: 24 });

    await appendBatches(source, 12, 3); // versions 12..14
    const second = await backupTable(source, backup);
    expect(second.version).toBe(14);
    expect(second.previousVersion).toBe(11);
    expect(second.copied).toBe(3 + 3); // only the new files and commits
    expect(second.reused).toBe(12);
    const again = await backupTable(source, backup);
    expect(again).toMatchObject({ unchanged: true, copied: 0, version: 14 });
    expect(await manifestVersions(backup)).toEqual([11, 14]);

    // The backup is a Delta table at its newest version.
    expect((await validateTable(backup)).problems).toEqual([]);
    expect(await rowsAt(backup)).toEqual(await rowsAt(source, 14));

    for (const version of [11, 14]) {
      const target = await place.open(`rst${version}`);
      const restored = await restoreBackup(backup, target, { version });
      expect(restored.version).toBe(version);
      expect(await rowsAt(target)).toEqual(await rowsAt(source, version));
      const report = await validateTable(target);
      expect(report.problems).toEqual([]);
      expect(report.latestVersion).toBe(version);
      expect((await verifyTable(target)).problems).toEqual([]);
    }
    await expect(restoreBackup(backup, await place.open('rst12'), { version: 12 })).rejects.toThrow(/version 12 was not backed up; backed-up versions: 11, 14/);

    const manifest = await readManifest(backup, 14);
    expect(manifest.files.filter((f) => f.kind === 'data')).toHaveLength(15);
    expect(manifest.files.filter((f) => f.kind === 'commit')).toHaveLength(15);
    expect(manifest.files.every((f) => f.md5 || f.sha256)).toBe(true);
    expect((await verifyBackup(backup)).problems).toEqual([]);
  });

  it('finds a deleted or corrupted file of a backup', async () => {
    const source = await place.open('src');
    const backup = await place.open('bak');
    await appendBatches(source, 0, 4);
    await backupTable(source, backup);
    const data = (await readManifest(backup, 3)).files.filter((f) => f.kind === 'data');
    await backup.delete(data[0].path);
    // Same size, other bytes: only the checksum can tell.
    const bytes = await backup.read(data[1].path);
    bytes[bytes.length - 20] ^= 0xff;
    await backup.write(data[1].path, bytes);
    const result = await verifyBackup(backup);
    expect(result.ok).toBe(false);
    expect(result.problems.join('\n')).toContain(`data file ${data[0].path} is missing`);
    expect(result.problems.join('\n')).toMatch(new RegExp(`data file ${data[1].path.replace(/[.]/g, '\\.')}: content (MD5|SHA-256) .* the manifest says`));
  });

  it('clones a version, then only what changed', async () => {
    const source = await place.open('src');
    const clone = await place.open('cln');
    await appendBatches(source, 0, 5);
    const first = await cloneTable(source, clone, { version: 2 });
    expect(first).toMatchObject({ version: 2, copied: 3 + 3 });
    expect(await rowsAt(clone)).toEqual(await rowsAt(source, 2));
    const second = await cloneTable(source, clone);
    expect(second).toMatchObject({ version: 4, previousVersion: 2, copied: 2 + 2 });
    expect(await rowsAt(clone)).toEqual(await rowsAt(source, 4));
    expect((await validateTable(clone)).problems).toEqual([]);
    await expect(cloneTable(source, clone, { version: 1 })).rejects.toThrow(/newer than version 1/);
  });
});

it('moves a backup to a newer version when vacuum deletes a file mid-copy, never keeping a partial one', async () => {
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-vac-'));
  folders.push(dir);
  const source = openStore(nodePath.join(dir, 'src'));
  const backup = openStore(nodePath.join(dir, 'bak'));
  await appendBatches(source, 0, 6);
  const v5 = await loadSnapshot(source);
  // The files of the last two versions: copied last (in the order the versions added them).
  const [partial, doomed] = [...v5.state.files.values()].map((f) => f.path).slice(4);
  let struck = false;
  const result = await backupTable(source, backup, {
    concurrency: 1,
    onCopied: async () => {
      if (struck) return;
      struck = true;
      // A writer replaces the file (an overwrite of everything), then vacuum with no retention deletes it.
      await writeTable(source, [writerBatch(2, 0, 5)], { mode: 'overwrite' });
      // One file cut short (as a copy racing a delete could see it), one gone.
      await writeFile(nodePath.join(dir, 'src', partial), 'PAR1');
      await source.delete(doomed);
    },
  });
  expect(result.version).toBe(6);
  expect(result.movedFrom).toHaveLength(1);
  expect(result.movedFrom[0].reason).toContain(`${doomed} is gone from the source`);
  expect(result.movedFrom[0].reason).toContain(`${partial} has 4 bytes where the log of version 5 says`);
  expect(await rowsAt(backup)).toEqual(await rowsAt(source, 6));
  expect((await verifyBackup(backup)).problems).toEqual([]);
});

it('takes a consistent backup on Azurite while a writer appends and optimize and vacuum (no retention) run', async () => {
  const source = openStore(azuriteUri(uniqueContainer('busy'), 'events'));
  const backup = openStore(azuriteUri(uniqueContainer('busy-bak'), 'events'));
  await appendBatches(source, 0, 8);
  let writing = true;
  let appended = 0;
  const writer = (async () => {
    // Bounded, so a slow (loaded) machine does not grow the table without end while the backup runs.
    for (let b = 100; writing && b < 140; b++) {
      await writeTable(source, [writerBatch(3, b, 5)]);
      appended++;
    }
  })();
  let compacted = false;
  const result = await backupTable(source, backup, {
    concurrency: 1,
    onCopied: async () => {
      if (compacted) return;
      compacted = true;
      // Every file of the version being backed up is rewritten and deleted at once.
      await optimizeTable(source, { targetFileBytes: 64 * 1024 * 1024 });
      await vacuumTable(source, { retentionHours: 0, force: true });
    },
  });
  writing = false;
  await writer;
  expect(appended).toBeGreaterThan(0);
  expect(result.movedFrom.length).toBeGreaterThanOrEqual(1);
  expect(result.movedFrom[0].reason).toMatch(/is gone from the source/);
  expect(await rowsAt(backup)).toEqual(await rowsAt(source, result.version));
  expect((await verifyBackup(backup)).problems).toEqual([]);
  expect((await validateTable(backup)).problems).toEqual([]);
  // The next backup catches up with what the writer added meanwhile.
  const next = await backupTable(source, backup);
  expect(next.version).toBe((await loadSnapshot(source)).version);
  expect(await rowsAt(backup)).toEqual(await rowsAt(source, next.version));
}, 180_000);

it('keeps the versions of the retention window, at least the newest K, and deletes files only they used', async () => {
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-ret-'));
  folders.push(dir);
  const source = openStore(nodePath.join(dir, 'src'));
  const backup = openStore(nodePath.join(dir, 'bak'));
  const days = (n: number) => () => new Date(Date.UTC(2026, 0, 1 + n));
  await appendBatches(source, 0, 2);
  await backupTable(source, backup, { now: days(0) }); // version 1
  await writeTable(source, [writerBatch(9, 0, 5)], { mode: 'overwrite' });
  await backupTable(source, backup, { now: days(1) }); // version 2: only the new file
  await appendBatches(source, 2, 1);
  await backupTable(source, backup, { now: days(5) }); // version 3
  const pruned = await pruneBackup(backup, { keepDays: 3, keepMin: 1 }, days(6)());
  expect(pruned).toMatchObject({ kept: [3], removed: [1, 2], filesDeleted: 2, refused: [] });
  expect(await manifestVersions(backup)).toEqual([3]);
  expect((await verifyBackup(backup)).problems).toEqual([]);
  const target = openStore(nodePath.join(dir, 'rst'));
  await restoreBackup(backup, target);
  expect(await rowsAt(target)).toEqual(await rowsAt(source, 3));
  expect((await pruneBackup(backup, { keepDays: 0, keepMin: 1 }, days(30)())).kept).toEqual([3]);
});

it.each(['basic-dv-with-checkpoint', 'dv-partitioned-with-checkpoint'])('backs up and restores %s, deletion-vector files included', async (fixture) => {
  const copy = scratchCopy(nodePath.join(__dirname, '..', 'fixtures', 'delta-dv', fixture));
  folders.push(nodePath.dirname(copy));
  const source = openStore(copy);
  const backup = openStore(azuriteUri(uniqueContainer('dv-bak'), fixture));
  const result = await backupTable(source, backup);
  const manifest = await readManifest(backup, result.version);
  expect(manifest.files.filter((f) => f.kind === 'deletionVector').length).toBeGreaterThan(0);
  expect(result.methods).toEqual({ stream: result.copied }); // local disk to Blob: the bytes pass through
  const target = openStore(azuriteUri(uniqueContainer('dv-rst'), fixture));
  await restoreBackup(backup, target);
  expect(await rowsAt(target)).toEqual(await rowsAt(source));
  expect((await verifyBackup(backup)).problems).toEqual([]);
});
