/**
 * Tiering bench (`npm run bench -- --section tiering`): how long planning takes, and what it reads.
 *
 * 1. One table of BENCH_TIERING_FILES (default 100,000) data files on local disk: a checkpoint holding
 *    95 % of them live and 5 % as tombstones, one commit after it; `planTableTiering` with a policy
 *    that moves every live file (the largest plan), fastest and median of 3.
 * 2. The same on Azurite with BENCH_TIERING_AZURITE_FILES (default 5,000) files (Azurite's in-memory
 *    store slows down as a container fills, so 100,000 blobs would take most of an hour to create).
 * 3. A lake of BENCH_TIERING_TABLES (default 100) tables of 1,000 files each on local disk: one
 *    `tierLake` pass in plan mode, as the timer runs it.
 * Every run counts the store calls the tiering code makes (through a counting wrapper of the store):
 * listings, reads (log and checkpoint files, read by name) and property calls (none per data file). For one table, the time is also split
 * into the snapshot load, the listing and the in-memory classification and plan.
 *
 * 4. A sample cost report: a 120 GiB table of sparse files on local disk (sizes and file times real,
 *    no disk used) with 24 monthly partitions, removes inside and outside the retention, planned with
 *    the bronze defaults plus consent to archive partitions older than 365 days.
 */
import { mkdir, mkdtemp, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { formatPlan } from '../cli/tier';
import { Action, AddFile, loadSnapshot, writeCheckpoint } from '../shared/delta';
import { removeAction, serialiseCommit } from '../shared/delta/actions';
import { newTableActions } from '../shared/delta/commit';
import { commitPath } from '../shared/delta/log';
import { applyActions, emptyState } from '../shared/delta/replay';
import { parsePipelineDefinition } from '../shared/pipeline';
import { LocalStore } from '../shared/storage/local';
import { openStore } from '../shared/storage/location';
import type { ObjectInfo, ObjectStore } from '../shared/storage/types';
import { classifyListing, DEFAULT_PRICES, planTableTiering, planTiering, resolveTieringPolicy, tierLake, type TieringPlan } from '../shared/tiering';
import { WRITER_SCHEMA } from './writers';

const DAY = 86_400_000;
const SCHEMA = JSON.stringify({ type: 'struct', fields: [...WRITER_SCHEMA.fields, { name: 'day', type: 'string', nullable: true, metadata: {} }] });

/** Store calls the tiering code made. */
export interface CallCounts {
  list: number;
  read: number;
  properties: number;
}

/** Timings of one planning figure. */
export interface TieringFigure {
  what: string;
  backend: 'local' | 'azurite';
  tables: number;
  files: number;
  buildSeconds: number;
  planMsFastest: number;
  planMsMedian: number;
  moves: number;
  calls: CallCounts;
  /** One table figures: where a plan's time goes (fastest of 3 each): snapshot load, listing, classify + plan in memory. */
  parts?: { snapshotMs: number; listingMs: number; classifyAndPlanMs: number };
  error?: string;
}

/** What the section measured. */
export interface TieringBenchResult {
  figures: TieringFigure[];
  /** The sample cost report, as `sluice tier plan` prints it. */
  sampleReport: string;
  sample: { bytes: number; monthlyBefore: number; monthlyAfter: number; currency: string };
}

/** A store that counts the calls made through it (the store's own inner calls are not counted). */
function counting(store: ObjectStore, calls: CallCounts): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, {
    list: (prefix: string) => (calls.list++, store.list(prefix)),
    read: (path: string, range?: { offset: number; length?: number }) => (calls.read++, store.read(path, range)),
    properties: (path: string) => (calls.properties++, store.properties(path)),
  });
}

/**
 * Write a table's log: version 0 adds every file, version 1 removes 5 % of them (deletion timestamps
 * spread over 60 days), a checkpoint at 1, and version 2 adds one more file.
 *
 * @returns the data file paths, for the caller to create
 */
async function writeLog(store: ObjectStore, files: number, partitions: number, now: number): Promise<string[]> {
  const adds: AddFile[] = [];
  for (let i = 0; i <= files; i++) {
    const day = `2026-${String(1 + ((i % partitions) % 12)).padStart(2, '0')}-${String(1 + (Math.floor(i / 12) % 28)).padStart(2, '0')}`;
    adds.push({ path: `day=${day}/part-${String(i).padStart(6, '0')}.parquet`, partitionValues: { day }, size: 0, modificationTime: now, dataChange: true });
  }
  const last = adds.pop()!;
  const v0: Action[] = [
    ...newTableActions({ schemaString: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.deletedFileRetentionDuration': 'interval 60 days' } }),
    ...adds.map((add) => ({ add })),
  ];
  const v1: Action[] = adds.filter((_, i) => i % 20 === 0).map((f, i) => removeAction(f, true, now - (i % 60) * DAY));
  const state = emptyState();
  applyActions(state, v0, 0);
  applyActions(state, v1, 1);
  await store.createIfAbsent(commitPath(0), serialiseCommit(v0));
  await store.createIfAbsent(commitPath(1), serialiseCommit(v1));
  await writeCheckpoint(store, state);
  await store.createIfAbsent(commitPath(2), serialiseCommit([{ add: last }]));
  return [...adds, last].map((a) => a.path);
}

async function localTable(root: string, files: number, now: number): Promise<void> {
  const store = new LocalStore(root);
  const paths = await writeLog(store, files, 365, now);
  const dirs = new Set(paths.map((p) => nodePath.dirname(p)));
  for (const d of dirs) await mkdir(nodePath.join(root, d), { recursive: true });
  for (let i = 0; i < paths.length; i += 256) await Promise.all(paths.slice(i, i + 256).map((p) => writeFile(nodePath.join(root, p), '')));
}

async function azuriteTable(store: ObjectStore, files: number, now: number): Promise<void> {
  const paths = await writeLog(store, files, 365, now);
  for (let i = 0; i < paths.length; i += 64) await Promise.all(paths.slice(i, i + 64).map((p) => store.write(p, '')));
}

async function timed(runs: number, fn: () => Promise<number>): Promise<{ fastest: number; median: number; moves: number }> {
  const ms: number[] = [];
  let moves = 0;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    moves = await fn();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { fastest: Math.round(ms[0]), median: Math.round(ms[Math.floor(ms.length / 2)]), moves };
}

const MOVE_ALL = resolveTieringPolicy('bronze', [{ from: 'bench', values: { coolAfterDays: 0 } }]);

async function tableFigure(what: string, backend: 'local' | 'azurite', store: ObjectStore, files: number, build: () => Promise<void>): Promise<TieringFigure> {
  const started = Date.now();
  const calls: CallCounts = { list: 0, read: 0, properties: 0 };
  try {
    await build();
    const buildSeconds = Math.round((Date.now() - started) / 100) / 10;
    const counted = counting(store, calls);
    const t = await timed(3, async () => (await planTableTiering(counted, MOVE_ALL, { prices: DEFAULT_PRICES })).moves.length);
    const per = { list: calls.list / 3, read: calls.read / 3, properties: calls.properties / 3 };
    const snapshot = await timed(3, async () => ((await loadSnapshot(store)).version, 0));
    let listing: ObjectInfo[] = [];
    const listed = await timed(3, async () => {
      listing = [];
      for await (const info of store.list('')) listing.push(info);
      return 0;
    });
    const loaded = await loadSnapshot(store);
    const compute = await timed(3, async () => (await planTiering(classifyListing(loaded, listing), MOVE_ALL, { prices: DEFAULT_PRICES })).moves.length);
    return {
      what,
      backend,
      tables: 1,
      files,
      buildSeconds,
      planMsFastest: t.fastest,
      planMsMedian: t.median,
      moves: t.moves,
      calls: per,
      parts: { snapshotMs: snapshot.fastest, listingMs: listed.fastest, classifyAndPlanMs: compute.fastest },
    };
  } catch (err) {
    return { what, backend, tables: 1, files, buildSeconds: 0, planMsFastest: NaN, planMsMedian: NaN, moves: 0, calls, error: (err as Error).message };
  }
}

async function lakeFigure(root: string, tables: number, filesPerTable: number, now: number): Promise<TieringFigure> {
  const started = Date.now();
  const calls: CallCounts = { list: 0, read: 0, properties: 0 };
  const names = Array.from({ length: tables }, (_, i) => `t${String(i).padStart(3, '0')}`);
  for (const name of names) await localTable(nodePath.join(root, 'bronze', name), filesPerTable, now);
  const buildSeconds = Math.round((Date.now() - started) / 100) / 10;
  const yaml = `sources:\n${names.map((n) => `  ${n}: { landing: ${n}/ }`).join('\n')}\ntiering:\n  bronze: { coolAfterDays: 0 }\n`;
  const pipeline = parsePipelineDefinition(yaml, 'bench.yaml');
  const t = await timed(3, async () => {
    const outcomes = await tierLake({
      pipelines: [pipeline],
      openTable: (p) => counting(new LocalStore(nodePath.join(root, p)), calls),
      prices: DEFAULT_PRICES,
      apply: false,
    });
    const failed = outcomes.find((o) => o.failed);
    if (failed) throw new Error(`${failed.target}: ${failed.skipped}`);
    return outcomes.reduce((n, o) => n + (o.plan?.moves.length ?? 0), 0);
  });
  const per = { list: calls.list / 3, read: calls.read / 3, properties: calls.properties / 3 };
  return {
    what: 'lake pass (tierLake, plan mode)',
    backend: 'local',
    tables,
    files: tables * filesPerTable,
    buildSeconds,
    planMsFastest: t.fastest,
    planMsMedian: t.median,
    moves: t.moves,
    calls: per,
  };
}

/** The sample table: 24 monthly partitions of 20 files of 256 MiB (sparse), removes at 10, 45 and 90 days. */
async function sampleReport(root: string, now: number): Promise<{ plan: TieringPlan; text: string }> {
  const store = new LocalStore(root);
  const SIZE = 256 * 2 ** 20;
  const adds: AddFile[] = [];
  const times = new Map<string, Date>();
  for (let m = 0; m < 24; m++) {
    const month = new Date(now - (24 - m) * 30 * DAY);
    const label = month.toISOString().slice(0, 7);
    for (let f = 0; f < 20; f++) {
      const path = `month=${label}/part-${String(f).padStart(3, '0')}.parquet`;
      adds.push({ path, partitionValues: { month: label }, size: SIZE, modificationTime: month.getTime(), dataChange: true });
      times.set(path, month);
    }
  }
  // Recent months were rewritten (compaction): their old files are time-travel only, or expired.
  const removed = (offset: number, daysAgo: number) => adds.slice(offset, offset + 20).map((f) => removeAction(f, false, now - daysAgo * DAY));
  const v0: Action[] = [
    ...newTableActions({
      schemaString: JSON.stringify({ type: 'struct', fields: [{ name: 'month', type: 'string', nullable: true, metadata: {} }] }),
      partitionColumns: ['month'],
      configuration: { 'delta.deletedFileRetentionDuration': 'interval 60 days' },
    }),
    ...adds.map((add) => ({ add })),
  ];
  await store.createIfAbsent(commitPath(0), serialiseCommit(v0));
  await store.createIfAbsent(commitPath(1), serialiseCommit([...removed(440, 10), ...removed(420, 45), ...removed(400, 90)]));
  for (const add of adds) {
    const full = nodePath.join(root, add.path);
    await mkdir(nodePath.dirname(full), { recursive: true });
    await writeFile(full, '');
    await truncate(full, SIZE);
    await utimes(full, times.get(add.path)!, times.get(add.path)!);
  }
  const policy = resolveTieringPolicy('bronze', [{ from: 'sources.cdr.tiering', values: { archiveAfterDays: 365 } }]);
  const plan = await planTableTiering(store, policy, { prices: DEFAULT_PRICES, asOf: new Date(now) });
  return { plan, text: formatPlan({ ...plan, target: 'bronze/cdr (sample, local sparse files)' }, undefined, 3) };
}

/**
 * Run the tiering section.
 *
 * @param options sizes and the Azurite endpoint
 * @returns figures and the sample report
 */
export async function runTieringBench(options: {
  files: number;
  azuriteFiles: number;
  tables: number;
  filesPerTable: number;
  azuriteEndpoint: string;
}): Promise<TieringBenchResult> {
  const root = await mkdtemp(nodePath.join(os.tmpdir(), 'sluice-bench-tiering-'));
  const now = Date.now();
  try {
    const figures: TieringFigure[] = [];
    const local = nodePath.join(root, 'table');
    figures.push(await tableFigure('one table (planTableTiering)', 'local', new LocalStore(local), options.files, () => localTable(local, options.files, now)));
    console.log(`  tiering: ${describe(figures[figures.length - 1])}`);
    const azurite = openStore(`${options.azuriteEndpoint}/tiering-bench/bronze/big`);
    figures.push(
      await tableFigure('one table (planTableTiering)', 'azurite', azurite, options.azuriteFiles, () => azuriteTable(azurite, options.azuriteFiles, now)),
    );
    console.log(`  tiering: ${describe(figures[figures.length - 1])}`);
    figures.push(await lakeFigure(nodePath.join(root, 'lake'), options.tables, options.filesPerTable, now));
    console.log(`  tiering: ${describe(figures[figures.length - 1])}`);
    const sample = await sampleReport(nodePath.join(root, 'sample'), now);
    const c = sample.plan.cost;
    return {
      figures,
      sampleReport: sample.text,
      sample: { bytes: c.byTier.reduce((n, t) => n + t.bytesBefore, 0), monthlyBefore: c.monthlyBefore, monthlyAfter: c.monthlyAfter, currency: c.currency },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function describe(f: TieringFigure): string {
  if (f.error) return `${f.backend} ${f.what}: FAILED: ${f.error}`;
  const parts = f.parts ? ` (snapshot ${f.parts.snapshotMs} ms, listing ${f.parts.listingMs} ms, classify + plan ${f.parts.classifyAndPlanMs} ms)` : '';
  return `${f.backend} ${f.what}, ${f.tables} table(s), ${f.files} files: built in ${f.buildSeconds} s; plan ${f.planMsFastest} ms fastest, ${f.planMsMedian} ms median${parts}; ${f.moves} moves; per plan ${f.calls.list} listings, ${f.calls.read} reads, ${f.calls.properties} property calls`;
}

/**
 * Print the figures and the sample report.
 *
 * @param result the section's result
 * @param printTable the bench's table printer
 */
export function printTieringResults(result: TieringBenchResult, printTable: (title: string, header: string[], rows: (string | number)[][]) => void): void {
  printTable(
    'Tiering plan time (policy moving every live file; store calls per plan made by the tiering code)',
    [
      'what',
      'backend',
      'tables',
      'files',
      'fastest ms',
      'median ms',
      'snapshot ms',
      'listing ms',
      'classify+plan ms',
      'moves',
      'listings',
      'reads',
      'property calls',
    ],
    result.figures.map((f) => [
      f.what,
      f.backend,
      f.tables,
      f.files,
      f.planMsFastest,
      f.planMsMedian,
      f.parts?.snapshotMs ?? '',
      f.parts?.listingMs ?? '',
      f.parts?.classifyAndPlanMs ?? '',
      f.moves,
      f.calls.list,
      f.calls.read,
      f.calls.properties,
    ]),
  );
  console.log(`\nSample cost report (sluice tier plan, bronze defaults + archiveAfterDays 365):\n${result.sampleReport}`);
}
