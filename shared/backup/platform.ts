/**
 * The backup of the whole platform, as the backup timer runs it, and its restore into an empty
 * account: every table of the served pipelines, the pipeline definitions, the Table Storage state
 * (ingestion ledger, event log) as NDJSON, and an index saying what was backed up when, at which
 * versions. Layout under the backup location:
 *
 * ```
 * tables/<table path>/          one backup per table (a Delta table + _sluice_backup/manifests/)
 * definitions/<run>/<file>      the definition files as the app loaded them
 * state/<run>/<Table>.ndjson    SluiceLedger, SluiceEvents
 * index/<run>.json              the run: tables and versions, definitions, state, retention, problems
 * ```
 *
 * Order makes the restored set consistent: a silver or gold table records in its log (txn actions)
 * the versions of the tables it applied, so downstream tables are backed up before the tables they
 * read (gold, then silver, then bronze): a restored table never claims to have applied a version its
 * source does not have. The ledger is exported before bronze: an entry the backup misses is repaired
 * from the bronze commit naming the file, never the other way round. Tables of one level (none reads
 * another) are backed up a few at once, each with its copies bounded too, since a Copy Blob From URL
 * holds its request open until the copy is done and one table's copies alone leave the service idle.
 */
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { TableClient } from '@azure/data-tables';
import { NotATableError } from '../delta/errors';
import { QUARANTINE_SUFFIX } from '../refresh/quarantine';
import { Catalog, CatalogStore, rebuildCatalog } from '../catalog';
import { parsePipelineDefinition, type PipelineDefinition } from '../pipeline';
import { CATALOG_TABLE, EVENTS_TABLE, LEDGER_TABLE } from '../storage/lake-layout';
import { openFolder } from '../storage/folder';
import type { ObjectStore } from '../storage/types';
import { backupTable, type BackupResult } from './backup';
import { forEachLimit } from './copy-version';
import { BackupError } from './errors';
import { restoreBackup } from './restore';
import { pruneBackup, type PruneResult, type RetentionPolicy } from './retention';
import { exportTableEntities, importTableEntities } from './table-storage';

/** Where a platform backup reads from, or a restore writes to. */
export interface PlatformLake {
  /** Open a path of the lake container (`bronze/pos_sales`). */
  lake: (path: string) => ObjectStore;
  /** Table Storage client of the lake account, by table name. */
  tables: (name: string) => TableClient;
}

/** The Table Storage tables a platform backup carries. */
export const STATE_TABLES = [LEDGER_TABLE, EVENTS_TABLE] as const;

/** One table of a run. */
export interface RunTable {
  /** Path in the lake container. */
  path: string;
  /** The version backed up (null: no table there yet, or it failed). */
  version: number | null;
  previousVersion: number | null;
  copied: number;
  bytesCopied: number;
  unchanged: boolean;
  retention?: Pick<PruneResult, 'removed' | 'refused'>;
  /** Why it was not backed up. */
  error?: string;
  /** Why there was nothing to back up (no table yet). */
  skipped?: string;
}

/** The index record of one backup run (`index/<run>.json`). */
export interface PlatformRun {
  format: 'sluice-platform-backup';
  formatVersion: 1;
  run: string;
  startedAt: string;
  finishedAt: string;
  /** True when every table, definition and state table was backed up. */
  complete: boolean;
  tables: RunTable[];
  /** Definition files, relative to `definitions/<run>/`. */
  definitions: string[];
  state: { table: string; entities: number; path: string }[];
  retention: RetentionPolicy;
  problems: string[];
}

/** What a platform backup covers. */
export interface PlatformBackupOptions {
  pipelines: readonly PipelineDefinition[];
  /** Folder the definitions' `file` paths are relative to (the app root). */
  appRoot: string;
  retention: RetentionPolicy;
  now?: () => Date;
  /** Copies at once per table (default `DEFAULT_BACKUP_COPY_CONCURRENCY`). */
  concurrency?: number;
  /** Tables backed up at once among those no other table waits on (default `DEFAULT_BACKUP_TABLE_CONCURRENCY`). */
  tableConcurrency?: number;
}

/** Copies at once per table: Copy Blob From URL is synchronous, so each copy holds one request open. */
export const DEFAULT_BACKUP_COPY_CONCURRENCY = 16;
/** Tables backed up at once: with 16 copies each, 64 requests in flight, well inside an account's limits. */
export const DEFAULT_BACKUP_TABLE_CONCURRENCY = 4;

/**
 * The lake paths of every table of the pipelines in backup levels: downstream first (gold before the
 * silver tables it reads, silver before bronze), each table's quarantine table in its table's level.
 * A table never reads another of its own level, so a level's tables may be backed up at once; a level
 * starts only once the one before it is done.
 *
 * @param pipelines the definitions
 * @returns the levels, in backup order, each a list of paths
 */
export function platformTableLevels(pipelines: readonly PipelineDefinition[]): string[][] {
  const depth = new Map<string, { path: string; depth: number }>();
  for (const p of pipelines) {
    for (const source of Object.values(p.sources)) depth.set(`${p.name ?? p.file}:${source.name}`, { path: source.table, depth: 0 });
    const tables = Object.values(p.tables);
    const depthOf = (name: string, seen: Set<string>): number => {
      const table = p.tables[name];
      if (!table || seen.has(name)) return 0;
      seen.add(name);
      return 1 + Math.max(0, ...table.from.map((f) => depthOf(f, seen)));
    };
    for (const t of tables) depth.set(`${p.name ?? p.file}:${t.name}`, { path: t.table, depth: depthOf(t.name, new Set()) });
  }
  const ordered = [...depth.values()].sort((a, b) => b.depth - a.depth || (a.path < b.path ? -1 : 1));
  // A path two pipelines name (one's gold read as the other's source) goes where it is deepest.
  const seen = new Set<string>();
  const levels: { depth: number; paths: string[] }[] = [];
  for (const { path, depth: d } of ordered) {
    if (seen.has(path)) continue;
    seen.add(path);
    let level = levels[levels.length - 1];
    if (!level || level.depth !== d) levels.push((level = { depth: d, paths: [] }));
    if (d > 0) level.paths.push(`${path}${QUARANTINE_SUFFIX}`);
    level.paths.push(path);
  }
  return levels.map((l) => l.paths);
}

/**
 * The lake paths of every table of the pipelines, in backup order (`platformTableLevels` one after
 * the other).
 *
 * @param pipelines the definitions
 * @returns the paths, in backup order
 */
export function platformTables(pipelines: readonly PipelineDefinition[]): string[] {
  return platformTableLevels(pipelines).flat();
}

/**
 * Back up the platform to a location.
 *
 * @param source the lake and its Table Storage
 * @param target store rooted at the backup location
 * @param options pipelines, app root, retention
 * @returns the run's index record (also written to `index/<run>.json`)
 */
export async function backupPlatform(source: PlatformLake, target: ObjectStore, options: PlatformBackupOptions): Promise<PlatformRun> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const run = startedAt.toISOString().replace(/:/g, '-');
  const problems: string[] = [];

  const state: PlatformRun['state'] = [];
  for (const name of STATE_TABLES) {
    const path = `state/${run}/${name}.ndjson`;
    try {
      state.push({ table: name, entities: await exportTableEntities(source.tables(name), target, path), path });
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }

  const definitions: string[] = [];
  for (const pipeline of options.pipelines) {
    if (!pipeline.file) continue;
    const relative = pipeline.file
      .split(nodePath.sep)
      .join('/')
      .replace(/^(\.\.\/)+/, '');
    try {
      await target.write(`definitions/${run}/${relative}`, await fs.readFile(nodePath.resolve(options.appRoot, pipeline.file)));
      definitions.push(relative);
    } catch (err) {
      problems.push(`definition ${pipeline.file}: ${(err as Error).message}`);
    }
  }

  const tables: RunTable[] = [];
  for (const level of platformTableLevels(options.pipelines)) {
    const done = new Map<string, RunTable>();
    await forEachLimit(level, options.tableConcurrency ?? DEFAULT_BACKUP_TABLE_CONCURRENCY, async (path) => {
      done.set(path, await backupOneTable(source, target, path, options, now, problems));
    });
    // The index lists tables in backup order, whichever finished first.
    for (const path of level) tables.push(done.get(path)!);
  }

  const record: PlatformRun = {
    format: 'sluice-platform-backup',
    formatVersion: 1,
    run,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    complete: problems.length === 0,
    tables,
    definitions,
    state,
    retention: options.retention,
    problems,
  };
  await target.write(`index/${run}.json`, JSON.stringify(record, null, 1), { contentType: 'application/json' });
  return record;
}

/** Back up one table of a platform run and apply the retention; problems are collected, not thrown. */
async function backupOneTable(
  source: PlatformLake,
  target: ObjectStore,
  path: string,
  options: PlatformBackupOptions,
  now: () => Date,
  problems: string[],
): Promise<RunTable> {
  const backup = tableBackup(target, path);
  let result: BackupResult;
  try {
    result = await backupTable(source.lake(path), backup, { concurrency: options.concurrency ?? DEFAULT_BACKUP_COPY_CONCURRENCY, now });
  } catch (err) {
    if (err instanceof NotATableError) {
      return { path, version: null, previousVersion: null, copied: 0, bytesCopied: 0, unchanged: true, skipped: 'no table yet' };
    }
    problems.push(`table ${path}: ${(err as Error).message}`);
    return { path, version: null, previousVersion: null, copied: 0, bytesCopied: 0, unchanged: false, error: (err as Error).message };
  }
  const entry: RunTable = {
    path,
    version: result.version,
    previousVersion: result.previousVersion,
    copied: result.copied,
    bytesCopied: result.bytesCopied,
    unchanged: result.unchanged,
  };
  try {
    const pruned = await pruneBackup(backup, options.retention, now());
    entry.retention = { removed: pruned.removed, refused: pruned.refused };
  } catch (err) {
    problems.push(`retention of ${path}: ${(err as Error).message}`);
  }
  return entry;
}

/** Store rooted at one table's backup inside the platform backup location. */
export function tableBackup(root: ObjectStore, path: string): ObjectStore {
  return openFolder(root, `tables/${path}`);
}

/**
 * The runs of a platform backup, oldest first.
 *
 * @param root store rooted at the backup location
 * @returns run ids
 */
export async function platformRuns(root: ObjectStore): Promise<string[]> {
  const runs: string[] = [];
  for await (const info of root.list('index/')) {
    const m = /^index\/([^/]+)\.json$/.exec(info.path);
    if (m) runs.push(m[1]);
  }
  return runs.sort();
}

/**
 * Read a run's index record.
 *
 * @param root store rooted at the backup location
 * @param run the run id
 * @returns the record
 */
export async function readPlatformRun(root: ObjectStore, run: string): Promise<PlatformRun> {
  const record = JSON.parse(new TextDecoder().decode(await root.read(`index/${run}.json`))) as PlatformRun;
  if (record?.format !== 'sluice-platform-backup') throw new BackupError(`${root.url}/index/${run}.json is not a Sluice platform backup record`);
  return record;
}

/** What `restorePlatform` did. */
export interface PlatformRestoreResult {
  backup: string;
  run: string;
  tables: { path: string; version: number }[];
  state: { table: string; entities: number }[];
  /** The catalog rebuilt from the restored tables: entries written (tables, folders not Delta), and definitions it could not take owners, tags and descriptions from. */
  catalog: { tables: number; notDelta: number; definitionsNotRead?: string[] };
  /** Where the definitions were written, when asked. */
  definitions: string[];
}

/**
 * Restore a platform backup into an empty lake: every table at the version the run backed up, the
 * Table Storage state, the catalog rebuilt from the restored tables (with what the backed-up
 * definitions say of them), and (optionally) the definition files into a local folder.
 *
 * @param root store rooted at the backup location
 * @param target the lake and Table Storage to restore into
 * @param options the run (default: the newest complete one), where to write the definitions
 * @returns what was restored
 * @throws BackupError when there is no such run, or a table exists already in the target
 */
export async function restorePlatform(
  root: ObjectStore,
  target: PlatformLake,
  options: { run?: string; definitionsTo?: string } = {},
): Promise<PlatformRestoreResult> {
  const runs = await platformRuns(root);
  if (!runs.length) throw new BackupError(`restore from ${root.url}: no platform backup there (no index/<run>.json)`);
  let record: PlatformRun | undefined;
  if (options.run) {
    if (!runs.includes(options.run)) throw new BackupError(`restore from ${root.url}: no run ${options.run}; runs: ${runs.join(', ')}`);
    record = await readPlatformRun(root, options.run);
  } else {
    for (const run of [...runs].reverse()) {
      const candidate = await readPlatformRun(root, run);
      if (candidate.complete) {
        record = candidate;
        break;
      }
    }
    if (!record) throw new BackupError(`restore from ${root.url}: no complete backup run; runs: ${runs.join(', ')} (choose one with --run)`);
  }
  const tables: PlatformRestoreResult['tables'] = [];
  // Sources first, the reverse of the backup order, so a half-done restore never has gold ahead of silver.
  for (const t of [...record.tables].reverse()) {
    if (t.version === null) continue;
    await restoreBackup(tableBackup(root, t.path), target.lake(t.path), { version: t.version });
    tables.push({ path: t.path, version: t.version });
  }
  const state: PlatformRestoreResult['state'] = [];
  for (const s of record.state) state.push({ table: s.table, entities: await importTableEntities(target.tables(s.table), root, s.path) });
  const definitions: string[] = [];
  const pipelines: PipelineDefinition[] = [];
  const unread: string[] = [];
  for (const file of record.definitions) {
    const text = await root.read(`definitions/${record.run}/${file}`);
    if (options.definitionsTo) {
      const to = nodePath.join(options.definitionsTo, ...file.split('/'));
      await fs.mkdir(nodePath.dirname(to), { recursive: true });
      await fs.writeFile(to, text);
      definitions.push(to);
    }
    // A definition this version cannot read costs the catalog its annotations, not the restore.
    try {
      pipelines.push(parsePipelineDefinition(new TextDecoder().decode(text), file));
    } catch (err) {
      unread.push(`${file}: ${(err as Error).message}`);
    }
  }
  // The catalog is derived from the tables, so it is rebuilt rather than carried: the app lists,
  // searches and charts the restored tables from the first request, at the versions restored.
  const catalog = new Catalog({ store: new CatalogStore(target.tables(CATALOG_TABLE)), lake: target.lake, pipelines: () => pipelines });
  const rebuilt = await rebuildCatalog(catalog, target.lake(''));
  return {
    backup: root.url,
    run: record.run,
    tables,
    state,
    catalog: { tables: rebuilt.tables, notDelta: rebuilt.notDelta, ...(unread.length ? { definitionsNotRead: unread } : {}) },
    definitions,
  };
}
