/**
 * Benchmark (never part of `npm test`): `npm run bench`, i.e. `node --import tsx bench/run.ts`.
 *
 * 1. Commit throughput on Azurite: 1, 8 and 32 concurrent writer *processes*
 *    (bench/writer-process.ts) each appending BENCH_BATCHES (default 10) small batches to one
 *    table, through the commit lane and with direct optimistic commits. Timed from the moment all
 *    processes are loaded and released together to the last exit.
 * 2. Snapshot load time (`loadSnapshot`, fastest and median of 3) of tables with 10, 1,000 and 10,000
 *    commits (checkpoints every 10), on Azurite and on local disk. The long logs are written directly:
 *    commit files with create-if-absent, each re-adding one existing data file, and a checkpoint
 *    (`writeCheckpoint`) every 10 versions, so the only thing that grows is the log itself (one live
 *    file throughout; the table shows the live files and the load time per live file).
 *    Then the constant-state series (bench/snapshot.ts): tables of BENCH_CONSTANT_COMMITS (default
 *    "10,10000") commits whose state stays 10 live files, on local disk and a fresh Azurite, and the
 *    ratio of the longest history's load time to the shortest's (goal ≤ 2×).
 *
 * 3. Ingest speed and memory (bench/ingest.ts): `sluice ingest` of the point-of-sale dataset as CSV and
 *    NDJSON beside DuckDB's conversion of the same files, and the CSV into a table on Azurite.
 *
 * 6. Catalog (bench/catalog.ts): list, search, filter and show latency with BENCH_CATALOG_TABLES
 *    (default 1,000) tables in the catalog, and what recording a commit costs.
 * 7. Tiering (bench/tiering.ts): planning time of a 100,000-file table and of a 100-table lake, with
 *    the store calls planning makes (one listing per table, no per-blob property call), and a sample
 *    cost report. Sizes: BENCH_TIERING_FILES, BENCH_TIERING_AZURITE_FILES, BENCH_TIERING_TABLES.
 *
 * 5. Freshness (bench/freshness.ts): on the local host, seconds from a POS file dropped in a landing
 *    folder holding BENCH_PREFILL (default 10,000) older blobs to gold showing it; p50/p95 over
 *    BENCH_FILES (default 20) files dropped one per second.
 *
 * 6. Backup (bench/backup.ts): first and incremental backup of a lake of tables × files on Azurite
 *    (`--backup-lake TxF`, default 100x1000; BENCH_BACKUP_NEW new files per table, default 10;
 *    BENCH_BACKUP_ACCOUNTS per-table or shared, on an Azurite of its own): requests and time per phase.
 *
 * 8. Event Hubs (bench/events.ts): batches of ~200-byte JSON events through `ingestEvents` into one
 *    bronze table at batch sizes 100 and 1,000, partitions concurrent through the commit lane, on local
 *    disk and on Azurite: events/s, CPU seconds, peak RSS per cell (BENCH_EVENTS and others there).
 *
 * 9. Requests (bench/requests.ts): storage requests per landing file from the drop to gold updated
 *    (POS pipeline on Azurite, every Blob and Table Storage request counted by stage and kind), beside
 *    the figures recorded before the requests were cut (bench/results/requests-baseline.json).
 *    Sizes: BENCH_REQUEST_FILES, BENCH_REQUEST_HISTORY, BENCH_REQUEST_ROWS (default 20 each).
 *
 * Azurite is started from node_modules on free ports (dev/azurite.ts, shared with the
 * vitest global setup), a fresh one per phase. Results are printed and written to bench/results/latest.json
 * (sections not run keep their previous results there).
 *
 * Command line (`npm run bench -- <flags>`):
 *   --section ingest,events,…            the sections to run (default all of SECTIONS below; refresh:
 *                                       bench/refresh.ts, BENCH_REFRESH_ROWS rows, default 1000000)
 *   --rows N[,M…]                       ingest: dataset rows (default 1000000); two counts also print
 *                                       the peak RSS growth between them
 *   --memory-check                      ingest: --rows 1000000,5000000
 *   --repeat N                          ingest: runs per figure, fastest kept (default 3)
 *   --format csv|ndjson                 ingest: one format only
 *   --backup-lake TxF                   backup: the lake's tables and files per table (default 100x1000)
 *
 * Environment: BENCH_BATCHES (batches per writer), BENCH_WRITERS (e.g. "1,8,32"), BENCH_COMMITS
 * (e.g. "10,1000,10000").
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { Action, AddFile, CommitInfo, createTable, loadSnapshot, readTable, writeCheckpoint, writeTable } from '../shared/delta';
import { serialiseCommit } from '../shared/delta/actions';
import { commitPath } from '../shared/delta/log';
import { applyActions, cloneState, TableState } from '../shared/delta/replay';
import { openStore } from '../shared/storage/location';
import type { ObjectStore } from '../shared/storage/types';
import { startAzurite } from '../dev/azurite';
import { assertAllSucceeded, runWriters, WRITER_SCHEMA, writerBatch } from './writers';
import type { DatasetFormat } from './dataset';
import { type FreshnessResult, runFreshnessBench } from './freshness';
import { IngestBenchResult, printIngestResults, runIngestBench } from './ingest';
import { printRefreshResults, RefreshBenchResult, runRefreshBench } from './refresh';
import { type CatalogBenchResult, printCatalogResults, runCatalogBench } from './catalog';
import { type BackupBenchResult, printBackupResults, runBackupBench } from './backup';
import { printTieringResults, runTieringBench, type TieringBenchResult } from './tiering';
import { type EventsBenchResult, printEventsResults, runEventsBench } from './events';
import { type ConstantStateResult, printConstantStateResults, runConstantStateSnapshotBench } from './snapshot';
import { printRequestsResults, runRequestsBench, type RequestsBenchResult } from './requests';

const ROOT = nodePath.resolve(__dirname, '..');
const SECTIONS = ['snapshot', 'commits', 'ingest', 'refresh', 'freshness', 'catalog', 'backup', 'tiering', 'events', 'requests'] as const;
type Section = (typeof SECTIONS)[number];

/** The command line: which sections, and the ingest section's dataset sizes. */
interface BenchArgs {
  sections: Section[];
  rows: number[];
  repeat: number;
  formats: DatasetFormat[];
  /** backup: tables × files of the lake (`--backup-lake TxF`). */
  backupLake: [number, number];
}

function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { sections: [...SECTIONS], rows: [1_000_000], repeat: 3, formats: ['csv', 'ndjson'], backupLake: [100, 1000] };
  const value = (i: number, flag: string) => {
    if (argv[i + 1] === undefined) throw new Error(`${flag} needs a value`);
    return argv[i + 1];
  };
  const count = (text: string, flag: string) => {
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: '${text}' is not a positive whole number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--section' || flag === '--sections') {
      const names = value(i++, flag)
        .split(',')
        .map((n) => n.trim());
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (unknown.length) throw new Error(`${flag}: unknown section ${unknown.join(', ')} (sections: ${SECTIONS.join(', ')})`);
      args.sections = names as Section[];
    } else if (flag === '--rows') {
      args.rows = value(i++, flag)
        .split(',')
        .map((n) => count(n, flag));
    } else if (flag === '--memory-check') {
      args.rows = [1_000_000, 5_000_000];
    } else if (flag === '--repeat') {
      args.repeat = count(value(i++, flag), flag);
    } else if (flag === '--format') {
      const format = value(i++, flag);
      if (format !== 'csv' && format !== 'ndjson') throw new Error(`--format: '${format}' is not csv or ndjson`);
      args.formats = [format];
    } else if (flag === '--backup-lake') {
      const m = /^(\d+)x(\d+)$/.exec(value(i++, flag));
      if (!m) throw new Error('--backup-lake takes TABLESxFILES, e.g. 100x1000');
      args.backupLake = [count(m[1], flag), count(m[2], flag)];
    } else {
      throw new Error(`unknown option ${flag} (options: --section, --rows, --memory-check, --repeat, --format, --backup-lake)`);
    }
  }
  return args;
}
const BATCHES = Number(process.env.BENCH_BATCHES ?? 10);
const WRITER_COUNTS = (process.env.BENCH_WRITERS ?? '1,8,32').split(',').map(Number);
const COMMIT_COUNTS = (process.env.BENCH_COMMITS ?? '10,1000,10000').split(',').map(Number);
/** Hard bound per writer group; a group that needs longer is killed and reported as failed. */
const GROUP_TIMEOUT_MS = 240_000;
/**
 * Whole-run budget (BENCH_BUDGET_S, default 570 s): once spent, what is still running is cut short
 * and what has not started is skipped, both reported as errors. Azurite's in-memory store slows down as
 * a container fills (≈300 creates/s at 2,000 blobs, ≈75/s at 12,000), so the 10,000-commit log
 * alone takes about 110 s to write on an idle 2-core machine, and far longer on a busy one.
 */
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 570) * 1000;
const STARTED = Date.now();
const remainingMs = () => BUDGET_MS - (Date.now() - STARTED);
class BudgetExceeded extends Error {
  constructor() {
    super(`time budget of ${BUDGET_MS / 1000} s spent`);
  }
}

interface ThroughputResult {
  writers: number;
  mode: 'lane' | 'direct';
  appends: number;
  commits: number;
  seconds: number;
  commitsPerSecond: number;
  appendsPerSecond: number;
  appendsPerCommit: number;
  latencyMsP50: number;
  latencyMsP95: number;
  error?: string;
}

interface SnapshotResult {
  backend: 'azurite' | 'local';
  commits: number;
  checkpointVersion: number | null;
  /** Live files of the loaded version. */
  liveFiles?: number;
  buildSeconds: number;
  loadMsFastest: number;
  loadMsMedian: number;
  loadsMs: number[];
  error?: string;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const median = (values: number[]) => percentile(values, 50);
let container = 0;
const azuriteTable = (endpoint: string, label: string) => `${endpoint}/bench-${label}-${process.pid}-${container++}/events`;

async function throughput(endpoint: string, writers: number, mode: 'lane' | 'direct'): Promise<ThroughputResult> {
  const uri = azuriteTable(endpoint, `${mode}${writers}`);
  const store = openStore(uri);
  await createTable(store, { schema: WRITER_SCHEMA });
  const appends = writers * BATCHES;
  const base = { writers, mode, appends };
  try {
    const specs = Array.from({ length: writers }, (_, writer) => ({ table: uri, writer, batches: BATCHES, mode, rows: 3 }));
    if (remainingMs() <= 0) throw new BudgetExceeded();
    const group = await runWriters(specs, { timeoutMs: Math.min(GROUP_TIMEOUT_MS, remainingMs()) });
    assertAllSucceeded(group.outcomes);
    const snapshot = await loadSnapshot(store);
    const rows = (await readTable(snapshot)).numRows;
    if (rows !== appends * 3) throw new Error(`expected ${appends * 3} rows, read ${rows}`);
    const commits = snapshot.version; // version 0 is CREATE TABLE
    const seconds = group.ms / 1000;
    const latencies = group.outcomes.flatMap((o) => o.batches.map((b) => b.ms));
    return {
      ...base,
      commits,
      seconds: round(seconds, 2),
      commitsPerSecond: round(commits / seconds, 2),
      appendsPerSecond: round(appends / seconds, 2),
      appendsPerCommit: round(appends / commits, 2),
      latencyMsP50: percentile(latencies, 50),
      latencyMsP95: percentile(latencies, 95),
    };
  } catch (err) {
    return {
      ...base,
      commits: NaN,
      seconds: NaN,
      commitsPerSecond: NaN,
      appendsPerSecond: NaN,
      appendsPerCommit: NaN,
      latencyMsP50: NaN,
      latencyMsP95: NaN,
      error: (err as Error).message.slice(0, 500),
    };
  }
}

/** Run `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        if (remainingMs() <= 0) throw new BudgetExceeded();
        await fn(items[next++]);
      }
    }),
  );
}

/**
 * A table with `commits` commits (versions 0..commits-1): version 0 creates it, version 1 appends one
 * real data file (writeTable), every later commit re-adds that file; a checkpoint at every multiple of 10.
 */
async function buildLongLog(store: ObjectStore, commits: number, concurrency: number): Promise<void> {
  await createTable(store, { schema: WRITER_SCHEMA }); // version 0
  await writeTable(store, [writerBatch(0, 0, 3)]); // version 1: the one data file
  const first = await loadSnapshot(store);
  const add: AddFile = [...first.state.files.values()][0];
  const commitActions = (version: number) => {
    const commitInfo: CommitInfo = {
      timestamp: Date.now(),
      operation: 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: '[]' },
      readVersion: version - 1,
      isBlindAppend: true,
      engineInfo: 'sluice-bench',
    };
    const actions: Action[] = [{ commitInfo }, { add: { ...add, modificationTime: Date.now() } }];
    return actions;
  };
  const versions = Array.from({ length: Math.max(0, commits - 2) }, (_, i) => i + 2);
  await pool(versions, concurrency, (v) => store.createIfAbsent(commitPath(v), serialiseCommit(commitActions(v)), { contentType: 'application/json' }));
  // States at each multiple of 10, replayed in memory (one live file throughout).
  const states: TableState[] = [];
  const state = cloneState(first.state);
  for (let v = 2; v < commits; v++) {
    applyActions(state, commitActions(v), v);
    if (v % 10 === 0) states.push(cloneState(state));
  }
  await pool(states, concurrency, (s) => writeCheckpoint(store, s));
  // Concurrent hint updates may leave _last_checkpoint behind; the newest one sets it right.
  if (states.length) await writeCheckpoint(store, states[states.length - 1]);
}

async function snapshotLoads(backend: 'azurite' | 'local', store: ObjectStore, commits: number): Promise<SnapshotResult> {
  const t0 = Date.now();
  try {
    if (remainingMs() <= 0) throw new BudgetExceeded();
    await buildLongLog(store, commits, backend === 'azurite' ? 8 : 16);
  } catch (err) {
    return {
      backend,
      commits,
      checkpointVersion: null,
      buildSeconds: round((Date.now() - t0) / 1000, 1),
      loadMsFastest: NaN,
      loadMsMedian: NaN,
      loadsMs: [],
      error: (err as Error).message.slice(0, 500),
    };
  }
  const buildSeconds = (Date.now() - t0) / 1000;
  const loadsMs: number[] = [];
  let checkpointVersion: number | null = null;
  let liveFiles = 0;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const snapshot = await loadSnapshot(store);
    loadsMs.push(round(performance.now() - start));
    if (snapshot.version !== commits - 1) throw new Error(`expected version ${commits - 1}, loaded ${snapshot.version}`);
    checkpointVersion = snapshot.checkpointVersion;
    liveFiles = snapshot.state.files.size;
  }
  return {
    backend,
    commits,
    checkpointVersion,
    liveFiles,
    buildSeconds: round(buildSeconds, 1),
    loadMsFastest: Math.min(...loadsMs),
    loadMsMedian: median(loadsMs),
    loadsMs,
  };
}

/** Run `fn` against a fresh Azurite whose endpoint writer processes inherit through the environment. */
async function withAzurite(fn: (blobEndpoint: string) => Promise<void>): Promise<void> {
  const azurite = await startAzurite(ROOT);
  process.env.AZURITE_BLOB_ENDPOINT = azurite.blobEndpoint;
  process.env.SLUICE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  try {
    await fn(azurite.blobEndpoint);
  } finally {
    await azurite.stop();
  }
}

function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isNaN(c) ? '—' : String(c)) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(`\n${title}`);
  cells.forEach((r, i) => {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadStart = os.loadavg().map((n) => round(n, 2));
  console.log(`sluice bench: node ${process.version}, ${os.cpus().length} cpus, load ${loadStart.join(' ')}, sections ${args.sections.join(', ')}`);
  const localRoot = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-'));
  const throughputResults: ThroughputResult[] = [];
  const snapshotResults: SnapshotResult[] = [];
  let ingestResult: IngestBenchResult | undefined;
  let refreshResult: RefreshBenchResult | undefined;
  let freshnessResult: FreshnessResult | undefined;
  let catalogResult: CatalogBenchResult | undefined;
  let backupResult: BackupBenchResult | undefined;
  let tieringResult: TieringBenchResult | undefined;
  let eventsResult: EventsBenchResult | undefined;
  let constantStateResult: ConstantStateResult | undefined;
  let requestsResult: RequestsBenchResult | undefined;
  // A fresh Azurite per phase: its in-memory store slows down with every blob it holds, and the long
  // logs of the first phase would otherwise slow the second.
  try {
    // Snapshot loads first: the long Azurite log is the slowest build and the figures least disturbed.
    if (args.sections.includes('snapshot')) {
      await withAzurite(async (endpoint) => {
        for (const commits of COMMIT_COUNTS) {
          for (const backend of ['local', 'azurite'] as const) {
            const store = backend === 'azurite' ? openStore(azuriteTable(endpoint, `log${commits}`)) : openStore(nodePath.join(localRoot, `log${commits}`));
            const r = await snapshotLoads(backend, store, commits);
            snapshotResults.push(r);
            console.log(
              `  ${backend.padEnd(7)} ${String(commits).padStart(6)} commits ${r.error ? `FAILED after ${r.buildSeconds} s: ${r.error}` : `built in ${r.buildSeconds} s; loads ${r.loadsMs.join(', ')} ms`}`,
            );
          }
        }
      });
      await withAzurite(async (endpoint) => {
        const commits = (process.env.BENCH_CONSTANT_COMMITS ?? '10,10000').split(',').map(Number);
        constantStateResult = await runConstantStateSnapshotBench({ commits, localRoot, azuriteEndpoint: endpoint, loads: 5, remainingMs });
      });
    }
    if (args.sections.includes('commits')) {
      console.log(`  ${BATCHES} batches of 3 rows per writer, writers niced to 10`);
      await withAzurite(async (endpoint) => {
        for (const writers of WRITER_COUNTS) {
          for (const mode of ['direct', 'lane'] as const) {
            const r = await throughput(endpoint, writers, mode);
            throughputResults.push(r);
            console.log(
              `  ${String(writers).padStart(2)} writers ${mode.padEnd(6)} ${r.error ? `FAILED: ${r.error}` : `${r.commits} commits in ${r.seconds} s`}`,
            );
          }
        }
      });
    }
    // Not bound by the time budget: its length is set by --rows and --repeat.
    if (args.sections.includes('ingest')) {
      await withAzurite(async (endpoint) => {
        ingestResult = await runIngestBench({ rows: args.rows, repeat: args.repeat, formats: args.formats, azuriteEndpoint: endpoint });
      });
    }
    // Local disk only, no Azurite; not bound by the time budget either.
    if (args.sections.includes('refresh')) refreshResult = await runRefreshBench(Number(process.env.BENCH_REFRESH_ROWS ?? 1_000_000));
    // The local host in a child process with its own Azurite (bench/freshness.ts).
    if (args.sections.includes('freshness')) {
      freshnessResult = await runFreshnessBench({ prefill: Number(process.env.BENCH_PREFILL ?? 10_000), files: Number(process.env.BENCH_FILES ?? 20) });
      console.log(
        `  freshness ${freshnessResult.error ? `FAILED: ${freshnessResult.error}` : `p50 ${freshnessResult.p50Seconds} s, p95 ${freshnessResult.p95Seconds} s`}`,
      );
    }
    if (args.sections.includes('catalog')) catalogResult = await runCatalogBench(ROOT, Number(process.env.BENCH_CATALOG_TABLES ?? 1_000));
    if (args.sections.includes('backup')) {
      // Its own Azurite: the section decides the emulator's accounts (bench/backup.ts).
      const [tables, files] = args.backupLake;
      const accounts = process.env.BENCH_BACKUP_ACCOUNTS === 'shared' ? 'shared' : 'per-table';
      backupResult = await runBackupBench({ tables, files, newFiles: Number(process.env.BENCH_BACKUP_NEW ?? 10), root: ROOT, accounts });
    }
    if (args.sections.includes('tiering')) {
      await withAzurite(async (endpoint) => {
        tieringResult = await runTieringBench({
          files: Number(process.env.BENCH_TIERING_FILES ?? 100_000),
          azuriteFiles: Number(process.env.BENCH_TIERING_AZURITE_FILES ?? 5_000),
          tables: Number(process.env.BENCH_TIERING_TABLES ?? 100),
          filesPerTable: 1_000,
          azuriteEndpoint: endpoint,
        });
      });
    }
    if (args.sections.includes('events')) {
      await withAzurite(async (endpoint) => {
        eventsResult = await runEventsBench({ azuriteEndpoint: endpoint });
      });
    }
    if (args.sections.includes('requests')) {
      await withAzurite(async () => {
        requestsResult = await runRequestsBench(process.env.SLUICE_STORAGE_CONNECTION_STRING!);
      });
    }
  } finally {
    await rm(localRoot, { recursive: true, force: true });
  }

  if (args.sections.includes('commits')) {
    printTable(
      `Commit throughput on Azurite (${BATCHES} appends of 3 rows per writer process; wall time from release to last exit)`,
      ['writers', 'mode', 'appends', 'commits', 'seconds', 'commits/s', 'appends/s', 'appends/commit', 'p50 ms', 'p95 ms'],
      throughputResults.map((r) => [
        String(r.writers),
        r.mode,
        r.appends,
        r.commits,
        r.seconds,
        r.commitsPerSecond,
        r.appendsPerSecond,
        r.appendsPerCommit,
        r.latencyMsP50,
        r.latencyMsP95,
      ]),
    );
  }
  if (args.sections.includes('snapshot')) {
    printTable(
      'Snapshot load (loadSnapshot of the latest version, 3 loads; checkpoint every 10 commits)',
      ['backend', 'commits', 'checkpoint', 'live files', 'fastest ms', 'median ms', 'fastest ms per live file', 'build s'],
      snapshotResults.map((r) => [
        r.backend,
        r.commits,
        r.checkpointVersion === null ? 'none' : String(r.checkpointVersion),
        r.liveFiles ?? NaN,
        r.loadMsFastest,
        r.loadMsMedian,
        r.liveFiles ? round(r.loadMsFastest / r.liveFiles, 2) : NaN,
        r.buildSeconds,
      ]),
    );
    if (constantStateResult) printConstantStateResults(constantStateResult, printTable);
  }
  if (ingestResult) printIngestResults(ingestResult, printTable);
  if (refreshResult) printRefreshResults(refreshResult, printTable);
  if (freshnessResult && !freshnessResult.error) {
    printTable(
      `Freshness on the local host: file drop to gold updated (${freshnessResult.files} POS files one per second; ${freshnessResult.prefilledBlobs} older blobs in the source's landing folder)`,
      ['p50 s', 'p95 s', 'max s', 'last watch listing ms', 'per file s'],
      [
        [
          freshnessResult.p50Seconds,
          freshnessResult.p95Seconds,
          freshnessResult.maxSeconds,
          freshnessResult.watchPassMs,
          freshnessResult.secondsPerFile.join(' '),
        ].map(String),
      ],
    );
  }
  if (catalogResult) printCatalogResults(catalogResult, printTable);
  if (backupResult) printBackupResults(backupResult, printTable);
  if (tieringResult) printTieringResults(tieringResult, printTable);
  if (eventsResult) printEventsResults(eventsResult, printTable);
  if (requestsResult) printRequestsResults(requestsResult, requestsResult.baseline, printTable);
  const totalSeconds = round((Date.now() - STARTED) / 1000, 1);
  const loadEnd = os.loadavg().map((n) => round(n, 2));
  console.log(
    `\ntotal ${totalSeconds} s; load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')} (other work on the machine skews the figures)`,
  );

  const resultsPath = nodePath.join(ROOT, 'bench', 'results', 'latest.json');
  // Sections not run this time keep the figures of the run that last had them.
  let previous: Record<string, unknown>;
  try {
    previous = JSON.parse(await readFile(resultsPath, 'utf8'));
  } catch {
    previous = {};
  }
  const out = {
    ...previous,
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    sections: args.sections,
    totalSeconds,
    loadAverage: { start: loadStart, end: loadEnd },
    ...(args.sections.includes('commits') ? { batchesPerWriter: BATCHES, rowsPerBatch: 3, throughput: throughputResults } : {}),
    ...(args.sections.includes('snapshot') ? { snapshotLoad: snapshotResults, snapshotLoadConstantState: constantStateResult } : {}),
    ...(ingestResult ? { ingest: ingestResult } : {}),
    ...(refreshResult ? { refresh: refreshResult } : {}),
    ...(freshnessResult ? { freshness: freshnessResult } : {}),
    ...(catalogResult ? { catalog: catalogResult } : {}),
    ...(backupResult ? { backup: backupResult } : {}),
    ...(tieringResult ? { tiering: tieringResult } : {}),
    ...(eventsResult ? { events: eventsResult } : {}),
    ...(requestsResult ? { requests: requestsResult } : {}),
  };
  await mkdir(nodePath.join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(resultsPath, `${JSON.stringify(out, null, 2)}\n`);
  console.log('written to bench/results/latest.json');
  if (
    [
      ...throughputResults,
      ...snapshotResults,
      ...(constantStateResult?.figures ?? []),
      ...(ingestResult?.figures ?? []),
      ...(tieringResult?.figures ?? []),
      ...(eventsResult?.figures ?? []),
    ].some((r) => r.error) ||
    freshnessResult?.error ||
    catalogResult?.error ||
    backupResult?.error ||
    requestsResult?.error
  )
    process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
