/**
 * Recompute refresh of a table reading other tables (gold): its SQL runs over the upstream tables'
 * current rows and replaces what it produced before, in one commit carrying a `txn` per upstream
 * table (appId `sluice-refresh:<table>`, version = the upstream version applied).
 *
 * A partitioned table reading one table is recomputed only in the partitions its upstream's changed
 * rows fall in — both their old and new versions (see changes.ts) — when the SQL's shape lets Sluice
 * compute a row's partition from the row (see `partitionExpressions`): the touched partitions are those
 * expressions over the changed rows, the SQL then reads only upstream rows of those partitions, and the
 * commit replaces exactly those partitions (a partition left without rows is emptied). Otherwise, and
 * for the first build, a full refresh or an unpartitioned table, the whole table is recomputed.
 *
 * Upstream tables are exposed to the SQL as `source` (when there is one) and under their own names;
 * their hidden layout columns are not.
 */
import type { AddFile } from '../delta/actions';
import { activeFiles, txnVersion, type DeltaStruct, type Snapshot } from '../delta';
import { latestSnapshot } from '../delta/latest';
import { formatPartitionValue } from '../delta/partitions';
import { readValues } from '../delta/values';
import { matchesPartition } from '../delta/commit';
import { writeDataFiles } from '../delta/writer';
import {
  aggregateFunctions,
  parseQuery,
  partitionExpressions,
  queryBatches,
  queryTable,
  quoteIdent,
  registerView,
  stageFiles,
  withExpressions,
  type SqlEngine,
} from '../sql';
import { ACTION, BATCH } from './batch';
import { changedRows } from './changes';
import { commitUpdate, loadIfExists, openOrCreate } from './commit';
import { HIDDEN_COLUMNS } from './contract';
import { refreshAppId } from './incremental';
import { emptyMetrics, recordTransform, statsRows } from './metrics';
import type { RefreshRequest, TableUpdateMetrics } from './types';
import { protectedColumn } from './pii';
import { QUARANTINE_SUFFIX, writeQuarantine } from './quarantine';
import { loadHook } from './hook';
import { partitionRuns } from './partition-slices';
import { runTransform } from './transform';

/**
 * Refresh a recompute table.
 *
 * @param engine an open engine
 * @param request definition, table, lake, options
 * @returns the update's metrics
 */
export async function refreshRecompute(engine: SqlEngine, request: RefreshRequest): Promise<TableUpdateMetrics> {
  const started = Date.now();
  const { definition, lake } = request;
  const table = definition.tables[request.table];
  const store = lake(table.table);
  const existing = await loadIfExists(store);
  const upstream = await Promise.all(
    table.from.map(async (name) => {
      const snapshot = await latestSnapshot(lake(definition.tables[name].table));
      return { name, snapshot, applied: existing && !request.fullRefresh ? txnVersion(existing, refreshAppId(name)) : -1 };
    }),
  );
  const metrics = emptyMetrics(
    table,
    upstream.map((u) => ({ name: u.name, fromVersion: u.applied, toVersion: u.snapshot.version })),
  );
  metrics.targetVersion = existing?.version ?? null;
  if (existing && !request.fullRefresh && upstream.every((u) => u.snapshot.version <= u.applied)) {
    metrics.durationMs = Date.now() - started;
    return metrics;
  }

  if (existing && !request.fullRefresh) {
    // Upstream versions that changed no data (compaction) need no recompute.
    const changes = await Promise.all(upstream.map((u) => changedRows(u.snapshot.store, u.applied, u.snapshot.version)));
    if (changes.every((c) => c && c.addedFiles.length === 0 && c.changeFiles.length === 0)) {
      metrics.durationMs = Date.now() - started;
      return metrics;
    }
  }
  for (const u of upstream) {
    const staged = await stageFiles(engine, u.snapshot.store, activeFiles(u.snapshot), `table ${u.name}`);
    await registerView(engine, viewName(u.name), {
      schema: u.snapshot.schema,
      partitionColumns: u.snapshot.partitionColumns,
      files: staged,
      hidden: HIDDEN_COLUMNS,
    });
  }
  let touched = false;
  if (existing && !request.fullRefresh && table.partitionBy.length && upstream.length === 1)
    touched = await restrictToChangedPartitions(engine, request, upstream[0]);
  if (!touched && upstream.length === 1)
    await engine.run(`CREATE OR REPLACE TEMP VIEW source AS SELECT * FROM ${quoteIdent(viewName(upstream[0].name))}`, `refresh ${table.name}`);
  metrics.full = !touched;
  const rows = await Promise.all(
    upstream.map(async (u) =>
      Number((await engine.rows(`SELECT count(*) AS n FROM ${upstream.length === 1 ? 'source' : quoteIdent(viewName(u.name))}`, `refresh ${table.name}`))[0].n),
    ),
  );
  metrics.rowsRead = rows.reduce((a, b) => a + b, 0);

  const target = request.fullRefresh ? null : existing;
  const { contract, outcome } = await runTransform(engine, table, {
    provenance: false,
    target,
    definitionFile: definition.file,
    hook: table.hook ? await loadHook(definition, table) : undefined,
  });
  recordTransform(metrics, outcome);
  const txns = Object.fromEntries(upstream.map((u) => [refreshAppId(u.name), u.snapshot.version]));
  metrics.quarantineVersion = await writeQuarantine(
    engine,
    lake(`${table.table}${QUARANTINE_SUFFIX}`),
    contract,
    outcome,
    table.pii,
    { table: upstream[0].name, version: upstream[0].snapshot.version },
    txns,
    request.now?.() ?? new Date(),
  );

  const schema: DeltaStruct = target ? { type: 'struct', fields: [...target.schema.fields, ...contract.added] } : { type: 'struct', fields: contract.columns };
  const snapshot: Snapshot = existing ?? (await openOrCreate(store, schema, table.partitionBy));
  const partitions = touched ? await touchedPartitions(engine, schema, table.partitionBy) : null;
  const inPartitions = touched
    ? ` AND EXISTS (SELECT 1 FROM __touched t WHERE ${table.partitionBy.map((c, i) => `b.${quoteIdent(c)} IS NOT DISTINCT FROM t.p${i}`).join(' AND ')})`
    : '';
  const columns = schema.fields.map((f) => `${protectedColumn(f.name, table.pii, 'b')} AS ${quoteIdent(f.name)}`).join(', ');
  const order = table.partitionBy.length ? ` ORDER BY ${table.partitionBy.map(quoteIdent).join(', ')}` : '';
  const output = queryBatches(
    engine,
    `SELECT ${columns} FROM ${BATCH} b WHERE b.${ACTION} = 'keep'${inPartitions}${order}`,
    schema,
    `refresh ${table.name}: writing rows`,
  );
  const adds = await writeDataFiles({ store, schema, partitionColumns: table.partitionBy }, partitionRuns(output, schema, table.partitionBy));
  const live = activeFiles(snapshot);
  const removes: AddFile[] = partitions ? live.filter((f) => partitions.some((p) => matchesPartition(f.partitionValues, p))) : live;
  const result = await commitUpdate(store, {
    snapshot,
    schema,
    adds,
    removes,
    txns,
    operation: 'WRITE',
    operationParameters: { mode: 'Overwrite', ...(partitions ? { replaceWhere: JSON.stringify(partitions) } : {}) },
    readPredicate: partitions ?? 'table',
    commitInfo: { sluiceRefresh: { table: table.name, sources: metrics.sources, full: !touched } },
    ...(request.fullRefresh && existing ? { rebuild: { partitionColumns: table.partitionBy, configuration: {} } } : {}),
  });
  Object.assign(metrics, {
    status: result.skipped ? 'skipped' : 'updated',
    targetVersion: result.version,
    inserted: result.skipped ? 0 : statsRows(adds),
    rowsWritten: result.skipped ? 0 : statsRows(adds),
    filesAdded: result.skipped ? 0 : adds.length,
    filesRemoved: result.skipped ? 0 : removes.length,
    filesRewritten: result.skipped ? 0 : removes.length,
    partitionsRecomputed: partitions ? partitions.length : null,
    durationMs: Date.now() - started,
  });
  return metrics;
}

function viewName(table: string): string {
  return table.replace(/\./g, '_');
}

/**
 * Make `source` the upstream rows of the partitions the changed rows touch; false when that cannot be
 * worked out (the caller recomputes everything).
 */
async function restrictToChangedPartitions(
  engine: SqlEngine,
  request: RefreshRequest,
  upstream: { name: string; snapshot: Snapshot; applied: number },
): Promise<boolean> {
  const table = request.definition.tables[request.table];
  const changes = await changedRows(upstream.snapshot.store, upstream.applied, upstream.snapshot.version);
  if (!changes) return false;
  const parsed = await parseQuery(engine, table.sql);
  const expressions = partitionExpressions(parsed, table.partitionBy, await aggregateFunctions(engine));
  if (!expressions) return false;
  const { schema, partitionColumns } = upstream.snapshot;
  const visible = schema.fields.filter((f) => !HIDDEN_COLUMNS.includes(f.name));
  const list = visible.map((f) => quoteIdent(f.name)).join(', ');
  const added = await stageFiles(engine, upstream.snapshot.store, changes.addedFiles, `table ${upstream.name}`);
  await registerView(engine, '__changes_added', { schema, partitionColumns, files: added, hidden: HIDDEN_COLUMNS });
  // Change files hold every column (partition columns too) as data.
  const changed = await stageFiles(engine, upstream.snapshot.store, changes.changeFiles, `change records of ${upstream.name}`);
  await registerView(engine, '__changes_rewritten', { schema: { type: 'struct', fields: visible }, partitionColumns: [], files: changed });
  await engine.run(
    `CREATE OR REPLACE TEMP VIEW __changes AS SELECT ${list} FROM __changes_added UNION ALL SELECT ${list} FROM __changes_rewritten`,
    `refresh ${table.name}`,
  );
  const alias = parsed.statement.node.from_table.alias || parsed.statement.node.from_table.table_name || 'source';
  const p = table.partitionBy.map((_, i) => `__p${i}`);
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE __touched AS SELECT DISTINCT ${p.map((c, i) => `${c} AS p${i}`).join(', ')} FROM (${await withExpressions(engine, '__changes', alias, expressions)})`,
    `refresh ${table.name}: finding the partitions of changed rows`,
  );
  const full = `(${await withExpressions(engine, viewName(upstream.name), alias, expressions)})`;
  await engine.run(
    `CREATE OR REPLACE TEMP VIEW source AS SELECT * EXCLUDE (${p.join(', ')}) FROM ${full} AS x WHERE EXISTS (SELECT 1 FROM __touched t WHERE ${p.map((c, i) => `x.${c} IS NOT DISTINCT FROM t.p${i}`).join(' AND ')})`,
    `refresh ${table.name}: reading the changed partitions`,
  );
  return true;
}

/** The touched partitions as Delta partition filters (column → serialised value). */
async function touchedPartitions(engine: SqlEngine, schema: DeltaStruct, partitionBy: string[]): Promise<Record<string, string | null>[]> {
  const fields = partitionBy.map((c) => schema.fields.find((f) => f.name === c)!);
  const values = await queryTable(
    engine,
    `SELECT ${fields.map((f, i) => `p${i} AS ${quoteIdent(f.name)}`).join(', ')} FROM __touched`,
    { type: 'struct', fields },
    'reading the changed partitions',
  );
  const columns = fields.map((f) => readValues(values.getChild(f.name)!, f.type));
  const out: Record<string, string | null>[] = [];
  for (let i = 0; i < values.numRows; i++) out.push(Object.fromEntries(fields.map((f, c) => [f.name, formatPartitionValue(columns[c][i], f.type)])));
  return out;
}
