/**
 * The backup timer and the platform restore, on an Azurite of its own with three accounts (the lake,
 * the backup account, an empty account to restore into), so copies between accounts are server-side
 * with a SAS, as between Azure accounts: the POS example ingested and refreshed, the `backup` timer
 * (the function definition's handler, with the app's settings) backing up every table, the definition
 * and the ledger and event log; then `sluice restore --all` into the empty account, whose gold, silver
 * and Table Storage state equal the source's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { InvocationContext, Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteServer } from '../../dev/azurite';
import { FUNCTIONS } from '../../functions/definitions';
import { runBackupCommand } from '../../cli/backup';
import { manifestVersions, platformRuns, readPlatformRun, tableBackup, verifyBackup, verifyTable } from '../../shared/backup';
import { EventLog, EngineRunClient, orchestrationRegistry } from '../../shared/run';
import { connectionStringTables } from '../../shared/storage/lake';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, openStore } from '../../shared/storage/location';
import { EVENTS_TABLE, LEDGER_TABLE } from '../../shared/storage/lake-layout';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { ingestExamples, POS_PIPELINE, posTables, runEngine, sortedRows, type RunLake } from '../support/run-lake';

const BACKUP_ACCOUNT = 'sluicebak';
const RESTORE_ACCOUNT = 'sluicedr';
const key = (name: string) => Buffer.from(`sluice test key of ${name}, 32+ bytes long`).toString('base64');

let azurite: AzuriteServer;
const folders: string[] = [];

/** Connection string of one account of the test's Azurite. */
function account(name: string, accountKey = key(name)): string {
  const at = (endpoint: string) => endpoint.replace(`/${AZURITE_ACCOUNT}`, `/${name}`);
  return (
    `DefaultEndpointsProtocol=http;AccountName=${name};AccountKey=${accountKey};BlobEndpoint=${at(azurite.blobEndpoint)};` +
    `QueueEndpoint=${at(azurite.queueEndpoint)};TableEndpoint=${at(azurite.tableEndpoint)};`
  );
}

beforeAll(async () => {
  process.env.AZURITE_ACCOUNTS = [
    `${AZURITE_ACCOUNT}:${AZURITE_ACCOUNT_KEY}`,
    `${BACKUP_ACCOUNT}:${key(BACKUP_ACCOUNT)}`,
    `${RESTORE_ACCOUNT}:${key(RESTORE_ACCOUNT)}`,
  ].join(';');
  try {
    azurite = await startAzurite(nodePath.join(__dirname, '..', '..'));
  } finally {
    delete process.env.AZURITE_ACCOUNTS;
  }
  // Everything below (the run helpers, the app's settings) talks to this Azurite.
  process.env.AZURITE_BLOB_ENDPOINT = azurite.blobEndpoint;
  process.env.AZURITE_TABLE_ENDPOINT = azurite.tableEndpoint;
  process.env.AZURITE_QUEUE_ENDPOINT = azurite.queueEndpoint;
});

afterAll(async () => {
  await azurite?.stop();
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

function context(lines: string[]): InvocationContext {
  const log = (...args: unknown[]) => lines.push(args.join(' '));
  return { log, error: log, warn: log, invocationId: 'test' } as unknown as InvocationContext;
}

async function entities(connectionString: string, table: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of connectionStringTables(connectionString)(table).listEntities({ disableTypeConversion: true })) {
    const { etag: _e, timestamp: _t, ...rest } = e as Record<string, unknown>;
    void _e;
    void _t;
    delete rest['odata.metadata'];
    out.push(JSON.stringify(rest));
  }
  return out.sort();
}

describe('platform backup and restore into an empty account', () => {
  it('backs up every table, the definition, the ledger and the event log on the timer, and restores them all', async () => {
    const lakeConnection = account(AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY);
    const backupConnection = account(BACKUP_ACCOUNT);
    const restoreConnection = account(RESTORE_ACCOUNT);
    process.env.SLUICE_STORAGE_CONNECTION_STRING = lakeConnection;

    // The POS lake: bronze from the example files (ledger SluiceLedger), a refresh run (event log SluiceEvents).
    const definition = await loadPipelineDefinition(POS_PIPELINE);
    const lake = (path: string) => openStore(`${azurite.blobEndpoint}/lake/${path}`);
    const events = new EventLog(connectionStringTables(lakeConnection)(EVENTS_TABLE));
    const run: RunLake = {
      container: 'lake',
      lake,
      definition,
      eventsTable: EVENTS_TABLE,
      events,
      services: { pipelines: () => [definition], lake, events, sql: { memoryLimit: '256MB', threads: 1 } },
    };
    await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      LEDGER_TABLE,
    );
    const engine = runEngine(orchestrationRegistry(run.services));
    const started = await new EngineRunClient(engine).startRun({ pipeline: 'pos', reason: 'test' });
    engine.start();
    try {
      expect((await engine.waitForCompletion(started.instanceId, 90_000))?.runtimeStatus).toBe('Completed');
    } finally {
      await engine.stop();
    }

    // The timer, as the app runs it: its settings from the environment.
    const backupLocation = `${azurite.blobEndpoint.replace(`/${AZURITE_ACCOUNT}`, `/${BACKUP_ACCOUNT}`)}/backup`;
    Object.assign(process.env, {
      SLUICE_LAKE: lakeConnection,
      SLUICE_LAKE_CONTAINER: 'lake',
      SLUICE_PIPELINES: 'examples/pipelines/pos.yaml',
      SLUICE_BACKUP_LOCATION: backupLocation,
      SLUICE_BACKUP_RETENTION_DAYS: '0',
      SLUICE_BACKUP_MIN_VERSIONS: '2',
      // How the emulator's second account is reached (Azure uses the app's identity instead).
      SLUICE_STORAGE_CONNECTION_STRING: backupConnection,
    });
    const backup = FUNCTIONS.find((f) => f.name === 'backup');
    if (backup?.kind !== 'timer') throw new Error('no backup timer in FUNCTIONS');
    expect(backup.schedule).toBe('%SLUICE_BACKUP_SCHEDULE%');
    const lines: string[] = [];
    await backup.handler(timer, context(lines));
    expect(lines.join('\n')).toMatch(/backup: run .*gold\/daily_store_sales@\d+/);

    const root = openStore(backupLocation, { env: { SLUICE_STORAGE_CONNECTION_STRING: backupConnection } });
    const [firstRun] = await platformRuns(root);
    const record = await readPlatformRun(root, firstRun);
    expect(record.complete).toBe(true);
    const backedUp = record.tables.filter((t) => t.version !== null).map((t) => t.path);
    expect(backedUp).toEqual(
      expect.arrayContaining([
        'bronze/pos_sales',
        'bronze/pos_deliveries',
        'silver/sales',
        'silver/sales__quarantine',
        'silver/deliveries',
        'gold/daily_store_sales',
        'gold/store_stock',
      ]),
    );
    // Downstream first: gold before silver before bronze.
    const order = record.tables.map((t) => t.path);
    expect(order.indexOf('gold/daily_store_sales')).toBeLessThan(order.indexOf('silver/sales'));
    expect(order.indexOf('silver/sales')).toBeLessThan(order.indexOf('bronze/pos_sales'));
    expect(record.tables.find((t) => t.path === 'bronze/network_events')).toMatchObject({ version: null, skipped: 'no table yet' });
    expect(record.definitions).toEqual(['examples/pipelines/pos.yaml']);
    expect(record.state.map((s) => s.table)).toEqual([LEDGER_TABLE, EVENTS_TABLE]);
    expect(record.state.every((s) => s.entities > 0)).toBe(true);
    for (const path of backedUp) expect((await verifyBackup(tableBackup(root, path))).problems, path).toEqual([]);

    // A second run with nothing new copies nothing; retention keeps at least the 2 newest versions.
    await backup.handler(timer, context([]));
    const runs = await platformRuns(root);
    expect(runs).toHaveLength(2);
    const second = await readPlatformRun(root, runs[1]);
    expect(second.tables.filter((t) => t.version !== null).every((t) => t.unchanged && t.copied === 0)).toBe(true);
    expect(await manifestVersions(tableBackup(root, 'silver/sales'))).toHaveLength(1);

    // Restore everything into the empty account, as `sluice restore --all` with that account's settings.
    const definitionsTo = await mkdtemp(nodePath.join(tmpdir(), 'sluice-defs-'));
    folders.push(definitionsTo);
    let out = '';
    const code = await runBackupCommand(
      'restore',
      ['--all', backupLocation, '--definitions-to', definitionsTo, '--json'],
      { out: (t) => (out += t), err: (t) => (out += t) },
      { SLUICE_LAKE: restoreConnection, SLUICE_LAKE_CONTAINER: 'lake', SLUICE_STORAGE_CONNECTION_STRING: backupConnection },
    );
    expect(code, out).toBe(0);
    const restored = JSON.parse(out) as { run: string; tables: { path: string }[] };
    expect(restored.run).toBe(runs[1]);
    expect(restored.tables.map((t) => t.path).sort()).toEqual([...backedUp].sort());

    const restoredLake = (path: string) =>
      openStore(`${azurite.blobEndpoint.replace(`/${AZURITE_ACCOUNT}`, `/${RESTORE_ACCOUNT}`)}/lake/${path}`, {
        env: { SLUICE_STORAGE_CONNECTION_STRING: restoreConnection },
      });
    // Same gold numbers, same silver, same bronze rows.
    expect(await posTables(restoredLake)).toEqual(await posTables(lake));
    for (const path of ['bronze/pos_sales', 'bronze/pos_deliveries']) expect(await sortedRows(restoredLake, path), path).toEqual(await sortedRows(lake, path));
    for (const path of backedUp) expect((await verifyTable(restoredLake(path))).problems, path).toEqual([]);
    // The Table Storage state, entity for entity.
    for (const table of [LEDGER_TABLE, EVENTS_TABLE]) expect(await entities(restoreConnection, table), table).toEqual(await entities(lakeConnection, table));
    expect(await readFile(nodePath.join(definitionsTo, 'examples', 'pipelines', 'pos.yaml'), 'utf8')).toBe(await readFile(POS_PIPELINE, 'utf8'));

    // A second restore into the same (no longer empty) account is refused.
    const again = await runBackupCommand(
      'restore',
      ['--all', backupLocation],
      { out: () => {}, err: () => {} },
      { SLUICE_LAKE: restoreConnection, SLUICE_STORAGE_CONNECTION_STRING: backupConnection },
    ).catch((err: Error) => err);
    expect(String((again as Error).message)).toMatch(/refused: a table exists there/);
  });
});
