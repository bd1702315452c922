/**
 * The maintenance timer on the local engine over Azurite: a tick purges old finished Durable
 * instances (never running ones, never recent ones) and starts the one `maintenance` orchestration,
 * which maintains every table of the pipeline (an unreadable one skipped with its reason, one not
 * written yet reported missing), then prunes the event log and the ledger. Retention of Sluice's own
 * state: event log rows past the retention go, recent ones stay; ledger entries go only when their
 * landing blob is gone. Days pass by the injected clock, never by waiting.
 */
import type { OrchestrationContext } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { loadSnapshot, writeTable } from '../../shared/delta';
import { TableLedger } from '../../shared/ingest/ledger';
import type { LedgerEntry } from '../../shared/ingest/types';
import {
  engineControl,
  MAINTENANCE_INSTANCE,
  maintenanceControl,
  maintenanceRegistry,
  pruneEventLog,
  pruneLedger,
  runMaintenanceTick,
  servedTables,
  type MaintenanceOutput,
  type MaintenanceServices,
} from '../../shared/maintenance';
import { EngineRunClient, EventLog } from '../../shared/run';
import { connectionStringTables } from '../../shared/storage/lake';
import { openStore } from '../../shared/storage/location';
import { writerBatch } from '../../bench/writers';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { validateTable } from '../support/delta-validate';
import { connectionString, exampleLake, POS_PIPELINE, runEngine, uniqueName } from '../support/run-lake';
import { rowsPerBatch } from '../support/tables';

const DAY = 86_400_000;
const ROWS = 3;

describe('maintenance timer', () => {
  it('purges old finished instances, then its orchestration maintains every table of the pipeline and prunes the event log', async () => {
    const run = await exampleLake('mnt-timer', POS_PIPELINE);
    const targets = servedTables([run.definition]);
    expect(targets.length).toBeGreaterThanOrEqual(3);
    const [corrupt, missing, ...healthy] = targets;
    for (const t of [corrupt, ...healthy]) for (let batch = 0; batch < 5; batch++) await writeTable(run.lake(t.path), [writerBatch(7, batch, ROWS)]);
    await run.lake(corrupt.path).write('_delta_log/00000000000000000002.json', 'not json');

    const eventsClient = connectionStringTables(connectionString())(run.eventsTable);
    const services: MaintenanceServices = {
      pipelines: () => [run.definition],
      lake: run.lake,
      options: { targetFileBytes: 1024 * 1024, minFilesPerPartition: 4, checkpointInterval: 5 },
      events: eventsClient,
      eventsRetentionDays: 90,
    };
    const registry = maintenanceRegistry(services);
    // An orchestration that finishes at once (an activity-free generator: the engine needs no yield).
    registry.orchestrators.done = function* () {
      yield* [];
      return 'done';
    };
    registry.orchestrators.waiting = function* (context: OrchestrationContext) {
      yield context.df.waitForExternalEvent('never');
    };
    let offset = -60 * DAY;
    const engine = runEngine(registry, { clock: () => Date.now() + offset });
    await engine.startNew('done', { instanceId: 'old-done' });
    await engine.startNew('waiting', { instanceId: 'old-waiting' });
    await engine.runPending();
    offset = 0;
    await engine.startNew('done', { instanceId: 'recent-done' });
    await engine.runPending();

    // Event log: one update from 100 days ago, one from today (each stored twice), at the simulated "later".
    const events = new EventLog(eventsClient);
    const later = Date.now() + 40 * DAY;
    await events.record({
      runId: 'refresh-pos@2026-01-01T00:00:00.000Z',
      pipeline: 'pos',
      table: 'silver.sales',
      status: 'failed',
      recordedAt: new Date(later - 100 * DAY).toISOString(),
      error: 'x',
    });
    await events.record({
      runId: 'refresh-pos@2026-12-01T00:00:00.000Z',
      pipeline: 'pos',
      table: 'silver.sales',
      status: 'failed',
      recordedAt: new Date(later - DAY).toISOString(),
      error: 'y',
    });

    const control = maintenanceControl(new EngineRunClient(engine));
    const tick = await runMaintenanceTick(control, { historyRetentionDays: 30 }, { input: { now: later } });
    expect(tick).toMatchObject({ instanceId: MAINTENANCE_INSTANCE, started: true, purged: 1 });
    expect(await engine.getStatus('old-done')).toBeUndefined();
    expect((await engine.getStatus('old-waiting'))?.runtimeStatus).toBe('Running');
    expect((await engine.getStatus('recent-done'))?.runtimeStatus).toBe('Completed');
    // A second tick while it runs starts nothing.
    expect((await runMaintenanceTick(engineControl(engine), { historyRetentionDays: 30 })).started).toBe(false);

    await engine.runPending();
    const status = await engine.getStatus(MAINTENANCE_INSTANCE);
    expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
    const output = status!.output as MaintenanceOutput;
    expect(output.tables.map((t) => t.path).sort()).toEqual(targets.map((t) => t.path).sort());
    const byPath = new Map(output.tables.map((t) => [t.path, t]));
    expect(byPath.get(corrupt.path)!.skipped).toMatch(/cannot be read .*00000000000000000002\.json/);
    expect(byPath.get(missing.path)).toMatchObject({ missing: true, skipped: expect.stringMatching(/no Delta table/) });
    for (const t of healthy) {
      const report = byPath.get(t.path)!;
      expect(report.skipped, t.path).toBeUndefined();
      expect(report).toMatchObject({
        optimize: { status: 'done', filesRemoved: 5 },
        vacuum: { status: 'done', files: 5 },
        logCleanup: { status: 'done', keepFromVersion: 5 },
      });
      const store = run.lake(t.path);
      expect((await validateTable(store)).problems).toEqual([]);
      const snapshot = await loadSnapshot(store);
      expect(snapshot.state.files.size).toBe(1);
      expect((await rowsPerBatch(snapshot)).rows).toBe(5 * ROWS);
    }
    expect(output.state).toMatchObject({ events: 2, ledger: null });
    const remaining = await events.tableUpdates('pos', 'silver.sales');
    expect(remaining.map((e) => e.error)).toEqual(['y']);
    expect(await events.runEvents('refresh-pos@2026-01-01T00:00:00.000Z')).toEqual([]);
    await engine.stop();
  });
});

describe("retention of Sluice's own state", () => {
  it('deletes event log rows and requests recorded before the cutoff, keeps the recent ones', async () => {
    const client = connectionStringTables(connectionString())(uniqueName('Events'));
    expect(await pruneEventLog(client, new Date())).toBe(0); // no table yet
    const events = new EventLog(client);
    const now = Date.now();
    for (const [i, age] of [200, 91, 89, 1].entries())
      await events.record({
        runId: `refresh-p@${new Date(now - age * DAY).toISOString()}`,
        pipeline: 'p',
        table: 't',
        status: 'failed',
        recordedAt: new Date(now - age * DAY).toISOString(),
        error: String(i),
      });
    await events.recordRequest({ requestId: 'old', pipeline: 'p', requestedAt: new Date(now - 120 * DAY).toISOString() });
    await events.recordRequest({ requestId: 'new', pipeline: 'p', requestedAt: new Date(now - 2 * DAY).toISOString() });
    expect(await pruneEventLog(client, new Date(now - 90 * DAY))).toBe(2 * 2 + 1);
    expect((await events.tableUpdates('p', 't')).map((e) => e.error)).toEqual(['3', '2']);
    expect(await events.request('p', 'old')).toBeUndefined();
    expect(await events.request('p', 'new')).toMatchObject({ requestId: 'new' });
  });

  it('deletes ledger entries whose landing blob is gone or replaced; keeps present blobs, started entries and watermarks', async () => {
    const landing = openStore(azuriteUri(uniqueContainer('mnt-landing'), ''));
    const table = uniqueName('Ledger');
    const client = connectionStringTables(connectionString())(table);
    const ledger = TableLedger.fromConnectionString(connectionString(), table);
    const entry = (path: string, etag: string, status: LedgerEntry['status']): LedgerEntry => ({
      table: 'lake/bronze/pos_sales',
      path,
      etag,
      status,
      attempts: 1,
      startedAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      startVersion: -1,
      rowsRead: 1,
      rowsWritten: 1,
      rowsRescued: 0,
      rowsDeadLettered: 0,
      bytes: 1,
    });
    const kept = await landing.write('pos/kept.csv', 'a\n1\n');
    const replaced = await landing.write('pos/replaced.csv', 'a\n1\n');
    const gone = await landing.write('pos/gone.csv', 'a\n1\n');
    await ledger.put(entry('pos/kept.csv', kept.etag.replace(/"/g, ''), 'committed'));
    await ledger.put(entry('pos/replaced.csv', replaced.etag.replace(/"/g, ''), 'committed'));
    await ledger.put(entry('pos/gone.csv', gone.etag.replace(/"/g, ''), 'deadlettered'));
    await ledger.put(entry('pos/running.csv', '0x1', 'started'));
    await ledger.setWatermark('lake/bronze/pos_sales', 'pos/', { lastModified: 1, updatedAt: new Date().toISOString() });
    await landing.write('pos/replaced.csv', 'a\n2\n'); // a new ETag: a new file for ingestion
    await landing.delete('pos/gone.csv');

    expect(await pruneLedger(client, landing)).toBe(2);
    expect(await ledger.get('lake/bronze/pos_sales', 'pos/kept.csv', kept.etag.replace(/"/g, ''))).toMatchObject({ status: 'committed' });
    expect(await ledger.get('lake/bronze/pos_sales', 'pos/replaced.csv', replaced.etag.replace(/"/g, ''))).toBeNull();
    expect(await ledger.get('lake/bronze/pos_sales', 'pos/gone.csv', gone.etag.replace(/"/g, ''))).toBeNull();
    expect(await ledger.get('lake/bronze/pos_sales', 'pos/running.csv', '0x1')).toMatchObject({ status: 'started' });
    expect(await ledger.getWatermark('lake/bronze/pos_sales', 'pos/')).toMatchObject({ lastModified: 1 });
    expect(await pruneLedger(client, landing)).toBe(0);
  });
});
