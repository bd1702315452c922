/**
 * Helpers of the ingest tests: a landing container and a lake container on the test Azurite, the
 * ledger, ingestion (in this process or in child processes, always with the real readers of
 * shared/formats), and reading a bronze table back — with Sluice's reader as JSON rows, and with
 * DuckDB straight from the data files — plus every check a finished bronze table must pass.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { batchToRows, loadSnapshot, scanTable } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { isStorableName } from '../../shared/formats';
import {
  DeadLetterTarget,
  IngestFileOptions,
  IngestOutcome,
  IngestSource,
  ingestFile,
  LedgerEntry,
  normaliseEtag,
  TableLedger,
  tableKeyOf,
} from '../../shared/ingest';
import { openStore } from '../../shared/storage/location';
import type { ObjectInfo, ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from './azurite';
import { duckdbCheck, validateTable } from './delta-validate';

/** Landing + lake containers for one test. */
export interface IngestEnv {
  landingUri: string;
  landing: ObjectStore;
  tableUri: string;
  table: ObjectStore;
  tableKey: string;
  deadLetterUri: string;
  deadLetter: DeadLetterTarget;
  ledger: TableLedger;
}

/** A fresh landing container and lake container (table at `bronze/<name>`). */
export function ingestEnv(label: string, name = 'events'): IngestEnv {
  const landingContainer = uniqueContainer(`${label}-in`);
  const lakeContainer = uniqueContainer(`${label}-lake`);
  const landingUri = azuriteUri(landingContainer);
  const tableUri = azuriteUri(lakeContainer, `bronze/${name}`);
  const deadLetterUri = azuriteUri(lakeContainer, '_sluice/dead-letter');
  const table = openStore(tableUri);
  return {
    landingUri,
    landing: openStore(landingUri),
    tableUri,
    table,
    tableKey: tableKeyOf(table),
    deadLetterUri,
    deadLetter: { store: openStore(deadLetterUri), prefix: `bronze/${name}/` },
    ledger: TableLedger.fromConnectionString(process.env.SLUICE_STORAGE_CONNECTION_STRING!),
  };
}

/** Write an NDJSON file (objects, or raw text) into the landing container. */
export async function putNdjson(landing: ObjectStore, path: string, rows: object[] | string): Promise<ObjectInfo> {
  const text = typeof rows === 'string' ? rows : rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  return landing.write(path, text);
}

/** Ingest in this process (real readers). */
export function ingest(env: IngestEnv, path: string, source?: IngestSource, extra: Partial<IngestFileOptions> = {}): Promise<IngestOutcome> {
  return ingestFile({ landing: env.landing, path, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, ...(source ? { source } : {}), ...extra });
}

/** The ledger entry of the blob's current version, or null. */
export async function ledgerEntry(env: IngestEnv, path: string): Promise<LedgerEntry | null> {
  const info = await env.landing.properties(path);
  return env.ledger.get(env.tableKey, path, normaliseEtag(info.etag));
}

/**
 * Everything wrong with a bronze table: the independent Delta checks, DuckDB's reading of every data
 * file against Sluice's, and column names Delta refuses without column mapping.
 *
 * @param table store rooted at the table
 * @returns one message per problem (empty when the table is sound)
 */
export async function tableProblems(table: ObjectStore): Promise<string[]> {
  const report = await validateTable(table, { requireStats: true });
  const snapshot = await loadSnapshot(table);
  const duck = await duckdbCheck(table, snapshot);
  const names = snapshot.schema.fields
    .filter((f) => !isStorableName(f.name))
    .map((f) => `column name ${JSON.stringify(f.name)} is not storable without column mapping`);
  return [...report.problems, ...duck.problems, ...names];
}

/**
 * One column of the table's latest version read by DuckDB straight from the live data files (as text;
 * partition columns, which live in the log, are not readable this way).
 *
 * @param table store rooted at the table
 * @param column a data column
 * @returns its values, nulls included
 */
export async function duckdbColumn(table: ObjectStore, column: string): Promise<(string | null)[]> {
  const snapshot = await loadSnapshot(table);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-ingest-duck-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const files: string[] = [];
    for (const [i, file] of [...snapshot.state.files.values()].entries()) {
      const local = nodePath.join(dir, `f${i}.parquet`);
      await writeFile(local, await table.read(decodeURIComponent(file.path)));
      files.push(`'${local.replace(/'/g, "''")}'`);
    }
    if (files.length === 0) return [];
    const quoted = `"${column.replace(/"/g, '""')}"`;
    const reader = await connection.runAndReadAll(`SELECT CAST(${quoted} AS VARCHAR) AS v FROM read_parquet([${files.join(', ')}], union_by_name = true)`);
    return reader.getRows().map((r) => (r[0] === null ? null : String(r[0])));
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rows of the table's latest version as JSON values (64-bit integers as numbers), sorted by `id` when present. */
export async function tableRows(table: ObjectStore): Promise<Record<string, JsonValue>[]> {
  const snapshot = await loadSnapshot(table);
  const rows: Record<string, JsonValue>[] = [];
  for await (const batch of scanTable(snapshot)) {
    for (const row of batchToRows(batch, snapshot.schema)) {
      for (const [k, v] of Object.entries(row)) if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) row[k] = Number(v);
      rows.push(row);
    }
  }
  return rows.sort((a, b) => String(a.id).localeCompare(String(b.id), 'en', { numeric: true }));
}

/** How a child ingestion ended. */
export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outcome?: IngestOutcome;
  backfill?: Record<string, unknown>;
}

/** A started child ingestion. */
export interface ChildHandle {
  child: ChildProcess;
  ready: Promise<void>;
  go(): void;
  exited: Promise<ChildOutcome>;
}

const SCRIPT = nodePath.join(__dirname, 'ingest-process.ts');

/**
 * Start an ingestion (or backfill) in its own process.
 *
 * @param env the test's containers
 * @param spec the file (path/etag/source) or `backfillPrefix`
 * @param options extra environment (SLUICE_FAULT_KILL_AT) and whether to wait for `go()`
 * @returns the handle
 */
export function startIngestProcess(
  env: IngestEnv,
  spec: { path?: string; etag?: string; source?: IngestSource; backfillPrefix?: string },
  options: { env?: Record<string, string>; waitGo?: boolean } = {},
): ChildHandle {
  const full = {
    landing: env.landingUri,
    table: env.tableUri,
    deadLetter: env.deadLetterUri,
    deadLetterPrefix: env.deadLetter.prefix,
    ...spec,
    waitGo: !!options.waitGo,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(full)], {
    env: { ...process.env, ...options.env },
    stdio: [options.waitGo ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});
  if (!options.waitGo) markReady();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('"ready":true')) markReady();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 50_000);
  const exited = new Promise<ChildOutcome>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      failReady(new Error(`ingest process exited (${code ?? signal}) before it was ready: ${stderr}`));
      const last = stdout
        .split('\n')
        .filter((l) => l.trim() && !l.includes('"ready":true'))
        .pop();
      const parsed = last ? (JSON.parse(last) as { outcome?: IngestOutcome; backfill?: Record<string, unknown> }) : {};
      resolve({ code, signal, stdout, stderr, ...parsed });
    });
  });
  return { child, ready, go: () => child.stdin?.end('go\n'), exited };
}

/** Run a child ingestion to its end. */
export function runIngestProcess(env: IngestEnv, spec: Parameters<typeof startIngestProcess>[1], extraEnv?: Record<string, string>): Promise<ChildOutcome> {
  return startIngestProcess(env, spec, { env: extraEnv }).exited;
}
