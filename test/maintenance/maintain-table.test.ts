/**
 * Maintenance of one table on Azurite: optimize, checkpoint, vacuum and log cleanup leave a valid log
 * (contiguous versions from the oldest kept checkpoint, every checkpoint equal to replay) with fewer
 * files and the same rows while a writer appends; a dry run changes nothing; log cleanup keeps every
 * version inside the retention readable; an unreadable table is skipped with its reason; two runs never
 * maintain one table at once. The passing of days is simulated with the injected clock (`now`).
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { cleanupExpiredLog, loadSnapshot, optimizeTable, writeCheckpoint, writeTable } from '../../shared/delta';
import { listLog } from '../../shared/delta/log';
import { commitTimestamps } from '../../shared/delta/snapshot';
import { acquireMaintenanceLease, LEASE_MS } from '../../shared/maintenance/lease';
import { maintainTable, maintenanceFailed, planMaintenance } from '../../shared/maintenance/maintain';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { writerBatch } from '../../bench/writers';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { validateTable } from '../support/delta-validate';
import { gaps, logVersions, rowsPerBatch, storedDataFiles } from '../support/tables';

const ROWS = 3;
const DAY = 86_400_000;
/** Small enough that every test file is small; 1 MiB target packs them all into one. */
const OPTIONS = { targetFileBytes: 1024 * 1024, minFilesPerPartition: 4, checkpointInterval: 5 };

/** A table of `appends` one-file appends of writer 7. */
async function smallFilesTable(label: string, appends: number, configuration?: Record<string, string>): Promise<ObjectStore> {
  const store = openStore(azuriteUri(uniqueContainer(label), 'events'));
  await writeTable(store, [writerBatch(7, 0, ROWS)], { configuration });
  for (let batch = 1; batch < appends; batch++) await writeTable(store, [writerBatch(7, batch, ROWS)]);
  return store;
}

/** Every blob of the table with its ETag: what "nothing changed" compares. */
async function everyBlob(store: ObjectStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const info of store.list('')) out.set(info.path, info.etag);
  return out;
}

async function expectValid(store: ObjectStore): Promise<void> {
  const report = await validateTable(store, { requireStats: true });
  expect(report.problems).toEqual([]);
}

describe('maintainTable', () => {
  it('compacts, checkpoints, vacuums and cleans the log while a writer appends: valid log, fewer files, the same rows', async () => {
    const store = await smallFilesTable('mnt-concurrent', 12);
    const filesBefore = (await loadSnapshot(store)).state.files.size;
    // The writer appends 8 batches of its own while maintenance runs on the real clock: nothing is old
    // enough yet to vacuum, so this run compacts and checkpoints beside the appends.
    const appending = (async () => {
      for (let batch = 0; batch < 8; batch++) await writeTable(store, [writerBatch(8, batch, ROWS)]);
    })();
    const first = await maintainTable(store, OPTIONS);
    await appending;
    expect(maintenanceFailed(first), JSON.stringify(first)).toBe(false);
    expect(first.optimize).toMatchObject({ status: 'done' });
    expect(first.optimize!.filesRemoved).toBeGreaterThanOrEqual(12);
    await expectValid(store);

    // Forty days later (the injected clock): the replaced files are past the 7-day retention and the
    // commits past the 30-day log retention.
    const later = await maintainTable(store, { ...OPTIONS, now: Date.now() + 40 * DAY });
    expect(maintenanceFailed(later), JSON.stringify(later)).toBe(false);
    expect(later.vacuum!.status).toBe('done');
    expect(later.vacuum!.files).toBeGreaterThanOrEqual(12);
    expect(later.logCleanup!.status).toBe('done');
    const kept = later.logCleanup!.keepFromVersion!;
    expect(kept).toBeGreaterThan(0);

    await expectValid(store);
    const { commits, checkpoints } = await logVersions(store);
    expect(commits[0]).toBe(kept);
    expect(gaps(commits).filter((v) => v >= kept)).toEqual([]);
    expect(checkpoints).toContain(kept);
    const snapshot = await loadSnapshot(store);
    expect(snapshot.state.files.size).toBeLessThan(filesBefore + 8);
    expect(await storedDataFiles(store)).toEqual(new Set([...snapshot.state.files.values()].map((f) => decodeURIComponent(f.path))));
    const { rows, perBatch, badValues } = await rowsPerBatch(snapshot);
    expect(rows).toBe(20 * ROWS);
    expect(perBatch.size).toBe(20);
    expect([...perBatch.values()].every((n) => n === ROWS)).toBe(true);
    expect(badValues).toBe(0);
    // The log still reaches the oldest kept version (its data files may be vacuumed: they were
    // removed more than the 7-day retention ago); the version before it went with its commit.
    expect((await loadSnapshot(store, { version: kept })).version).toBe(kept);
    await expect(loadSnapshot(store, { version: kept - 1 })).rejects.toThrow();
  });

  it('a dry run reports what each step would do and changes nothing', async () => {
    const store = await smallFilesTable('mnt-dry', 7);
    await optimizeTable(store, { targetFileBytes: 1024 * 1024 }); // version 7: 7 tombstones
    for (let batch = 10; batch < 16; batch++) await writeTable(store, [writerBatch(7, batch, ROWS)]);
    const before = await everyBlob(store);
    const now = Date.now() + 40 * DAY;

    const plan = await planMaintenance(store, { ...OPTIONS, now });
    expect(plan).toMatchObject({
      dryRun: true,
      versionBefore: 13,
      optimize: { status: 'would-run', filesRemoved: 7, partitions: 1 },
      vacuum: { status: 'would-run', files: 7 },
    });
    // Versions 10 (the lane's own checkpoint) to 13: not due at an interval of 5; due at 3.
    expect(plan.checkpoint!.status).toBe('not-needed');
    expect((await planMaintenance(store, { ...OPTIONS, checkpointInterval: 3, now })).checkpoint!.status).toBe('would-run');
    expect(plan.logCleanup).toMatchObject({ status: 'would-run', files: 10, keepFromVersion: 10 });
    expect(await maintainTable(store, { ...OPTIONS, now, dryRun: true })).toEqual(plan);
    expect(await everyBlob(store)).toEqual(before);
  });

  it('skips a table whose log cannot be read, with the reason, and a location holding no table', async () => {
    const store = await smallFilesTable('mnt-corrupt', 3);
    await store.write('_delta_log/00000000000000000001.json', '{"add": {"path": ');
    const before = await everyBlob(store);
    const report = await maintainTable(store, { ...OPTIONS, now: Date.now() + 40 * DAY });
    expect(report.skipped).toMatch(/its log cannot be read or maintained: .*00000000000000000001\.json/);
    expect(report.optimize).toBeUndefined();
    expect(maintenanceFailed(report)).toBe(true);
    expect(await everyBlob(store)).toEqual(before);
    const dry = await planMaintenance(store);
    expect(dry.skipped).toMatch(/cannot be read/);

    const empty = await maintainTable(openStore(azuriteUri(uniqueContainer('mnt-none'), 'nothing')), OPTIONS);
    expect(empty.skipped).toMatch(/no Delta table at/);
  });

  it('never runs two maintenance runs on one table at once; a lease not renewed is taken over', async () => {
    const store = await smallFilesTable('mnt-lease', 5);
    const held = await acquireMaintenanceLease(store, { holder: 'night-run' });
    const busy = await maintainTable(store, OPTIONS);
    expect(busy.skipped).toMatch(/maintenance of .* is already running \(held by night-run/);
    expect((await loadSnapshot(store)).version).toBe(4);
    // Past the lease (the holder stopped renewing), the next run takes it over and the holder sees it.
    const taken = await maintainTable(store, { ...OPTIONS, leaseClock: () => Date.now() + LEASE_MS + 60_000 });
    expect(taken.skipped).toBeUndefined();
    expect(taken.optimize!.status).toBe('done');
    expect(await held.stillHeld()).toBe(false);
    await held.release();
    // Released, the next run proceeds at once.
    expect((await maintainTable(store, OPTIONS)).skipped).toBeUndefined();
  });
});

describe('log cleanup', () => {
  it('keeps the newest checkpoint before the cutoff and every version after it readable; no checkpoint, no cleanup', async () => {
    const store = await smallFilesTable('mnt-log', 15); // versions 0–14; the lane checkpoints version 10
    await writeCheckpoint(store, (await loadSnapshot(store, { version: 5 })).state);
    const times = commitTimestamps(await listLog(store));
    const retention = 30 * DAY;

    // Cutoff at version 3: no checkpoint at or before it, so nothing may go.
    const early = await cleanupExpiredLog(store, { now: times.get(3)! + retention });
    expect(early.files).toEqual([]);
    expect(early.reason).toMatch(/no checkpoint at or before version 3/);

    // Cutoff at version 8 (9–14 inside the retention): checkpoint 5 is kept, commits 0–4 go.
    const now = times.get(8)! + retention;
    const before = await everyBlob(store);
    const dry = await cleanupExpiredLog(store, { now, dryRun: true });
    expect(dry.files).toEqual([0, 1, 2, 3, 4].map((v) => `_delta_log/${String(v).padStart(20, '0')}.json`));
    expect(dry.keepFromVersion).toBe(5);
    expect(await everyBlob(store)).toEqual(before);

    const done = await cleanupExpiredLog(store, { now });
    expect(done.files).toEqual(dry.files);
    expect((await logVersions(store)).commits).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    await expectValid(store);
    for (const version of [5, 8, 9, 14]) expect((await rowsPerBatch(await loadSnapshot(store, { version }))).rows).toBe((version + 1) * ROWS);
    // Run again. Commit times come from the commit files' last-modified times, to the second on Azurite and
    // made monotonic by adding a millisecond to ties; with commits 0–4 gone, the ties of 5–9 may resolve
    // earlier, so a second run at the same instant may find a later checkpoint expired. Whatever it
    // removes, every version whose commit time (as the log now gives it) is inside the retention stays
    // readable, and the log stays valid.
    await cleanupExpiredLog(store, { now });
    await expectValid(store);
    const after = commitTimestamps(await listLog(store));
    const inside = [...after].filter(([, time]) => time > now - retention).map(([version]) => version);
    // The latest version is always readable, whatever the ties made of the times.
    for (const version of new Set([...inside, 14])) expect((await rowsPerBatch(await loadSnapshot(store, { version }))).rows).toBe((version + 1) * ROWS);
  });

  it('honours delta.logRetentionDuration and delta.enableExpiredLogCleanup', async () => {
    const store = await smallFilesTable('mnt-logprop', 12, { 'delta.logRetentionDuration': 'interval 2 days' });
    const times = commitTimestamps(await listLog(store));
    expect((await cleanupExpiredLog(store, { now: times.get(11)! + DAY, dryRun: true })).files).toEqual([]);
    const due = await cleanupExpiredLog(store, { now: times.get(11)! + 3 * DAY, dryRun: true });
    expect(due).toMatchObject({ keepFromVersion: 10, retentionSource: 'delta.logRetentionDuration = "interval 2 days"' });
    expect(due.files).toHaveLength(10);

    const off = await smallFilesTable('mnt-logoff', 12, { 'delta.enableExpiredLogCleanup': 'false' });
    const result = await cleanupExpiredLog(off, { now: Date.now() + 40 * DAY });
    expect(result).toMatchObject({ files: [], reason: 'delta.enableExpiredLogCleanup is false' });
  });
});

describe('sluice maintain', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('--dry-run --json reports, then a run compacts; a location without a table exits 1 with the reason', async () => {
    const uri = azuriteUri(uniqueContainer('mnt-cli'), 'events');
    const store = openStore(uri);
    for (let batch = 0; batch < 11; batch++) await writeTable(store, [writerBatch(7, batch, ROWS)]);
    const before = await everyBlob(store);
    const dry = await cli(['maintain', uri, '--dry-run', '--json']);
    expect(dry.code, dry.err).toBe(0);
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, versionBefore: 10, optimize: { status: 'would-run', filesRemoved: 11 } });
    expect(await everyBlob(store)).toEqual(before);

    const run = await cli(['maintain', uri]);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/version 10 → 11\n {2}optimize +done +version 11: 11 files → 1 in 1 partition\n {2}checkpoint +not-needed/);
    expect((await rowsPerBatch(await loadSnapshot(store))).rows).toBe(11 * ROWS);

    const none = await cli(['maintain', azuriteUri(uniqueContainer('mnt-cli-none'), 'x'), '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.out).skipped).toMatch(/no Delta table/);
    const usage = await cli(['maintain']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/exactly one table location/);
    const help = await cli(['--help']);
    expect(help.out).toMatch(/maintain <table> +what the nightly maintenance timer does/);
  });
});
