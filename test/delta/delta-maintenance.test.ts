/**
 * Maintenance never deletes what a reader or a writer still needs: vacuum refuses a retention shorter
 * than the table's unless forced, keeps the files of an optimize still at work however short the
 * retention and however far its clock runs ahead, and the maintenance settings are what `sluice
 * vacuum` and `sluice optimize` use by default. All on Azurite.
 */
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import {
  claimWrites,
  DeltaError,
  loadSnapshot,
  optimizeTable,
  RetentionTooShortError,
  submitToLane,
  tableHistory,
  vacuumTable,
  writeTable,
} from '../../shared/delta';
import { writeDataFiles } from '../../shared/delta/writer';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { WRITER_SCHEMA, writerBatch } from '../../bench/writers';
import { laneIntents, livePaths, rowsPerBatch, storedDataFiles } from '../support/tables';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROWS = 3;
const HOUR = 3_600_000;

/** A table of `appends` one-file appends of writer 7 (small files for optimize), with `configuration`. */
async function smallFilesTable(label: string, appends: number, configuration?: Record<string, string>): Promise<{ uri: string; store: ObjectStore }> {
  const uri = azuriteUri(uniqueContainer(label), 'events');
  const store = openStore(uri);
  await writeTable(store, [writerBatch(7, 0, ROWS)], { configuration });
  for (let batch = 1; batch < appends; batch++) await writeTable(store, [writerBatch(7, batch, ROWS)]);
  return { uri, store };
}

/** Run the CLI in this process with extra environment variables. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let out = '';
  let err = '';
  try {
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The table's store with its commits held at a gate: a writer reaching its commit waits there until
 * `open()`, so the test can act while it is stalled between writing files and committing them.
 */
function gatedCommits(store: ObjectStore): { store: ObjectStore; reached: Promise<void>; open: () => void } {
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const opened = new Promise<void>((r) => (open = r));
  const gated: ObjectStore = Object.create(store, {
    createIfAbsent: {
      value: async (path: string, ...rest: [Uint8Array | string, object?]) => {
        if (path.startsWith('_delta_log/') && path.endsWith('.json')) {
          reach();
          await opened;
        }
        return store.createIfAbsent(path, ...rest);
      },
    },
  });
  return { store: gated, reached, open };
}

const pending: (() => void)[] = [];
afterEach(() => pending.splice(0).forEach((release) => release()));

describe('vacuum retention check', () => {
  it('refuses a retention shorter than the default 7 days, naming both, and deletes nothing; --force runs it', async () => {
    const { store } = await smallFilesTable('vac-refuse', 3);
    await optimizeTable(store, { targetFileBytes: 1024 * 1024 });
    const before = await storedDataFiles(store);

    const refused = vacuumTable(store, { retentionHours: 0, now: Date.now() + 2 * HOUR });
    await expect(refused).rejects.toBeInstanceOf(RetentionTooShortError);
    await expect(refused).rejects.toThrow(
      /retention of 0 h is shorter than the retention of .*, 168 h \(no delta\.deletedFileRetentionDuration; the Delta default of 7 days\)/,
    );
    // A dry run is refused too: it would list what a real run deletes.
    await expect(vacuumTable(store, { retentionHours: 0, dryRun: true })).rejects.toBeInstanceOf(RetentionTooShortError);
    expect(await storedDataFiles(store)).toEqual(before);

    const forced = await vacuumTable(store, { retentionHours: 0, force: true, now: Date.now() + 2 * HOUR });
    expect(forced.files.length).toBe(3); // the three files optimize replaced
    expect((await rowsPerBatch(await loadSnapshot(store))).rows).toBe(3 * ROWS);
  });

  it("measures against the table's delta.deletedFileRetentionDuration when it has one", async () => {
    const { store } = await smallFilesTable('vac-prop', 2, { 'delta.deletedFileRetentionDuration': 'interval 2 hours' });
    await expect(vacuumTable(store, { retentionHours: 1 })).rejects.toThrow(
      /retention of 1 h is shorter than .*, 2 h \(delta\.deletedFileRetentionDuration = "interval 2 hours"\)/,
    );
    // The property wins over the default given for tables without one.
    await expect(vacuumTable(store, { retentionHours: 1, defaultRetention: { hours: 0, source: 'test' } })).rejects.toBeInstanceOf(RetentionTooShortError);
    expect((await vacuumTable(store, { retentionHours: 2 })).retentionHours).toBe(2);
  });

  it('sluice vacuum --retention-hours 0: exit status 2, the reason on stderr, nothing deleted (the installed bin)', async () => {
    const { uri, store } = await smallFilesTable('vac-cli', 3);
    await optimizeTable(store, { targetFileBytes: 1024 * 1024 });
    const before = await storedDataFiles(store);
    const bin = nodePath.join(TEST_DIR, '..', 'bin', 'sluice.js');
    const refused = spawnSync(process.execPath, [bin, 'vacuum', uri, '--retention-hours', '0'], {
      encoding: 'utf8',
      env: { ...process.env, SLUICE_VACUUM_RETENTION_HOURS: '' },
    });
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/retention of 0 h is shorter than the retention of .*, 168 h .*--force/);
    expect(refused.stdout).toBe('');
    expect(await storedDataFiles(store)).toEqual(before);

    const forced = await cli(['vacuum', uri, '--retention-hours', '0', '--force', '--dry-run', '--json']);
    expect(forced.code, forced.err).toBe(0);
    expect(JSON.parse(forced.out)).toMatchObject({ dryRun: true, retentionHours: 0 });
  });
});

describe('maintenance settings', () => {
  it('SLUICE_VACUUM_RETENTION_HOURS is the retention of a table without delta.deletedFileRetentionDuration', async () => {
    const { uri } = await smallFilesTable('vac-setting', 2);
    const byDefault = await cli(['vacuum', uri, '--dry-run', '--json'], { SLUICE_VACUUM_RETENTION_HOURS: '24' });
    expect(byDefault.code, byDefault.err).toBe(0);
    expect(JSON.parse(byDefault.out).retentionHours).toBe(24);
    const shorter = await cli(['vacuum', uri, '--retention-hours', '12', '--dry-run'], { SLUICE_VACUUM_RETENTION_HOURS: '24' });
    expect(shorter.code).toBe(2);
    expect(shorter.err).toMatch(/retention of 12 h is shorter than .*, 24 h \(no delta\.deletedFileRetentionDuration; SLUICE_VACUUM_RETENTION_HOURS/);
    const bad = await cli(['vacuum', uri, '--dry-run'], { SLUICE_VACUUM_RETENTION_HOURS: 'a week' });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/SLUICE_VACUUM_RETENTION_HOURS must be a whole number/);
  });

  it("SLUICE_OPTIMIZE_TARGET_MB is optimize's target size unless --target-mb is given", async () => {
    const { uri, store } = await smallFilesTable('opt-setting', 3);
    const run = await cli(['optimize', uri, '--json'], { SLUICE_OPTIMIZE_TARGET_MB: '3' });
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ filesRemoved: 3, filesAdded: 1 });
    const [latest] = await tableHistory(store, 1);
    expect(latest!.operationParameters).toMatchObject({ targetSize: String(3 * 1024 * 1024) });
    await writeTable(store, [writerBatch(7, 10, ROWS)]);
    const explicit = await cli(['optimize', uri, '--target-mb', '2', '--json'], { SLUICE_OPTIMIZE_TARGET_MB: '3' });
    expect(explicit.code, explicit.err).toBe(0);
    expect((await tableHistory(store, 1))[0]!.operationParameters).toMatchObject({ targetSize: String(2 * 1024 * 1024) });
  });
});

describe('vacuum and writers at work', () => {
  it('a stalled optimize keeps its new files through vacuum --retention-hours 1 --force two hours ahead, and commits a readable table', async () => {
    const { store } = await smallFilesTable('vac-stall', 4);
    const small = livePaths(await loadSnapshot(store));
    const gate = gatedCommits(store);
    pending.push(gate.open);
    const optimizing = optimizeTable(gate.store, { targetFileBytes: 1024 * 1024 });
    await gate.reached; // its files are written; it waits to commit them
    const written = [...(await storedDataFiles(store))].filter((f) => !small.has(f));
    expect(written.length).toBe(1);

    const vacuumed = await vacuumTable(store, { retentionHours: 1, force: true, now: Date.now() + 2 * HOUR });
    expect(vacuumed.files).toEqual([]);
    expect(await storedDataFiles(store)).toEqual(new Set([...small, ...written]));

    gate.open();
    expect((await optimizing).version).toBe(4);
    const snapshot = await loadSnapshot(store);
    expect(livePaths(snapshot)).toEqual(new Set(written));
    const { rows, perBatch } = await rowsPerBatch(snapshot);
    expect(rows).toBe(4 * ROWS);
    expect([...perBatch.values()]).toEqual([ROWS, ROWS, ROWS, ROWS]);

    // Committed, the optimize released its claim: the files it replaced now expire as any tombstone.
    const after = await vacuumTable(store, { retentionHours: 1, force: true, now: Date.now() + 2 * HOUR });
    expect(new Set(after.files)).toEqual(small);
    expect((await rowsPerBatch(await loadSnapshot(store))).rows).toBe(4 * ROWS);
  });

  it("a dead writer's claim protects its files for the claim's lease (a day), then vacuum deletes both", async () => {
    const { store } = await smallFilesTable('vac-claim', 1);
    const claim = await claimWrites(store, 'TEST');
    pending.push(() => void claim.release());
    const orphans = await writeDataFiles({ store, schema: WRITER_SCHEMA, partitionColumns: [] }, [writerBatch(9, 0, ROWS)]);
    expect(orphans.length).toBe(1);
    const claims = async () => {
      const paths: string[] = [];
      for await (const info of store.list('_sluice_claims/')) paths.push(info.path);
      return paths;
    };
    expect(await claims()).toEqual([`_sluice_claims/${claim.id}.json`]);

    expect((await vacuumTable(store, { retentionHours: 1, force: true, now: Date.now() + 23 * HOUR })).files).toEqual([]);
    const expired = await vacuumTable(store, { retentionHours: 1, force: true, now: Date.now() + 25 * HOUR });
    expect(expired.files).toEqual([orphans[0]!.path]);
    expect(await claims()).toEqual([]);
  });

  it('a lane writer that stalled past the intent age withdraws its intent instead of committing files vacuum may have taken', async () => {
    const { store } = await smallFilesTable('lane-stall', 1);
    const snapshot = await loadSnapshot(store);
    const adds = await writeDataFiles({ store, schema: WRITER_SCHEMA, partitionColumns: [] }, [writerBatch(8, 0, ROWS)]);
    // Stored 20 minutes ago: other writers delete such an intent as abandoned, and vacuum then treats
    // its files as orphans (here: retention 1 h forced, two hours ahead).
    const intent = { created: Date.now() - 20 * 60_000, baseVersion: snapshot.version, tableId: snapshot.metadata.id, partitionColumns: [], adds };
    const late = submitToLane(store, intent);
    await expect(late).rejects.toBeInstanceOf(DeltaError);
    await expect(late).rejects.toMatchObject({
      transient: true,
      message: expect.stringMatching(/not committed within 15 min .* withdrawn and nothing was committed/),
    });
    expect((await loadSnapshot(store)).version).toBe(snapshot.version);
    expect(await laneIntents(store)).toEqual([]);
    expect((await vacuumTable(store, { retentionHours: 1, force: true, now: Date.now() + 2 * HOUR })).files).toEqual([adds[0]!.path]);
    expect((await rowsPerBatch(await loadSnapshot(store))).rows).toBe(ROWS);
  });
});
