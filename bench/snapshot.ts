/**
 * Snapshot load with a constant state (`npm run bench -- --section snapshot`, after the growing-log
 * series in bench/run.ts): does the length of a table's history change what loading its latest version
 * costs, when the state itself stays the same size?
 *
 * Each table keeps exactly LIVE_FILES live files at every version: version 0 creates it, version 1 adds
 * LIVE_FILES files, and every later commit removes the oldest live file and adds a new one (an update of
 * a small table). Checkpoints fall on the table's `delta.checkpointInterval` (10) and are written by
 * `checkpointIfDue`, as a committing writer writes them; the table's `delta.deletedFileRetentionDuration`
 * is 0 so a checkpoint keeps no tombstones and holds the same LIVE_FILES adds after 10,000 commits as
 * after 20. The log is written directly (commit files with create-if-absent, then the checkpoints), so
 * building 10,000 versions on Azurite takes minutes rather than hours.
 *
 * Tables of every history length are built first, then loaded in turns (one unreported warm-up load
 * each, then `loads` rounds), so on Azurite, whose in-memory store slows down with every blob it holds,
 * the short and the long history are measured against the same emulator. The figure is the ratio of the
 * longest history's load time to the shortest's, fastest and median, per backend.
 */
import * as nodePath from 'node:path';
import { type Action, type AddFile, type CommitInfo, createTable, loadSnapshot } from '../shared/delta';
import { removeAction, serialiseCommit } from '../shared/delta/actions';
import { checkpointIfDue } from '../shared/delta/checkpoint';
import { commitPath, readLastCheckpoint } from '../shared/delta/log';
import { applyActions, cloneState, type TableState } from '../shared/delta/replay';
import { openStore } from '../shared/storage/location';
import type { ObjectStore } from '../shared/storage/types';
import { WRITER_SCHEMA } from './writers';

/** Live files of every table at every version. */
export const LIVE_FILES = 10;
const CHECKPOINT_INTERVAL = 10;

/** One table's loads. */
export interface ConstantStateFigure {
  backend: 'local' | 'azurite';
  commits: number;
  /** Live files and tombstones of the loaded latest version (checked: LIVE_FILES live). */
  liveFiles: number;
  tombstones: number;
  checkpointVersion: number | null;
  /** Actions in the newest checkpoint (`_last_checkpoint`'s size): protocol, metadata and the adds. */
  checkpointActions: number | null;
  buildSeconds: number;
  loadMsFastest: number;
  loadMsMedian: number;
  loadsMs: number[];
  error?: string;
}

/** Longest history against the shortest, per backend. */
export interface ConstantStateRatio {
  backend: 'local' | 'azurite';
  shortCommits: number;
  longCommits: number;
  fastestRatio: number;
  medianRatio: number;
}

/** What the constant-state series measured. */
export interface ConstantStateResult {
  liveFiles: number;
  checkpointInterval: number;
  figures: ConstantStateFigure[];
  ratios: ConstantStateRatio[];
}

/** Where and how much to measure. */
export interface ConstantStateOptions {
  /** History lengths (commits, version 0 included), e.g. [10, 10000]. */
  commits: number[];
  /** Folder for the local-disk tables. */
  localRoot: string;
  /** Blob endpoint of a running Azurite (no Azurite figures when absent). */
  azuriteEndpoint?: string;
  /** Timed loads per table (after one warm-up load). */
  loads: number;
  /** Time left in the bench's budget; building stops with an error when it is spent. */
  remainingMs: () => number;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The file added at `id` (ids 0..LIVE_FILES-1 at version 1, then one more per commit). */
function fileAt(id: number, time: number): AddFile {
  return {
    path: `part-${String(id).padStart(6, '0')}.parquet`,
    partitionValues: {},
    size: 4096,
    modificationTime: time,
    dataChange: true,
    stats: JSON.stringify({ numRecords: 3, minValues: { writer: 0 }, maxValues: { writer: 0 }, nullCount: { writer: 0 } }),
  };
}

/** Commit `version` ≥ 2: remove the oldest live file (id version − 2), add id version + LIVE_FILES − 2. */
function rotationActions(version: number, time: number): Action[] {
  const commitInfo: CommitInfo = {
    timestamp: time,
    operation: 'WRITE',
    operationParameters: { mode: 'Overwrite', partitionBy: '[]' },
    readVersion: version - 1,
    isBlindAppend: false,
    engineInfo: 'sluice-bench',
  };
  return [{ commitInfo }, removeAction(fileAt(version - 2, time), true, time), { add: fileAt(version + LIVE_FILES - 2, time) }];
}

/** Run `fn` over items with at most `limit` in flight, stopping when the budget is spent. */
async function pool<T>(items: T[], limit: number, remainingMs: () => number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        if (remainingMs() <= 0) throw new Error('time budget spent while building the log');
        await fn(items[next++]);
      }
    }),
  );
}

/** Build a table of `commits` versions whose state holds LIVE_FILES live files throughout. */
async function buildConstantStateTable(store: ObjectStore, commits: number, concurrency: number, remainingMs: () => number): Promise<void> {
  await createTable(store, {
    schema: WRITER_SCHEMA,
    configuration: { 'delta.checkpointInterval': String(CHECKPOINT_INTERVAL), 'delta.deletedFileRetentionDuration': 'interval 0 seconds' },
  });
  // Commit times in the past, one millisecond apart: a tombstone stamped after the checkpoint is
  // written would outlive the zero retention, and how many did would depend on how fast the build ran.
  const now = Date.now() - commits;
  const first: Action[] = [
    { commitInfo: { timestamp: now, operation: 'WRITE', operationParameters: { mode: 'Append' }, readVersion: 0, isBlindAppend: true } },
    ...Array.from({ length: LIVE_FILES }, (_, id) => ({ add: fileAt(id, now) })),
  ];
  await store.createIfAbsent(commitPath(1), serialiseCommit(first), { contentType: 'application/json' });
  const created = await loadSnapshot(store);
  const actionsOf = new Map<number, Action[]>();
  for (let v = 2; v < commits; v++) actionsOf.set(v, rotationActions(v, now + v));
  await pool([...actionsOf.keys()], concurrency, remainingMs, (v) =>
    store.createIfAbsent(commitPath(v), serialiseCommit(actionsOf.get(v)!), { contentType: 'application/json' }),
  );
  // The states a writer would have held at each checkpoint version, replayed in memory.
  const due: TableState[] = [];
  const state = cloneState(created.state);
  for (let v = 2; v < commits; v++) {
    applyActions(state, actionsOf.get(v)!, v);
    if (v % CHECKPOINT_INTERVAL === 0) due.push(cloneState(state));
  }
  await pool(due, concurrency, remainingMs, async (s) => {
    if (!(await checkpointIfDue(store, s))) throw new Error(`checkpoint of version ${s.version} was not written`);
  });
  // Concurrent hint updates may leave _last_checkpoint behind; the newest checkpoint sets it right.
  if (due.length) await checkpointIfDue(store, due[due.length - 1]);
}

/**
 * Build tables of each history length on local disk and on Azurite, then time their loads.
 *
 * @param options history lengths, where, how many loads, the budget
 * @returns figures per table and the long/short ratios per backend
 */
export async function runConstantStateSnapshotBench(options: ConstantStateOptions): Promise<ConstantStateResult> {
  const backends = options.azuriteEndpoint ? (['local', 'azurite'] as const) : (['local'] as const);
  const figures: ConstantStateFigure[] = [];
  const tables: { figure: ConstantStateFigure; store: ObjectStore }[] = [];
  for (const backend of backends) {
    for (const commits of options.commits) {
      const store =
        backend === 'azurite'
          ? openStore(`${options.azuriteEndpoint}/bench-constant-${process.pid}-${commits}/events`)
          : openStore(nodePath.join(options.localRoot, `constant-${commits}`));
      const figure: ConstantStateFigure = {
        backend,
        commits,
        liveFiles: NaN,
        tombstones: NaN,
        checkpointVersion: null,
        checkpointActions: null,
        buildSeconds: NaN,
        loadMsFastest: NaN,
        loadMsMedian: NaN,
        loadsMs: [],
      };
      figures.push(figure);
      const t0 = Date.now();
      try {
        await buildConstantStateTable(store, commits, backend === 'azurite' ? 8 : 16, options.remainingMs);
        const hint = await readLastCheckpoint(store);
        figure.checkpointActions = (hint as { size?: number } | null)?.size ?? null;
        // The warm-up load, and the check that the table is what the figure claims.
        const snapshot = await loadSnapshot(store);
        if (snapshot.version !== commits - 1) throw new Error(`expected version ${commits - 1}, loaded ${snapshot.version}`);
        if (snapshot.state.files.size !== LIVE_FILES) throw new Error(`expected ${LIVE_FILES} live files, loaded ${snapshot.state.files.size}`);
        const expectedCheckpoint = commits - 1 >= CHECKPOINT_INTERVAL ? commits - 1 - ((commits - 1) % CHECKPOINT_INTERVAL) : null;
        if (snapshot.checkpointVersion !== expectedCheckpoint) {
          throw new Error(`expected the load to start from checkpoint ${expectedCheckpoint}, it started from ${snapshot.checkpointVersion}`);
        }
        figure.liveFiles = snapshot.state.files.size;
        figure.tombstones = snapshot.state.tombstones.size;
        figure.checkpointVersion = snapshot.checkpointVersion;
        tables.push({ figure, store });
      } catch (err) {
        figure.error = (err as Error).message.slice(0, 500);
      }
      figure.buildSeconds = round((Date.now() - t0) / 1000, 1);
      console.log(
        `  constant state ${backend.padEnd(7)} ${String(commits).padStart(6)} commits ${figure.error ? `FAILED after ${figure.buildSeconds} s: ${figure.error}` : `built in ${figure.buildSeconds} s`}`,
      );
    }
  }
  // Rounds across the tables, so a burst of other work on the machine hits every table alike.
  for (let round_ = 0; round_ < options.loads; round_++) {
    for (const { figure, store } of tables) {
      const start = performance.now();
      const snapshot = await loadSnapshot(store);
      figure.loadsMs.push(round(performance.now() - start));
      if (snapshot.state.files.size !== LIVE_FILES) throw new Error(`${store.url}: ${snapshot.state.files.size} live files, expected ${LIVE_FILES}`);
    }
  }
  for (const { figure } of tables) {
    figure.loadMsFastest = Math.min(...figure.loadsMs);
    figure.loadMsMedian = median(figure.loadsMs);
  }
  const ratios: ConstantStateRatio[] = [];
  const shortest = Math.min(...options.commits);
  const longest = Math.max(...options.commits);
  for (const backend of backends) {
    const short = figures.find((f) => f.backend === backend && f.commits === shortest);
    const long = figures.find((f) => f.backend === backend && f.commits === longest);
    if (!short || !long || short === long || short.error || long.error) continue;
    ratios.push({
      backend,
      shortCommits: shortest,
      longCommits: longest,
      fastestRatio: round(long.loadMsFastest / short.loadMsFastest, 2),
      medianRatio: round(long.loadMsMedian / short.loadMsMedian, 2),
    });
  }
  return { liveFiles: LIVE_FILES, checkpointInterval: CHECKPOINT_INTERVAL, figures, ratios };
}

/**
 * Print the constant-state figures and ratios.
 *
 * @param result what `runConstantStateSnapshotBench` measured
 * @param printTable the bench's table printer
 */
export function printConstantStateResults(
  result: ConstantStateResult,
  printTable: (title: string, header: string[], rows: (string | number)[][]) => void,
): void {
  printTable(
    `Snapshot load, constant state: ${result.liveFiles} live files at every version, checkpoint every ${result.checkpointInterval} (one warm-up load, then ${result.figures[0]?.loadsMs.length ?? 0} timed)`,
    ['backend', 'commits', 'live files', 'tombstones', 'checkpoint', 'checkpoint actions', 'fastest ms', 'median ms', 'build s'],
    result.figures.map((f) => [
      f.backend,
      f.commits,
      f.liveFiles,
      f.tombstones,
      f.checkpointVersion === null ? 'none' : String(f.checkpointVersion),
      f.checkpointActions === null ? '—' : String(f.checkpointActions),
      f.loadMsFastest,
      f.loadMsMedian,
      f.error ? `FAILED: ${f.error}` : String(f.buildSeconds),
    ]),
  );
  printTable(
    'Snapshot load, constant state: longest history vs shortest (goal ≤ 2×)',
    ['backend', 'histories', 'fastest ratio', 'median ratio'],
    result.ratios.map((r) => [r.backend, `${r.longCommits} vs ${r.shortCommits}`, `${r.fastestRatio}×`, `${r.medianRatio}×`]),
  );
}
