/**
 * Disaster recovery of the whole platform, end to end on the local host as `npm start` runs it
 * (dist/dev/start.js in a process of its own): the POS walkthrough's files dropped in the landing
 * container, gold refreshed, the `backup` timer run over HTTP into a backup folder, the host stopped;
 * then `sluice restore --all` into an empty Azurite, `npm start` on the restored definitions and that
 * Azurite, and the same gold served, every table the same rows, the catalog the same entries. After the restore a new file dropped is ingested once (its
 * redelivered event is a duplicate), and an old file whose event comes again, with its original ETag,
 * is a duplicate by the restored ledger instead of a second copy in bronze.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runBackupCommand } from '../../cli/backup';
import { main as sluiceMain } from '../../cli/main';
import { freePorts, startAzurite, type AzuriteServer } from '../../dev/azurite';
import { runDevCommand } from '../../dev/cli';
import { blobCreatedEvent } from '../../dev/landing-watch';
import type { PlatformRun } from '../../shared/backup';
import { loadSnapshot } from '../../shared/delta';
import { ingestFile, TableLedger } from '../../shared/ingest';
import { ingestSourceOf } from '../../shared/host';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { normaliseEtag } from '../../shared/ingest/stream';
import { encodeKey } from '../../shared/storage/table-keys';
import { connectionStringTables } from '../../shared/storage/lake';
import { LEDGER_TABLE } from '../../shared/storage/lake-layout';
import { openStore } from '../../shared/storage/location';
import { POS_DATA, POS_PIPELINE, ROOT } from '../support/refresh-helpers';

const TABLES = [
  'bronze/pos_deliveries',
  'bronze/pos_sales',
  'silver/deliveries',
  'silver/deliveries__quarantine',
  'silver/sales',
  'silver/sales__quarantine',
  'gold/daily_store_sales',
  'gold/store_stock',
];
const SALES_KEY = 'lake/bronze/pos_sales';

interface Host {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

const azurites: AzuriteServer[] = [];
const hosts: Host[] = [];
const folders: string[] = [];

afterAll(async () => {
  for (const host of hosts) if (host.child.exitCode === null) process.kill(-host.child.pid!, 'SIGKILL');
  for (const azurite of azurites) await azurite.stop();
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** The environment of a host or a command: the test's own Azurite must not stand in for the one given. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k, v]) => v !== undefined && !k.startsWith('AZURITE_') && !['SLUICE_STORAGE_CONNECTION_STRING', 'AzureWebJobsStorage', 'SLUICE_PIPELINES'].includes(k),
    ),
  ) as Record<string, string>;
  return { ...env, ...extra };
}

const ports = (azurite: AzuriteServer) => [azurite.blobEndpoint, azurite.queueEndpoint, azurite.tableEndpoint].map((e) => new URL(e).port).join(',');

/** `npm start` (its module, built) on a free port, using the Azurite given; resolves once it serves. */
async function startHost(pipeline: string, azurite: AzuriteServer, env: Record<string, string> = {}): Promise<Host> {
  const [port] = await freePorts(1);
  const child = spawn(
    process.execPath,
    [
      nodePath.join(ROOT, 'dist', 'dev', 'start.js'),
      '--pipeline',
      pipeline,
      '--port',
      String(port),
      '--azurite-ports',
      ports(azurite),
      '--watch-interval',
      '200',
    ],
    { cwd: ROOT, env: cleanEnv(env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const host = { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
  hosts.push(host);
  await until('the host to start', host, async () => (out.includes('Sluice is running.') ? true : undefined));
  return host;
}

/** Ctrl-C, as in the terminal: the host lets running work finish and exits 0. */
async function stopHost(host: Host): Promise<void> {
  process.kill(host.child.pid!, 'SIGINT');
  expect(await host.exited, host.output()).toBe(0);
}

async function until<T>(what: string, host: Host | undefined, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (host && host.child.exitCode !== null) throw new Error(`the host exited (${host.child.exitCode}) while waiting for ${what}\n${host.output()}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${host?.output().split('\n').slice(-40).join('\n') ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Run a `sluice` command in this process against one Azurite, as a user's shell with its endpoint exported. */
async function sluice(azurite: AzuriteServer, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  const saved = { ...process.env };
  Object.assign(process.env, { AZURITE_BLOB_ENDPOINT: azurite.blobEndpoint, SLUICE_STORAGE_CONNECTION_STRING: azurite.connectionString });
  try {
    const code = args[0] === 'dev' ? await runDevCommand(args.slice(1), io) : await sluiceMain(args, io);
    return { code, out, err };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** A table's rows as `sluice read` prints them (NDJSON), sorted: the numbers a user sees. */
async function read(azurite: AzuriteServer, table: string): Promise<string[]> {
  const result = await sluice(azurite, ['read', `azurite://lake/${table}`]);
  expect(result.code, result.err).toBe(0);
  return result.out.split('\n').filter(Boolean).sort();
}

/** Gold's daily sales as the walkthrough states them: store, day, currency → revenue (units). */
async function dailySales(azurite: AzuriteServer): Promise<string[]> {
  return (await read(azurite, 'gold/daily_store_sales')).map((line) => {
    const row = JSON.parse(line) as { store_id: string; day: string; currency: string; revenue: string | number; units: number };
    return `${row.store_id} ${String(row.day).slice(0, 10)} ${row.currency} ${Number(row.revenue).toFixed(2)} (${row.units})`;
  });
}

/** Whether the pipeline's run is done with every bronze version there is (the refresh applied them all). */
async function runCompleted(host: Host): Promise<boolean> {
  const response = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/refresh-pos`);
  if (response.status !== 200) return false;
  const status = (await response.json()) as { runtimeStatus?: string };
  return status.runtimeStatus === 'Completed';
}

/** What the catalog API says of each table, as the dashboard shows it. */
async function catalog(host: Host): Promise<{ path: string; version: number; rows: number; status: string; owner: string }[]> {
  const response = await fetch(`${host.url}/api/catalog/tables`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { tables: { path: string; version: number; rows: number; status: string; owner: string }[] };
  return body.tables.map(({ path, version, rows, status, owner }) => ({ path, version, rows, status, owner }));
}

async function drop(azurite: AzuriteServer, file: string, folder: string): Promise<{ etag: string; size: number }> {
  const dropped = await sluice(azurite, ['dev', 'drop', nodePath.join(POS_DATA, file), '--to', folder]);
  expect(dropped.code, dropped.err).toBe(0);
  const info = await openStore(`${azurite.blobEndpoint}/landing`, { env: {} }).properties(`${folder}${file}`);
  return { etag: info.etag, size: info.size };
}

const bronzeVersion = async (azurite: AzuriteServer) => (await loadSnapshot(openStore(`${azurite.blobEndpoint}/lake/bronze/pos_sales`, { env: {} }))).version;

describe('platform backup and restore on the local host', () => {
  it('serves the same gold from an empty account restored with restore --all, and ingests each file once after it', async () => {
    const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-dr-'));
    folders.push(dir);
    const backupDir = nodePath.join(dir, 'backup');
    const definitions = nodePath.join(dir, 'pipelines');

    // The source account: its own Azurite, so its landing files (and their ETags) outlive the host.
    const source = await startAzurite(ROOT);
    azurites.push(source);
    const first = await startHost(POS_PIPELINE, source, { SLUICE_BACKUP_LOCATION: backupDir });
    await drop(source, 'deliveries-2026-03-01.csv', 'pos/deliveries/');
    const sales = await drop(source, 'sales-2026-03-01.csv', 'pos/sales/');
    const walkthrough = [
      'S01 2026-03-01 KRW 15.00 (1)',
      'S01 2026-03-01 USD 64.48 (3)',
      'S02 2026-03-01 EUR 15.00 (1)',
      'S02 2026-03-01 USD 59.97 (4)',
      'S03 2026-03-01 USD 99.95 (5)',
    ];
    await until('gold as the walkthrough gives it', first, async () => {
      if (!(await runCompleted(first))) return undefined;
      try {
        return JSON.stringify(await dailySales(source)) === JSON.stringify(walkthrough) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    const before = new Map<string, string[]>();
    for (const table of TABLES) before.set(table, await read(source, table));
    const catalogBefore = await catalog(first);
    expect(catalogBefore.map((e) => e.path).sort()).toEqual([...TABLES].sort());

    // The backup timer, run now as the walkthrough runs the metrics timer.
    expect((await fetch(`${first.url}/admin/functions/backup`, { method: 'POST' })).status).toBe(202);
    const run = await until('the backup run', first, async () => {
      const index = nodePath.join(backupDir, 'index');
      const files = existsSync(index) ? await readdir(index) : [];
      return files.length ? (JSON.parse(await readFile(nodePath.join(index, files[0]), 'utf8')) as PlatformRun) : undefined;
    });
    expect(run.problems).toEqual([]);
    expect(run.complete).toBe(true);
    expect(
      run.tables
        .filter((t) => t.version !== null)
        .map((t) => t.path)
        .sort(),
    ).toEqual([...TABLES].sort());
    expect(run.definitions).toEqual(['examples/pipelines/pos.yaml']);
    expect(run.state.find((s) => s.table === LEDGER_TABLE)?.entities).toBeGreaterThanOrEqual(2);
    await stopHost(first);

    // An empty account: restore everything into it, definitions into a folder.
    const target = await startAzurite(ROOT);
    azurites.push(target);
    let out = '';
    let err = '';
    const restored = await runBackupCommand(
      'restore',
      ['--all', backupDir, '--definitions-to', definitions, '--json'],
      { out: (t) => void (out += t), err: (t) => void (err += t) },
      cleanEnv({ SLUICE_STORAGE_CONNECTION_STRING: target.connectionString }),
    );
    expect(restored, err).toBe(0);
    const result = JSON.parse(out) as { run: string; tables: { path: string }[]; catalog: { tables: number }; definitions: string[] };
    expect(result.catalog.tables).toBe(TABLES.length);
    expect(result.run).toBe(run.run);
    expect(result.tables.map((t) => t.path).sort()).toEqual([...TABLES].sort());
    const pipeline = nodePath.join(definitions, 'examples', 'pipelines', 'pos.yaml');
    expect(result.definitions).toEqual([pipeline]);

    const second = await startHost(pipeline, target);
    for (const table of TABLES) expect(await read(target, table), table).toEqual(before.get(table));
    expect(await dailySales(target)).toEqual(walkthrough);
    // The catalog (the dashboard's and `sluice catalog`'s source) lists the restored tables at once.
    expect(await catalog(second)).toEqual(catalogBefore);

    // An old file whose event comes again (the landing kept it, ETag and all): the restored ledger knows it.
    const definition = await loadPipelineDefinition(pipeline);
    const versionBefore = await bronzeVersion(target);
    const again = await ingestFile({
      landing: openStore(`${source.blobEndpoint}/landing`, { env: {} }),
      path: 'pos/sales/sales-2026-03-01.csv',
      etag: sales.etag,
      table: openStore(`${target.blobEndpoint}/lake/bronze/pos_sales`, { env: {} }),
      tableKey: SALES_KEY,
      source: ingestSourceOf(definition.sources.pos_sales),
      ledger: TableLedger.fromConnectionString(target.connectionString),
      deadLetter: { store: openStore(`${target.blobEndpoint}/lake/_sluice/dead-letter`, { env: {} }), prefix: 'bronze/pos_sales/' },
    });
    expect(again).toMatchObject({ status: 'duplicate', rowsRead: 11 });
    expect(await bronzeVersion(target)).toBe(versionBefore);

    // A new file after the restore: ingested once, gold moves as the walkthrough says.
    const next = await drop(target, 'sales-2026-03-02.csv', 'pos/sales/');
    await until('gold after the new file', second, async () => {
      if (!(await runCompleted(second))) return undefined;
      try {
        return (await dailySales(target)).includes('S01 2026-03-01 USD 39.98 (2)') ? true : undefined;
      } catch {
        return undefined;
      }
    });
    expect(await bronzeVersion(target)).toBe(versionBefore + 1);
    // Its event delivered once more: a duplicate, bronze does not move.
    const redelivered = await fetch(`${second.url}/runtime/webhooks/EventGrid?functionName=blobCreated`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([blobCreatedEvent('landing', { path: 'pos/sales/sales-2026-03-02.csv', ...next }, target.blobEndpoint)]),
    });
    expect(redelivered.status).toBeLessThan(300);
    expect(await bronzeVersion(target)).toBe(versionBefore + 1);
    const bronze = await read(target, 'bronze/pos_sales');
    expect(bronze.length).toBe(before.get('bronze/pos_sales')!.length + 6);
    const ledger = TableLedger.fromConnectionString(target.connectionString);
    expect((await ledger.get(SALES_KEY, 'pos/sales/sales-2026-03-01.csv', normaliseEtag(sales.etag)))?.status).toBe('committed');
    expect((await ledger.get(SALES_KEY, 'pos/sales/sales-2026-03-02.csv', normaliseEtag(next.etag)))?.status).toBe('committed');
    const files: string[] = [];
    for await (const e of connectionStringTables(target.connectionString)(LEDGER_TABLE).listEntities())
      if (e.partitionKey === encodeKey(SALES_KEY) && String(e.rowKey).startsWith('file!')) files.push(String(e.rowKey));
    expect(files).toHaveLength(2);
    await stopHost(second);
  }, 180_000);
});
