/**
 * The backup commands as a user runs them (`sluice backup | restore | verify | clone`, in process):
 * their JSON, exit statuses (1 with the problem list for a damaged table or backup, 2 for a wrong
 * command line), a restore that meets archived backup files on Azurite and stops naming them, the
 * tiering predicate, and the backup settings' validation.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { backupTable, isBackedUpPredicate, platformTableLevels, platformTables, readManifest, restoreBackup } from '../../shared/backup';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { loadSnapshot, readTable, writeTable } from '../../shared/delta';
import { readBackupSettings } from '../../shared/host';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { PendingRehydrationStore } from '../support/pending-rehydration';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { writerBatch } from '../../bench/writers';

const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

async function sluice(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('sluice backup, restore, verify, clone', () => {
  it('backs up, verifies, restores and clones from the command line, and reports damage with exit status 1', async () => {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-cli-backup-'));
    folders.push(dir);
    const at = (name: string) => nodePath.join(dir, name);
    const source = openStore(at('src'));
    for (let b = 0; b < 3; b++) await writeTable(source, [writerBatch(4, b, 3)]);

    const backup = await sluice('backup', at('src'), '--to', at('bak'), '--json');
    expect(backup.code, backup.err).toBe(0);
    expect(JSON.parse(backup.out)).toMatchObject({ version: 2, previousVersion: null, unchanged: false, copied: 6, methods: { local: 6 } });
    const again = await sluice('backup', at('src'), '--to', at('bak'));
    expect(again.out).toMatch(/still at version 2, backed up already: nothing copied/);

    const verified = await sluice('verify', at('bak'), '--json');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.out)).toMatchObject({ kind: 'backup', version: 2, backupVersions: [2], ok: true, problems: [] });

    const restored = await sluice('restore', at('bak'), '--to', at('rst'), '--json');
    expect(restored.code, restored.err).toBe(0);
    expect(JSON.parse(restored.out)).toMatchObject({ version: 2 });
    const read = async (table: string) => (await sluice('read', table)).out.split('\n').sort();
    expect(await read(at('rst'))).toEqual(await read(at('src')));
    const refused = await sluice('restore', at('bak'), '--to', at('rst'));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused: a table exists there/);

    const cloned = await sluice('clone', at('src'), at('cln'), '--version', '1', '--json');
    expect(JSON.parse(cloned.out)).toMatchObject({ version: 1, previousVersion: null });
    expect(await read(at('cln'))).toEqual((await sluice('read', at('src'), '--version', '1')).out.split('\n').sort());

    // A data file of the table gone: verify lists it and exits with 1.
    const manifest = await readManifest(openStore(at('bak')), 2);
    const lost = manifest.files.find((f) => f.kind === 'data')!.path;
    await source.delete(lost);
    const broken = await sluice('verify', at('src'));
    expect(broken.code).toBe(1);
    expect(broken.err).toContain(`problem: version 2: data file ${lost} is missing`);
    expect(broken.out).toMatch(/1 problem\(s\)/);

    expect((await sluice('backup', at('src'))).code).toBe(2);
    expect((await sluice('clone', at('src'), '--to', at('x'))).code).toBe(2);
    expect((await sluice('verify', at('src'), '--version', '1')).err).toMatch(/--version does not apply to 'verify'/);
    expect((await sluice('--help')).out).toMatch(/restore --all <backup-location>/);
  });

  it('rehydrates archived backup files before copying: nothing is copied while one is offline', async () => {
    const source = openStore(azuriteUri(uniqueContainer('arc'), 'events'));
    const backupStore = openStore(azuriteUri(uniqueContainer('arc-bak'), 'events'));
    for (let b = 0; b < 2; b++) await writeTable(source, [writerBatch(5, b, 3)]);
    await backupTable(source, backupStore);
    const data = (await readManifest(backupStore, 1)).files.filter((f) => f.kind === 'data');
    const isBackedUp = await isBackedUpPredicate(backupStore);
    expect(data.every((f) => isBackedUp(f.path))).toBe(true);
    expect(isBackedUp('part-not-there.parquet')).toBe(false);
    await backupStore.setAccessTier(data[0].path, 'Archive');
    const listed = async (store: ObjectStore) => {
      let n = 0;
      for await (const _ of store.list('')) n++;
      return n;
    };
    // Held pending for three listings (as Azure keeps a rehydration pending for hours): the restore asks,
    // says how many files are offline and copies nothing.
    const pending = new PendingRehydrationStore(backupStore, 3);
    const early = openStore(azuriteUri(uniqueContainer('arc-rst'), 'events'));
    await expect(restoreBackup(pending, early, { rehydrate: { priority: 'high' } })).rejects.toThrow(
      /1 file\(s\) it needs were in the Archive tier; their rehydration to Hot \(high priority\) is under way: 0 of 1 files online .*1 pending.*restore again once they are online, or with --wait/,
    );
    expect(pending.log.requests).toEqual([{ path: data[0].path, tier: 'Hot', priority: 'High' }]);
    expect(await listed(early)).toBe(0);
    // Waiting, the restore goes on once the file is online, and equals the source.
    const target = openStore(azuriteUri(uniqueContainer('arc-rst2'), 'events'));
    const restored = await restoreBackup(pending, target, { rehydrate: { waitMs: 30_000, pollMs: 10 } });
    expect(restored.version).toBe(1);
    expect(pending.log.completed).toEqual([data[0].path]);
    expect((await backupStore.properties(data[0].path)).accessTier).toBe('Hot');
    expect((await readTable(await loadSnapshot(target))).numRows).toBe((await readTable(await loadSnapshot(source, { version: 1 }))).numRows);
  });
});

describe('backup settings', () => {
  it('are off without a location, with defaults, and name each bad setting', () => {
    expect(readBackupSettings({})).toEqual({ schedule: '0 0 2 * * *', retentionDays: 30, minVersions: 7, copyConcurrency: 16, tableConcurrency: 4 });
    expect(readBackupSettings({ SLUICE_BACKUP_COPY_CONCURRENCY: '64', SLUICE_BACKUP_TABLE_CONCURRENCY: '1' })).toMatchObject({
      copyConcurrency: 64,
      tableConcurrency: 1,
    });
    expect(readBackupSettings({ SLUICE_BACKUP_LOCATION: 'azurite://backup/lake', SLUICE_BACKUP_MIN_VERSIONS: '3' })).toMatchObject({
      location: 'azurite://backup/lake',
      minVersions: 3,
    });
    const problems: string[] = [];
    readBackupSettings(
      { SLUICE_BACKUP_LOCATION: 'ftp://x/y', SLUICE_BACKUP_SCHEDULE: 'daily', SLUICE_BACKUP_RETENTION_DAYS: '-1', SLUICE_BACKUP_MIN_VERSIONS: '0' },
      problems,
    );
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^SLUICE_BACKUP_LOCATION: unsupported storage location "ftp:\/\/x\/y"/);
    expect(problems[1]).toMatch(/^SLUICE_BACKUP_SCHEDULE must be an NCRONTAB schedule/);
    expect(problems[2]).toMatch(/^SLUICE_BACKUP_RETENTION_DAYS must be a whole number ≥ 0; got "-1"/);
    expect(problems[3]).toMatch(/^SLUICE_BACKUP_MIN_VERSIONS must be a whole number ≥ 1; got "0"/);
    const concurrency: string[] = [];
    readBackupSettings({ SLUICE_BACKUP_COPY_CONCURRENCY: '0', SLUICE_BACKUP_TABLE_CONCURRENCY: '65' }, concurrency);
    expect(concurrency).toEqual([
      'SLUICE_BACKUP_COPY_CONCURRENCY must be a whole number from 1 to 256; got "0"',
      'SLUICE_BACKUP_TABLE_CONCURRENCY must be a whole number from 1 to 64; got "65"',
    ]);
  });
});

describe('platform backup order', () => {
  it('backs up in levels, downstream first, no table in the level of a table it reads', async () => {
    const pos = await loadPipelineDefinition(nodePath.join(__dirname, '..', '..', 'examples', 'pipelines', 'pos.yaml'));
    const levels = platformTableLevels([pos]);
    expect(levels).toEqual([
      ['gold/daily_store_sales__quarantine', 'gold/daily_store_sales', 'gold/store_stock__quarantine', 'gold/store_stock'],
      ['silver/deliveries__quarantine', 'silver/deliveries', 'silver/sales__quarantine', 'silver/sales'],
      ['bronze/network_events', 'bronze/pos_deliveries', 'bronze/pos_returns', 'bronze/pos_sales', 'bronze/store_receipts'],
    ]);
    expect(platformTables([pos])).toEqual(levels.flat());
    const levelOf = new Map(levels.flatMap((paths, i) => paths.map((p) => [p, i] as const)));
    const pathOf = (name: string) => pos.tables[name]?.table ?? pos.sources[name]!.table;
    for (const table of Object.values(pos.tables)) for (const from of table.from) expect(levelOf.get(table.table)!).toBeLessThan(levelOf.get(pathOf(from))!);
  });
});
