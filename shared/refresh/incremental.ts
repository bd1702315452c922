/**
 * Incremental refresh of a table reading one bronze source: the source versions not yet applied are
 * read (their added files only), transformed, checked, and upserted or appended, in one commit that
 * records the source version in the target's `txn` (appId `sluice-refresh:<source>`).
 *
 * Exactly once: the txn is read before any work, so a refresh whose versions are applied does nothing;
 * the quarantine is written first with the same txn; the table's commit carries the txn, so an attempt
 * that crashed after writing files but before committing leaves only orphan files, and the retry
 * applies the versions once. Two attempts racing end with one commit (the other reports `skipped`).
 */
import type { AddFile } from '../delta/actions';
import { activeFiles, txnVersion, type DeltaField, type DeltaStruct, type Snapshot } from '../delta';
import { PARTITION_TIME_ZONE_KEY } from '../delta/partitions';
import { quoteIdent, registerView, stageFiles, type SqlEngine } from '../sql';
import { commitUpdate, loadIfExists, openOrCreate } from './commit';
import { BUCKETS_PROPERTY, KEY_BUCKET, KEY_HASH, KEYS_PROPERTY } from './contract';
import { emptyMetrics, recordTransform, statsRows } from './metrics';
import type { RefreshRequest, TableUpdateMetrics } from './types';
import { QUARANTINE_SUFFIX, releaseStoredRows, writeQuarantine } from './quarantine';
import { planSourceRead } from './source-changes';
import { loadHook } from './hook';
import { runTransform } from './transform';
import { appendRows, upsertRows, type TableLayout } from './upsert';

/**
 * The txn application id of a target fed by a source.
 *
 * @param source the source (or table) name
 * @returns the appId
 */
export function refreshAppId(source: string): string {
  return `sluice-refresh:${source}`;
}

/**
 * Refresh an incremental table.
 *
 * @param engine an open engine
 * @param request definition, table, lake, options
 * @returns the update's metrics
 */
export async function refreshIncremental(engine: SqlEngine, request: RefreshRequest): Promise<TableUpdateMetrics> {
  const started = Date.now();
  const { definition, lake } = request;
  const table = definition.tables[request.table];
  const sourceName = table.from[0];
  const source = definition.sources[sourceName];
  const store = lake(table.table);
  const existing = await loadIfExists(store);
  const appId = refreshAppId(sourceName);
  const rebuild = request.fullRefresh === true || existing === null;
  const applied = request.fullRefresh || !existing ? -1 : txnVersion(existing, appId);
  const plan = await planSourceRead(sourceName, lake(source.table), applied, table.name, definition.file);
  const metrics = emptyMetrics(table, [
    { name: sourceName, fromVersion: applied, toVersion: plan.toVersion, ...(plan.skippedVersions.length ? { skippedVersions: plan.skippedVersions } : {}) },
  ]);
  metrics.full = rebuild;
  metrics.targetVersion = existing?.version ?? null;
  // Nothing new, or only versions without data changes (compaction): no commit; those versions are
  // skipped again next time, which costs a log read and saves an empty table version.
  if (!request.fullRefresh && !rebuild && plan.files.length === 0) {
    metrics.durationMs = Date.now() - started;
    return metrics;
  }

  const staged = await stageFiles(engine, lake(source.table), plan.files, `source ${sourceName} (${source.table})`);
  const view = {
    schema: plan.snapshot.schema,
    partitionColumns: plan.snapshot.partitionColumns,
    files: staged,
    provenance: true,
    partitionTimeZone: plan.snapshot.metadata.configuration?.[PARTITION_TIME_ZONE_KEY],
  };
  await registerView(engine, 'source', view);
  if (sourceName !== 'source') await engine.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(sourceName)} AS SELECT * FROM source`, `refresh ${table.name}`);
  const [{ n }] = await engine.rows('SELECT count(*) AS n FROM source', `refresh ${table.name}: counting source rows`);
  metrics.rowsRead = Number(n);

  const { contract, outcome, provenance } = await runTransform(engine, table, {
    provenance: true,
    filesTable: '__files_source',
    target: rebuild ? null : existing,
    definitionFile: definition.file,
    hook: table.hook ? await loadHook(definition, table) : undefined,
  });
  // Rows are told apart by their provenance; without it none is released.
  if (provenance && !rebuild && existing) await releaseStoredRows(engine, store, existing, table, contract, outcome);
  recordTransform(metrics, outcome);

  const txns = { [appId]: plan.toVersion };
  const now = request.now?.() ?? new Date();
  const quarantineStore = lake(`${table.table}${QUARANTINE_SUFFIX}`);
  metrics.quarantineVersion = await writeQuarantine(
    engine,
    quarantineStore,
    contract,
    outcome,
    table.pii,
    { table: sourceName, version: plan.toVersion, filesTable: '__files_source' },
    txns,
    now,
    table,
  );

  const keyed = table.keys.length > 0;
  const partitionColumns = keyed ? [...table.partitionBy, KEY_BUCKET] : table.partitionBy;
  const configuration: Record<string, string> = keyed ? { [KEYS_PROPERTY]: JSON.stringify(table.keys), [BUCKETS_PROPERTY]: String(table.buckets) } : {};
  const hidden: DeltaField[] = keyed
    ? [
        { name: KEY_HASH, type: 'long', nullable: true, metadata: {} },
        { name: KEY_BUCKET, type: 'integer', nullable: true, metadata: {} },
      ]
    : [];
  const schema: DeltaStruct =
    rebuild || !existing
      ? { type: 'struct', fields: [...contract.columns, ...hidden] }
      : { type: 'struct', fields: [...existing.schema.fields, ...contract.added] };
  const snapshot: Snapshot = existing ?? (await openOrCreate(store, schema, partitionColumns, configuration));
  const buckets = keyed ? Number(rebuild ? table.buckets : (snapshot.metadata.configuration?.[BUCKETS_PROPERTY] ?? table.buckets)) : 0;
  const live = activeFiles(snapshot);
  const layout: TableLayout = { schema, partitionColumns, existing: rebuild ? [] : live };
  const rows = keyed ? await upsertRows(engine, store, layout, table, buckets) : await appendRows(engine, store, layout, table);
  const removes: AddFile[] = rebuild ? live : rows.removes;

  const result = await commitUpdate(store, {
    snapshot,
    schema,
    adds: rows.adds,
    removes,
    txns,
    operation: keyed ? 'MERGE' : 'WRITE',
    operationParameters: keyed
      ? { predicate: `keys ${table.keys.join(', ')}`, buckets: rows.buckets.length }
      : { mode: rebuild && live.length ? 'Overwrite' : 'Append' },
    readPredicate: rebuild ? 'table' : keyed ? rows.buckets.map((b) => ({ [KEY_BUCKET]: String(b) })) : null,
    commitInfo: {
      sluiceRefresh: { table: table.name, source: sourceName, fromVersion: applied, toVersion: plan.toVersion, full: rebuild },
      ...(rows.changeFile ? { sluiceChanges: { files: [rows.changeFile], rows: rows.changeRows } } : {}),
    },
    ...(rebuild && existing ? { rebuild: { partitionColumns, configuration } } : {}),
  });
  Object.assign(metrics, {
    status: result.skipped ? 'skipped' : 'updated',
    targetVersion: result.version,
    inserted: rows.inserted,
    updated: rows.updated,
    duplicates: rows.duplicates,
    rowsWritten: result.skipped ? 0 : statsRows(rows.adds),
    filesAdded: result.skipped ? 0 : rows.adds.length,
    filesRemoved: result.skipped ? 0 : removes.length,
    filesRewritten: result.skipped ? 0 : rows.removes.length,
    changeRecords: result.skipped ? 0 : rows.changeRows,
    durationMs: Date.now() - started,
  });
  return metrics;
}
