/**
 * The backup benchmark (issue 14), a section of `npm run bench`: a first and an incremental backup
 * (`backupTable`, server-side copies) of a lake of T tables × F data files on Azurite, into a backup
 * account, with the HTTP requests each phase sends and its time. The incremental backup follows K
 * new files appended to every table (one commit each), and a third backup with nothing new shows the
 * fixed cost per table. Incremental requests should follow the new files, not the lake.
 *
 * The lake is written directly, so its build costs only the uploads: one small Parquet file (a real
 * one, written by the Delta writer once) uploaded F times per table, and one commit adding all F.
 * Requests are counted at Node's http layer (every request the Azure SDK sends, retries included).
 * Tables are backed up as the backup timer does: `SLUICE_BACKUP_TABLE_CONCURRENCY` tables at once,
 * `SLUICE_BACKUP_COPY_CONCURRENCY` copies at once in each (the app's defaults unless set).
 *
 * Accounts: Azurite keeps an account's blobs in one in-memory collection indexed by account name
 * first, so every request scans all the blobs of its account: with 100,000 files in one account a
 * request costs a hundred times what it costs with 1,000, which Azure Storage does not. By default
 * (`BENCH_BACKUP_ACCOUNTS=per-table`) each table and each table's backup get an Azurite account of
 * their own, so the emulator's cost per request stays that of a 1,000-file account and the figures
 * show our requests, not the emulator's scans; copies are then between accounts, as from the lake to
 * the backup account in Azure. `BENCH_BACKUP_ACCOUNTS=shared` puts everything in the development
 * account (two containers), as the section did first.
 *
 * Size: `--backup-lake TxF` (default 100x1000) and BENCH_BACKUP_NEW (K, default 10).
 */
import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/azurite';
import { backupTable } from '../shared/backup';
import { readBackupSettings } from '../shared/host';
import { AzureBlobStore } from '../shared/storage/azure';
import { writeTable } from '../shared/delta';
import { serialiseCommit, type Action } from '../shared/delta/actions';
import { commitPath } from '../shared/delta/log';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, openStore } from '../shared/storage/location';
import type { ObjectStore } from '../shared/storage/types';
import { writerBatch } from './writers';

/** One phase's figures. */
export interface BackupPhase {
  phase: 'build' | 'first backup' | 'incremental backup' | 'unchanged backup';
  seconds: number;
  requests: number;
  filesCopied: number;
  requestsPerTable: number;
  /** Requests per file copied (null when none was). */
  requestsPerCopiedFile: number | null;
}

/** The section's result. */
export interface BackupBenchResult {
  tables: number;
  filesPerTable: number;
  newFilesPerTable: number;
  /** Azurite accounts: one per table and one per table's backup, or all in the development account. */
  accounts: AccountLayout;
  tableConcurrency: number;
  copyConcurrency: number;
  phases: BackupPhase[];
  /** Incremental-backup requests per new data file (the commits' copies and the fixed cost per table included). */
  incrementalRequestsPerNewFile: number | null;
  /** Incremental requests ÷ first-backup requests, and new files ÷ lake files, for comparison. */
  incrementalRequestShare: number;
  newFileShare: number;
  error?: string;
}

/** Where the bench puts the lake and the backups (see the header). */
export type AccountLayout = 'per-table' | 'shared';

/** Uploads at once per table while the lake is built. */
const BUILD_UPLOADS = 32;

let requests = 0;
/** Count every request Node's http module sends (the SDK's client goes through it). */
function countRequests(): void {
  // The module object itself (an ES namespace import is read-only), which the SDK's client calls through.
  const httpModule = createRequire(__filename)('node:http') as typeof http;
  const original = httpModule.request;
  httpModule.request = ((...args: Parameters<typeof http.request>) => {
    requests++;
    return original(...args);
  }) as typeof http.request;
}

async function onePartFile(): Promise<Uint8Array> {
  const dir = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-backup-'));
  try {
    await writeTable(openStore(dir), [writerBatch(1, 0, 20)]);
    const name = (await readdir(dir)).find((f) => f.endsWith('.parquet'))!;
    return new Uint8Array(await readFile(nodePath.join(dir, name)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [
    { name: 'writer', type: 'integer', nullable: true, metadata: {} },
    { name: 'batch', type: 'integer', nullable: true, metadata: {} },
    { name: 'value', type: 'long', nullable: true, metadata: {} },
  ],
});

/** Upload `count` copies of the file and commit them as `version`. */
async function addFiles(table: ObjectStore, file: Uint8Array, version: number, from: number, count: number): Promise<void> {
  const actions: Action[] = [];
  if (version === 0) {
    actions.push({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
    actions.push({
      metaData: {
        id: `bench-${Math.random().toString(16).slice(2)}`,
        format: { provider: 'parquet', options: {} },
        schemaString: SCHEMA,
        partitionColumns: [],
        configuration: {},
        createdTime: Date.now(),
      },
    });
  }
  const paths = Array.from({ length: count }, (_, i) => `part-${String(from + i).padStart(6, '0')}.parquet`);
  // A pool, not waves of 32: one slow upload does not hold the next 31 back.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(BUILD_UPLOADS, paths.length) }, async () => {
      while (next < paths.length) await table.write(paths[next++], file);
    }),
  );
  for (const path of paths) actions.push({ add: { path, partitionValues: {}, size: file.byteLength, modificationTime: Date.now(), dataChange: true } });
  await table.createIfAbsent(commitPath(version), serialiseCommit(actions));
}

async function forTables(count: number, atOnce: number, fn: (i: number) => Promise<number>): Promise<number> {
  let next = 0;
  let copied = 0;
  await Promise.all(
    Array.from({ length: Math.min(atOnce, count) }, async () => {
      while (next < count) {
        const n = await fn(next++);
        copied += n;
      }
    }),
  );
  return copied;
}

const accountName = (role: 'lake' | 'bak', i: number) => `${role}${String(i).padStart(3, '0')}`;

/**
 * The `AZURITE_ACCOUNTS` value of a layout: the development account, and for `per-table` one lake
 * and one backup account per table (all with the emulator's public key).
 *
 * @param tables tables of the lake
 * @param layout the layout
 * @returns the value
 */
export function benchAccounts(tables: number, layout: AccountLayout): string {
  const names = [AZURITE_ACCOUNT];
  if (layout === 'per-table') for (let i = 0; i < tables; i++) names.push(accountName('lake', i), accountName('bak', i));
  return names.map((n) => `${n}:${AZURITE_ACCOUNT_KEY}`).join(';');
}

/**
 * Run the section against an Azurite of its own (started with the accounts the layout needs).
 *
 * @param options lake size, project root (where Azurite is installed), account layout
 * @returns the figures
 */
export async function runBackupBench(options: {
  tables: number;
  files: number;
  newFiles: number;
  root: string;
  accounts?: AccountLayout;
}): Promise<BackupBenchResult> {
  const { tables, files, newFiles } = options;
  const layout = options.accounts ?? 'per-table';
  const settings = readBackupSettings(process.env)!;
  const previousAccounts = process.env.AZURITE_ACCOUNTS;
  process.env.AZURITE_ACCOUNTS = benchAccounts(tables, layout);
  let azurite;
  try {
    azurite = await startAzurite(options.root);
  } finally {
    if (previousAccounts === undefined) delete process.env.AZURITE_ACCOUNTS;
    else process.env.AZURITE_ACCOUNTS = previousAccounts;
  }
  const endpoint = azurite.blobEndpoint;
  const store = (account: string, container: string, prefix: string) => {
    const blobEndpoint = endpoint.replace(`/${AZURITE_ACCOUNT}`, `/${account}`);
    const connection = `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`;
    return new AzureBlobStore(new ContainerClient(connection, container), prefix);
  };
  const name = (i: number) => `t${String(i).padStart(3, '0')}`;
  const lake = (i: number) => store(layout === 'per-table' ? accountName('lake', i) : AZURITE_ACCOUNT, 'lake', name(i));
  const backup = (i: number) => store(layout === 'per-table' ? accountName('bak', i) : AZURITE_ACCOUNT, 'backup', name(i));
  countRequests();
  const phases: BackupPhase[] = [];
  const phase = async (name: BackupPhase['phase'], work: () => Promise<number>) => {
    const before = requests;
    const started = Date.now();
    const filesCopied = await work();
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const used = requests - before;
    const figures: BackupPhase = {
      phase: name,
      seconds,
      requests: used,
      filesCopied,
      requestsPerTable: Math.round((used / tables) * 10) / 10,
      requestsPerCopiedFile: filesCopied ? Math.round((used / filesCopied) * 100) / 100 : null,
    };
    phases.push(figures);
    console.log(`  ${name.padEnd(19)} ${seconds} s, ${used} requests, ${filesCopied} files copied (load ${os.loadavg()[0].toFixed(1)})`);
  };
  const file = await onePartFile();
  const result: BackupBenchResult = {
    tables,
    filesPerTable: files,
    newFilesPerTable: newFiles,
    accounts: layout,
    tableConcurrency: settings.tableConcurrency,
    copyConcurrency: settings.copyConcurrency,
    phases,
    incrementalRequestsPerNewFile: null,
    incrementalRequestShare: 0,
    newFileShare: 0,
  };
  const backUp = (i: number) => backupTable(lake(i), backup(i), { concurrency: settings.copyConcurrency });
  try {
    await phase('build', () => forTables(tables, settings.tableConcurrency, async (i) => (await addFiles(lake(i), file, 0, 0, files), 0)));
    await phase('first backup', () => forTables(tables, settings.tableConcurrency, async (i) => (await backUp(i)).copied));
    await forTables(tables, settings.tableConcurrency, async (i) => (await addFiles(lake(i), file, 1, files, newFiles), 0));
    await phase('incremental backup', () => forTables(tables, settings.tableConcurrency, async (i) => (await backUp(i)).copied));
    await phase('unchanged backup', () => forTables(tables, settings.tableConcurrency, async (i) => (await backUp(i)).copied));
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await azurite.stop();
  }
  const first = phases.find((p) => p.phase === 'first backup');
  const incremental = phases.find((p) => p.phase === 'incremental backup');
  if (incremental && newFiles > 0) result.incrementalRequestsPerNewFile = Math.round((incremental.requests / (tables * newFiles)) * 100) / 100;
  if (first && incremental) {
    result.incrementalRequestShare = Math.round((incremental.requests / first.requests) * 10000) / 10000;
    result.newFileShare = Math.round((newFiles / (files + newFiles)) * 10000) / 10000;
  }
  return result;
}

/**
 * Print the section's table.
 *
 * @param r the result
 * @param printTable the bench's table printer
 */
export function printBackupResults(r: BackupBenchResult, printTable: (title: string, header: string[], rows: string[][]) => void): void {
  printTable(
    `Backup of a lake of ${r.tables} tables × ${r.filesPerTable} files on Azurite (${r.accounts === 'per-table' ? 'an account per table and per backup' : 'one account'}; ` +
      `server-side copies, ${r.tableConcurrency} tables × ${r.copyConcurrency} copies at once; incremental after ${r.newFilesPerTable} new files per table)`,
    ['phase', 'seconds', 'requests', 'files copied', 'requests/table', 'requests/copied file'],
    r.phases.map((p) => [p.phase, p.seconds, p.requests, p.filesCopied, p.requestsPerTable, p.requestsPerCopiedFile ?? '-'].map(String)),
  );
  console.log(
    `  incremental/first requests ${r.incrementalRequestShare}; new files/lake files ${r.newFileShare}; ` +
      `incremental requests per new file ${r.incrementalRequestsPerNewFile ?? '-'}${r.error ? `; FAILED: ${r.error}` : ''}`,
  );
}
