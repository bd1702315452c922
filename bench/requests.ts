/**
 * Storage requests per landing file (`npm run bench -- --section requests`): every request the app
 * sends to Blob and Table Storage from a sales file dropped in the landing container until gold holds
 * it, which Azure bills one by one.
 *
 * The POS example pipeline (examples/pipelines/pos.yaml) on Azurite, driven through the stage functions
 * the app's triggers call: `ingestRoutedBlob` (what the `blobCreated` function does for the event of
 * the drop), then the refresh run as the `refresh` orchestration drives it: the `refreshPlan` activity,
 * then each level's `refreshTable` activities in parallel (silver.sales and silver.deliveries, then
 * gold.daily_store_sales and gold.store_stock). Every store and Table Storage client the app opens is
 * wrapped by a `RequestCounter` (shared/storage/request-count.ts, through `instrumentLake`), which counts
 * by stage, target and kind. The drop itself (the upload) is the sender's request and not counted; the
 * orchestration's own state (Durable task hub queues and tables) is not counted either: in Azure it is
 * the Durable extension's, locally the dev engine's, and the two differ.
 *
 * The tables hold history first: HISTORY (default 20) sales files and one deliveries file are ingested
 * and refreshed the same way uncounted, so bronze and silver have checkpoints and several files, as in a
 * running lake. Then FILES (default 20) sales files of ROWS (default 20) rows, each from a store of its
 * own, are dropped one after the other, each ingested and refreshed before the next, and counted.
 *
 * Stages: `bronze ingest` (the blob requests of ingestion: landing read, bronze log and data, dead
 * letter), `silver refresh` and `gold refresh` (blob requests of those tables' activities), `plan`
 * (blob requests of the plan activity), and `bookkeeping`: every Table Storage request (ingest ledger,
 * event log, catalog), whichever stage sent it.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { InvocationContext } from '@azure/functions';
import { batchToRows, loadSnapshot, readTable } from '../shared/delta';
import { runtimeCatalog } from '../shared/host/catalog';
import { ingestRoutedBlob, loadRuntime, type SluiceRuntime } from '../shared/host';
import { pipelineName } from '../shared/pipeline/name';
import { EventLog, planActivity, tableActivity, type RunServices } from '../shared/run';
import type { RefreshPlan } from '../shared/run/plan';
import { instrumentLake, openLakeStore, openLakeTables } from '../shared/storage/lake';
import { EVENTS_TABLE } from '../shared/storage/lake-layout';
import { RequestCounter, type CountedRequest } from '../shared/storage/request-count';
import { startAzurite } from '../dev/azurite';

const ROOT = nodePath.resolve(__dirname, '..');
const POS_PIPELINE = nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml');

/** Stages requests are reported under. */
export const REQUEST_STAGES = ['bronze ingest', 'silver refresh', 'gold refresh', 'plan', 'bookkeeping'] as const;

/** What the requests bench measured. */
export interface RequestsResult {
  files: number;
  historyFiles: number;
  rowsPerFile: number;
  /** Requests per landing file, all stages. */
  perFile: number;
  /** Requests per file by stage. */
  byStage: Record<string, number>;
  /** Requests per file by service and kind (`blob list`, `table query`, …). */
  byKind: Record<string, number>;
  /** Requests per file by stage, target (store root or table) and kind, largest first. */
  detail: { stage: string; target: string; kind: string; perFile: number }[];
  /** Per measured file, its total (to see whether the count grows with the history). */
  perFileSeries: number[];
  seconds: number;
  error?: string;
}

/** How the bench runs. */
export interface RequestsOptions {
  /** Azurite (or account) connection string. */
  connectionString: string;
  /** Files measured. */
  files: number;
  /** Sales files ingested and refreshed before, uncounted. */
  history: number;
  /** Rows per sales file. */
  rows: number;
  /** Container name prefix (unique per run). */
  label?: string;
}

const SALES_HEADER = 'transaction_id,store_id,sku,quantity,unit_price,currency,event_time,status,card_number';

function salesCsv(id: string, store: string, rows: number): string {
  const lines = Array.from(
    { length: rows },
    (_, i) => `${id}-${i},${store},SKU-${i % 5},${1 + (i % 3)},19.99,USD,2026-03-05 10:${String(i % 60).padStart(2, '0')}:00,,4111111111111111`,
  );
  return `${SALES_HEADER}\n${lines.join('\n')}\n`;
}

const DELIVERIES_CSV = 'delivery_id,store_id,sku,quantity,delivered_at\nD1,S01,SKU-0,10,2026-03-04 08:00:00\nD2,S02,SKU-1,5,2026-03-04 09:00:00\n';

/** A context for the activities: lines go nowhere unless they are errors. */
function quietContext(errors: string[]): InvocationContext {
  return {
    log: () => {},
    warn: (line: unknown) => errors.push(String(line)),
    error: (line: unknown) => errors.push(String(line)),
  } as unknown as InvocationContext;
}

/** The app's refresh services over a runtime context (as `runtimeServices` builds them from the process's). */
function servicesOf(runtime: SluiceRuntime): RunServices {
  return {
    pipelines: () => runtime.pipelines,
    lake: (path) => openLakeStore(runtime.settings, path),
    events: new EventLog(openLakeTables(runtime.settings.lake)(EVENTS_TABLE)),
    sql: { memoryLimit: '256MB', threads: 1 },
    catalog: runtimeCatalog(runtime),
  };
}

/** A landing file through bronze, silver and gold, as the triggers and the orchestration run it. */
async function dropAndRefresh(
  runtime: SluiceRuntime,
  services: RunServices,
  counter: RequestCounter,
  path: string,
  content: string,
  runId: string,
): Promise<void> {
  counter.stage = 'drop';
  const written = await runtime.landing.write(path, content);
  counter.stage = 'bronze ingest';
  const route = runtime.routeBlob(path);
  if (!route) throw new Error(`no source takes ${path}`);
  const outcome = await ingestRoutedBlob(runtime, {
    status: 'routed',
    blob: { kind: 'blob', container: runtime.settings.landingContainer, path, etag: written.etag },
    route,
  });
  if (outcome.status !== 'committed') throw new Error(`${path}: ingest ended ${outcome.status}`);
  const errors: string[] = [];
  const context = quietContext(errors);
  counter.stage = 'plan';
  const pipeline = pipelineName(route.pipeline);
  const plan: RefreshPlan = await planActivity(() => services)({ pipeline, fullRefresh: false });
  const update = tableActivity(() => services);
  for (const level of plan.levels) {
    counter.stage = level.every((t) => t.startsWith('gold.')) ? 'gold refresh' : 'silver refresh';
    await Promise.all(level.map((table) => update({ pipeline, table, fullRefresh: false, runId }, context)));
  }
  if (errors.length) throw new Error(`${path}: the refresh reported: ${errors.join(' | ')}`);
}

/**
 * Count the requests of landing files on their way to gold.
 *
 * @param options connection, sizes
 * @returns the figures per file
 */
export async function measureRequests(options: RequestsOptions): Promise<RequestsResult> {
  const started = Date.now();
  const counter = new RequestCounter();
  instrumentLake(counter.instrument());
  try {
    const label = options.label ?? `req${process.pid}${Date.now().toString(36)}`;
    const runtime = loadRuntime(
      {
        SLUICE_LAKE: options.connectionString,
        SLUICE_LAKE_CONTAINER: `${label}-lake`,
        SLUICE_LANDING_CONTAINER: `${label}-landing`,
        SLUICE_PIPELINES: POS_PIPELINE,
      },
      ROOT,
    );
    const services = servicesOf(runtime);
    if (process.env.BENCH_REQUESTS_TRACE)
      counter.onRequest = (r) => console.error(`${r.stage} | ${r.service} ${r.target.replace(`${label}-`, '')} ${r.kind} ${r.path}`);
    await dropAndRefresh(runtime, services, counter, 'pos/deliveries/2026/03/04/deliveries.csv', DELIVERIES_CSV, `${label}-h-d`);
    for (let i = 0; i < options.history; i++)
      await dropAndRefresh(runtime, services, counter, `pos/sales/2026/03/04/old-${i}.csv`, salesCsv(`H${i}`, `H${i}`, options.rows), `${label}-h${i}`);
    const series: number[] = [];
    counter.reset();
    let before = 0;
    for (let i = 0; i < options.files; i++) {
      await dropAndRefresh(runtime, services, counter, `pos/sales/2026/03/05/drop-${i}.csv`, salesCsv(`N${i}`, `N${i}`, options.rows), `${label}-m${i}`);
      const total = counted(counter.requests()).reduce((n, r) => n + r.count, 0);
      series.push(total - before);
      before = total;
    }
    const requests = counter.requests();
    counter.stage = 'check';
    await checkGold(runtime, options.files);
    const named = counted(requests).map((r) => ({ ...r, target: r.target.replace(`${label}-`, '') }));
    return summarise(named, options, series, (Date.now() - started) / 1000);
  } finally {
    instrumentLake(undefined);
  }
}

/** Gold must show every measured file's store, or the counts describe a pipeline that did not work. */
async function checkGold(runtime: SluiceRuntime, files: number): Promise<void> {
  const snapshot = await loadSnapshot(openLakeStore(runtime.settings, 'gold/daily_store_sales'));
  const stores = new Set((await readTable(snapshot)).batches.flatMap((b) => batchToRows(b, snapshot.schema)).map((r) => String(r.store_id)));
  const missing = Array.from({ length: files }, (_, i) => `N${i}`).filter((s) => !stores.has(s));
  if (missing.length) throw new Error(`gold/daily_store_sales has no row for the stores of ${missing.length} measured files (${missing.join(', ')})`);
}

/** The requests that count: not the drop, Table Storage as bookkeeping. */
function counted(requests: CountedRequest[]): CountedRequest[] {
  return requests.filter((r) => r.stage !== 'drop' && r.stage !== 'check').map((r) => (r.service === 'table' ? { ...r, stage: 'bookkeeping' } : r));
}

const per = (n: number, files: number) => Math.round((n / files) * 100) / 100;

function summarise(requests: CountedRequest[], options: RequestsOptions, series: number[], seconds: number): RequestsResult {
  const files = options.files;
  const sum = (key: (r: CountedRequest) => string) => {
    const out: Record<string, number> = {};
    for (const r of requests) out[key(r)] = (out[key(r)] ?? 0) + r.count;
    for (const k of Object.keys(out)) out[k] = per(out[k], files);
    return out;
  };
  const byStage = Object.fromEntries(REQUEST_STAGES.map((s) => [s, 0]));
  Object.assign(
    byStage,
    sum((r) => r.stage),
  );
  const detail = new Map<string, { stage: string; target: string; kind: string; perFile: number }>();
  for (const r of requests) {
    const key = `${r.stage}|${r.target}|${r.kind}`;
    const entry = detail.get(key) ?? { stage: r.stage, target: r.target, kind: r.kind, perFile: 0 };
    entry.perFile += r.count;
    detail.set(key, entry);
  }
  return {
    files,
    historyFiles: options.history,
    rowsPerFile: options.rows,
    perFile: per(
      requests.reduce((n, r) => n + r.count, 0),
      files,
    ),
    byStage,
    byKind: sum((r) => `${r.service} ${r.kind}`),
    detail: [...detail.values()].map((d) => ({ ...d, perFile: per(d.perFile, files) })).sort((a, b) => b.perFile - a.perFile),
    perFileSeries: series,
    seconds: Math.round(seconds * 10) / 10,
  };
}

/**
 * Print the figures.
 *
 * @param result what `measureRequests` returned
 * @param baseline the figures of an earlier run to compare with (e.g. before a change), if any
 * @param printTable bench/run.ts's table printer
 */
export function printRequestsResults(
  result: RequestsResult,
  baseline: RequestsResult | undefined,
  printTable: (title: string, header: string[], rows: (string | number)[][]) => void,
): void {
  if (result.error) {
    console.log(`\nrequests: FAILED: ${result.error}`);
    return;
  }
  const ratio = (now: number, then: number | undefined) => (then ? `${Math.round((now / then) * 100) / 100}×` : '—');
  const title = `Storage requests per landing file, drop to gold (${result.files} sales files of ${result.rowsPerFile} rows after ${result.historyFiles} files of history; POS pipeline on Azurite)`;
  const stages = Object.keys(result.byStage);
  printTable(
    title,
    ['stage', 'requests/file', ...(baseline ? ['baseline', 'ratio'] : [])],
    [...stages, 'total'].map((s) => {
      const now = s === 'total' ? result.perFile : result.byStage[s];
      const then = baseline ? (s === 'total' ? baseline.perFile : baseline.byStage[s]) : undefined;
      return [s, now, ...(baseline ? [then ?? '—', ratio(now, then)] : [])];
    }),
  );
  const kinds = [...new Set([...Object.keys(result.byKind), ...Object.keys(baseline?.byKind ?? {})])].sort();
  printTable(
    'Requests per landing file by kind',
    ['kind', 'requests/file', ...(baseline ? ['baseline', 'ratio'] : [])],
    kinds.map((k) => [k, result.byKind[k] ?? 0, ...(baseline ? [baseline.byKind[k] ?? 0, ratio(result.byKind[k] ?? 0, baseline.byKind[k])] : [])]),
  );
  printTable(
    'Requests per landing file by stage, target and kind (largest first)',
    ['stage', 'target', 'kind', 'requests/file'],
    result.detail.slice(0, 40).map((d) => [d.stage, d.target, d.kind, d.perFile]),
  );
  console.log(`per measured file: ${result.perFileSeries.join(' ')}; ${result.seconds} s`);
}

/** Where the figures measured before the requests were cut are kept (the `requests` section compares with them). */
export const REQUESTS_BASELINE = nodePath.join(ROOT, 'bench', 'results', 'requests-baseline.json');

/** What the `requests` section of `npm run bench` reports. */
export interface RequestsBenchResult extends RequestsResult {
  /** The recorded figures from before the cut, and this run's total over theirs. */
  baseline?: RequestsResult & { measuredOn?: string };
  ratio?: number;
}

/**
 * The `requests` section: measure, and compare with the recorded baseline. Sizes from BENCH_REQUEST_FILES
 * (default 20), BENCH_REQUEST_HISTORY (default 20) and BENCH_REQUEST_ROWS (default 20).
 *
 * @param connectionString the Azurite of the section
 * @returns the figures (with `error` set when the run failed)
 */
export async function runRequestsBench(connectionString: string): Promise<RequestsBenchResult> {
  const files = Number(process.env.BENCH_REQUEST_FILES ?? 20);
  const history = Number(process.env.BENCH_REQUEST_HISTORY ?? 20);
  const rows = Number(process.env.BENCH_REQUEST_ROWS ?? 20);
  let baseline: RequestsBenchResult['baseline'];
  try {
    baseline = JSON.parse(readFileSync(REQUESTS_BASELINE, 'utf8'));
  } catch {
    baseline = undefined;
  }
  try {
    const result = await measureRequests({ connectionString, files, history, rows });
    return { ...result, ...(baseline ? { baseline, ratio: Math.round((result.perFile / baseline.perFile) * 100) / 100 } : {}) };
  } catch (err) {
    return {
      files,
      historyFiles: history,
      rowsPerFile: rows,
      perFile: NaN,
      byStage: {},
      byKind: {},
      detail: [],
      perFileSeries: [],
      seconds: NaN,
      error: (err as Error).message.slice(0, 500),
    };
  }
}

if (require.main === module) {
  // `node --import tsx bench/requests.ts`: run alone against an Azurite of its own.
  void (async () => {
    const azurite = await startAzurite(ROOT);
    try {
      const result = await measureRequests({
        connectionString: azurite.connectionString,
        files: Number(process.env.BENCH_FILES ?? 20),
        history: Number(process.env.BENCH_HISTORY ?? 20),
        rows: Number(process.env.BENCH_ROWS ?? 20),
      });
      console.log(JSON.stringify(result, null, 2));
    } finally {
      await azurite.stop();
    }
  })();
}
