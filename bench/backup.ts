/**
 * The backup benchmark (issue 14), a section of `npm run bench`: a first and an incremental backup
 * (`backupTable`, server-side copies) of a lake of T tables × F data files on Azurite, into another
 * container, with the HTTP requests each phase sends and its time. The incremental backup follows K
 * new files appended to every table (one commit each), and a third backup with nothing new shows the
 * fixed cost per table. Incremental requests should follow the new files, not the lake.
 *
 * The lake is written directly, so its build costs only the uploads: one small Parquet file (a real
 * one, written by the Delta writer once) uploaded F times per table, and one commit adding all F.
 * Requests are counted at Node's http layer (every request the Azure SDK sends, retries included).
 *
 * Size: `--backup-lake TxF` (default 100x1000) and BENCH_BACKUP_NEW (K, default 10).
 */
import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { backupTable } from '../shared/backup';
import { writeTable } from '../shared/delta';
import { serialiseCommit, type Action } from '../shared/delta/actions';
import { commitPath } from '../shared/delta/log';
import { openStore } from '../shared/storage/location';
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
  phases: BackupPhase[];
  /** Incremental requests ÷ first-backup requests, and new files ÷ lake files, for comparison. */
  incrementalRequestShare: number;
  newFileShare: number;
  error?: string;
}

/** Tables backed up at once. */
const TABLE_CONCURRENCY = 4;

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
  for (let i = 0; i < paths.length; i += 32) await Promise.all(paths.slice(i, i + 32).map((p) => table.write(p, file)));
  for (const path of paths) actions.push({ add: { path, partitionValues: {}, size: file.byteLength, modificationTime: Date.now(), dataChange: true } });
  await table.createIfAbsent(commitPath(version), serialiseCommit(actions));
}

async function forTables(count: number, fn: (i: number) => Promise<number>): Promise<number> {
  let next = 0;
  let copied = 0;
  await Promise.all(
    Array.from({ length: Math.min(TABLE_CONCURRENCY, count) }, async () => {
      while (next < count) {
        const n = await fn(next++);
        copied += n;
      }
    }),
  );
  return copied;
}

/**
 * Run the section against an Azurite.
 *
 * @param options lake size and the Azurite's blob endpoint
 * @returns the figures
 */
export async function runBackupBench(options: { tables: number; files: number; newFiles: number; endpoint: string }): Promise<BackupBenchResult> {
  const { tables, files, newFiles, endpoint } = options;
  countRequests();
  const lake = (i: number) => openStore(`${endpoint}/lake/t${String(i).padStart(3, '0')}`);
  const backup = (i: number) => openStore(`${endpoint}/backup/t${String(i).padStart(3, '0')}`);
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
    console.log(`  ${name.padEnd(19)} ${seconds} s, ${used} requests, ${filesCopied} files copied`);
  };
  const file = await onePartFile();
  const result: BackupBenchResult = { tables, filesPerTable: files, newFilesPerTable: newFiles, phases, incrementalRequestShare: 0, newFileShare: 0 };
  try {
    await phase('build', () => forTables(tables, async (i) => (await addFiles(lake(i), file, 0, 0, files), 0)));
    await phase('first backup', () => forTables(tables, async (i) => (await backupTable(lake(i), backup(i))).copied));
    await forTables(tables, async (i) => (await addFiles(lake(i), file, 1, files, newFiles), 0));
    await phase('incremental backup', () => forTables(tables, async (i) => (await backupTable(lake(i), backup(i))).copied));
    await phase('unchanged backup', () => forTables(tables, async (i) => (await backupTable(lake(i), backup(i))).copied));
  } catch (err) {
    result.error = (err as Error).message;
  }
  const first = phases.find((p) => p.phase === 'first backup');
  const incremental = phases.find((p) => p.phase === 'incremental backup');
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
    `Backup of a lake of ${r.tables} tables × ${r.filesPerTable} files on Azurite (server-side copies; incremental after ${r.newFilesPerTable} new files per table)`,
    ['phase', 'seconds', 'requests', 'files copied', 'requests/table', 'requests/copied file'],
    r.phases.map((p) => [p.phase, p.seconds, p.requests, p.filesCopied, p.requestsPerTable, p.requestsPerCopiedFile ?? '-'].map(String)),
  );
  console.log(`  incremental/first requests ${r.incrementalRequestShare}; new files/lake files ${r.newFileShare}${r.error ? `; FAILED: ${r.error}` : ''}`);
}
