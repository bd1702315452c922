/**
 * Crash safety with real SIGKILL: a writer process (bench/writer-process.ts) is killed at a
 * named fault point (SLUICE_FAULT_KILL_AT, shared/delta/faults.ts) while appending to a table on
 * Azurite. Whatever the point, the table stays readable; a write killed before its commit leaves the
 * table unchanged and its data files as orphans that vacuum removes only after the retention; an
 * intent handed to the commit lane is durable and lands exactly once; a committed write is there
 * exactly once, and its writer's retry (same txn) is recognised as a duplicate.
 */
import { describe, expect, it } from 'vitest';
import { flushLane, loadSnapshot, Snapshot, vacuumTable, writeTable } from '../../shared/delta';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { batchKey, gaps, laneIntentIds, laneIntents, livePaths, logVersions, readAllCommits, rowsPerBatch, storedDataFiles } from '../support/tables';
import { startWriter, writerBatch, WriterOutcome, WriterSpec } from '../../bench/writers';

const ROWS = 3;
const DAY = 24 * 3_600_000;
type FaultPoint = 'afterDataFiles' | 'afterLaneIntent' | 'beforeCommit' | 'afterCommit';

/** A table with two committed batches of writer 100 (versions 1 and 2), written in this process. */
async function baseTable(label: string): Promise<{ uri: string; store: ObjectStore }> {
  const uri = azuriteUri(uniqueContainer(label), 'events');
  const store = openStore(uri);
  await writeTable(store, [writerBatch(100, 0, ROWS)]);
  await writeTable(store, [writerBatch(100, 1, ROWS)]);
  return { uri, store };
}

/** What the table looks like: version, rows per batch, live files. */
async function state(store: ObjectStore) {
  const snapshot = await loadSnapshot(store);
  const { rows, perBatch, badValues } = await rowsPerBatch(snapshot);
  expect(badValues).toBe(0);
  expect(gaps((await logVersions(store)).commits)).toEqual([]);
  return { snapshot, version: snapshot.version, rows, perBatch: Object.fromEntries([...perBatch].sort()), live: livePaths(snapshot) };
}

/** Run one writer process to completion (or its death); a hung one gets SIGTERM (never SIGKILL) after 45 s. */
async function run(spec: Omit<WriterSpec, 'rows' | 'batches'> & { batches?: number }): Promise<WriterOutcome> {
  const writer = startWriter({ batches: 1, rows: ROWS, ...spec });
  const timer = setTimeout(() => writer.child.kill('SIGTERM'), 45_000);
  try {
    return await writer.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Run a writer that must die by SIGKILL at `point` before reporting its batch. */
async function crash(uri: string, mode: 'lane' | 'direct', point: FaultPoint, writer = 7): Promise<WriterOutcome> {
  const outcome = await run({ table: uri, writer, mode, txn: true, env: { SLUICE_FAULT_KILL_AT: point } });
  expect(outcome.signal, `writer should die by SIGKILL at ${point}; exit ${outcome.code}, stderr: ${outcome.stderr}`).toBe('SIGKILL');
  expect(outcome.batches).toEqual([]);
  return outcome;
}

function expectOk(outcome: WriterOutcome): void {
  expect(outcome.code, outcome.stderr).toBe(0);
  expect(outcome.done).toBe(true);
}

/** Data files in storage that the snapshot does not reference. */
async function orphans(store: ObjectStore, snapshot: Snapshot): Promise<string[]> {
  const live = livePaths(snapshot);
  return [...(await storedDataFiles(store))].filter((f) => !live.has(f)).sort();
}

describe('writer processes killed with SIGKILL (Azurite)', () => {
  const beforeCommitCases: [string, 'lane' | 'direct', FaultPoint][] = [
    ['direct writer killed after writing its data files', 'direct', 'afterDataFiles'],
    ['direct writer killed right before creating its commit file', 'direct', 'beforeCommit'],
    ['lane writer killed after writing its data files (before its intent)', 'lane', 'afterDataFiles'],
  ];
  for (const [title, mode, point] of beforeCommitCases) {
    it(`${title}: table unchanged, its file an orphan that only vacuum after the retention deletes`, async () => {
      const { uri, store } = await baseTable(`crash-${point.toLowerCase()}`);
      const before = await state(store);
      await crash(uri, mode, point);

      const after = await state(store);
      expect(after.version).toBe(before.version);
      expect(after.perBatch).toEqual(before.perBatch);
      expect(after.live).toEqual(before.live);
      expect(await laneIntents(store)).toEqual([]);
      const left = await orphans(store, after.snapshot);
      expect(left).toHaveLength(1); // the one data file of the killed batch
      expect((await logVersions(store)).commits).toHaveLength(before.version + 1);

      // Too young for the default vacuum (7-day retention, 1-hour min orphan age).
      expect((await vacuumTable(store)).files).toEqual([]);
      expect((await vacuumTable(store, { now: Date.now() + 6 * DAY })).files).toEqual([]);
      // After the retention: exactly the orphans, nothing else.
      const vacuumed = await vacuumTable(store, { now: Date.now() + 8 * DAY });
      expect(vacuumed.files.sort()).toEqual(left);
      const final = await state(store);
      expect(final.perBatch).toEqual(before.perBatch);
      expect(await storedDataFiles(store)).toEqual(final.live);
    });
  }

  it('lane writer killed after storing its intent: table unchanged until flushLane, then its rows exactly once', async () => {
    const { uri, store } = await baseTable('crash-intent-flush');
    const before = await state(store);
    await crash(uri, 'lane', 'afterLaneIntent');

    const after = await state(store);
    expect(after.version).toBe(before.version);
    expect(after.perBatch).toEqual(before.perBatch);
    const intents = await laneIntents(store);
    expect(intents).toHaveLength(1);
    // The pending intent's file is not an orphan for vacuum, whatever the clock says.
    const pendingFile = await orphans(store, after.snapshot);
    expect(pendingFile).toHaveLength(1);
    expect((await vacuumTable(store, { now: Date.now() + 8 * DAY })).files).toEqual([]);
    expect(await storedDataFiles(store)).toEqual(new Set([...after.live, ...pendingFile]));

    const flushed = await flushLane(store);
    expect(flushed).toEqual({ intents: 1, versions: [before.version + 1] });
    const final = await state(store);
    expect(final.perBatch).toEqual({ ...before.perBatch, [batchKey(7, 0)]: ROWS });
    expect(final.live).toEqual(new Set([...before.live, ...pendingFile]));
    expect(final.snapshot.state.txns.get('writer-7')?.version).toBe(0);
    expect(await laneIntents(store)).toEqual([]);
    // Flushing again commits nothing.
    expect(await flushLane(store)).toEqual({ intents: 0, versions: [] });
    expect((await state(store)).version).toBe(before.version + 1);
  });

  it('lane writer killed after storing its intent: the next lane writer commits it with its own, each exactly once', async () => {
    const { uri, store } = await baseTable('crash-intent-next');
    const before = await state(store);
    await crash(uri, 'lane', 'afterLaneIntent');
    expect((await state(store)).version).toBe(before.version);

    const next = await run({ table: uri, writer: 8, mode: 'lane', txn: true });
    expectOk(next);
    const final = await state(store);
    expect(final.perBatch).toEqual({ ...before.perBatch, [batchKey(7, 0)]: ROWS, [batchKey(8, 0)]: ROWS });
    expect(final.version).toBe(before.version + 1); // one commit carried both
    expect(next.batches[0].version).toBe(before.version + 1);
    expect(await laneIntents(store)).toEqual([]);
    expect(await flushLane(store)).toEqual({ intents: 0, versions: [] });
    expect(await orphans(store, final.snapshot)).toEqual([]);
  });

  it('lane writer killed after storing its intent, then restarted with the same batch (same txn): rows exactly once', async () => {
    const { uri, store } = await baseTable('crash-intent-retry');
    const before = await state(store);
    await crash(uri, 'lane', 'afterLaneIntent');
    const retry = await run({ table: uri, writer: 7, mode: 'lane', txn: true });
    expectOk(retry);

    const final = await state(store);
    expect(final.perBatch).toEqual({ ...before.perBatch, [batchKey(7, 0)]: ROWS });
    expect(final.snapshot.state.txns.get('writer-7')?.version).toBe(0);
    // Whichever intent landed, the other is a duplicate of txn (writer-7, 0): flushing never commits it.
    expect((await flushLane(store)).intents).toBe(0);
    expect((await state(store)).perBatch).toEqual(final.perBatch);
    // A duplicate intent left behind is abandoned after maxIntentAgeMs; its file then goes to vacuum.
    await flushLane(store, { maxIntentAgeMs: 0 });
    expect(await laneIntents(store)).toEqual([]);
    const left = await orphans(store, final.snapshot);
    expect((await vacuumTable(store, { now: Date.now() + 8 * DAY })).files.sort()).toEqual(left);
    expect((await state(store)).perBatch).toEqual(final.perBatch);
  });

  for (const mode of ['direct', 'lane'] as const) {
    it(`${mode} writer killed right after creating its commit file: rows exactly once, its retry is a duplicate`, async () => {
      const { uri, store } = await baseTable(`crash-commit-${mode}`);
      const before = await state(store);
      await crash(uri, mode, 'afterCommit');

      const after = await state(store);
      expect(after.version).toBe(before.version + 1);
      expect(after.perBatch).toEqual({ ...before.perBatch, [batchKey(7, 0)]: ROWS });
      expect(await orphans(store, after.snapshot)).toEqual([]);
      // A lane writer dies before deleting its intent: the blob may remain, but a commit carries it.
      const commits = await readAllCommits(store, after.version);
      const carried = laneIntentIds(commits);
      expect((await laneIntents(store)).filter((i) => !carried.has(i.id))).toEqual([]);

      // The restarted writer sends the same batch again with the same txn: skipped, nothing added.
      const retry = await run({ table: uri, writer: 7, mode, txn: true });
      expectOk(retry);
      expect(retry.batches[0]).toMatchObject({ skipped: true, rows: 0 });
      expect((await flushLane(store)).intents).toBe(0);
      const final = await state(store);
      expect(final.version).toBe(before.version + 1);
      expect(final.perBatch).toEqual(after.perBatch);
      expect(await orphans(store, final.snapshot)).toEqual([]);
      // A committed intent whose writer died is cleaned up once it is older than maxIntentAgeMs.
      await flushLane(store, { maxIntentAgeMs: 0 });
      expect(await laneIntents(store)).toEqual([]);
      expect((await state(store)).perBatch).toEqual(after.perBatch);
    });
  }
});
