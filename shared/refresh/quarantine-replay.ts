/**
 * Quarantine replay (`sluice quarantine replay <table>`): the rows of `<table>__quarantine` run through
 * the table's current schema contract and expectations again, after a fix to the definition or to the
 * rules. Rows that now pass go to the table (upserted by key or appended, exactly like refreshed rows,
 * change records included so gold follows); rows that still fail stay in the quarantine with their
 * current failures. A row failing a `drop` or `fail` rule also stays: replay only ever moves rows
 * that pass, it never deletes one.
 *
 * The values are read as the quarantine keeps them (text, PII already protected, so not protected
 * again) and cast to the table's types by the contract.
 *
 * Exactly once, in two commits (one per table, as Delta has no cross-table transaction):
 * 1. the table's commit adds the passing rows with a `txn` (appId `sluice-replay:<quarantine path>`,
 *    version = the quarantine version read) and names, in `commitInfo.sluiceReplay`, the quarantine
 *    files consumed and the file written for the rows that stay;
 * 2. the quarantine's commit removes the consumed files and adds that file, with `txn`
 *    (`sluice-replay`, same version).
 * A replay that finds step 1 done and step 2 missing (a crash between them) only finishes step 2 from
 * the table's commit; it never applies the same rows twice. A concurrent refresh appending to the
 * quarantine does not conflict with step 2 (it removes only the files it read).
 */
import type { AddFile } from '../delta/actions';
import { activeFiles, readCommitIfExists, txnVersion, type DeltaStruct, type Snapshot } from '../delta';
import { writeDataFiles } from '../delta/writer';
import { quoteIdent, queryBatches, registerView, stageFiles, withSqlEngine, type SqlEngine } from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import type { TableDefinition } from '../pipeline';
import { ACTION, BATCH, buildBatch, FAILED } from './batch';
import { commitUpdate, loadIfExists } from './commit';
import { BUCKETS_PROPERTY, deriveContract, KEY_BUCKET } from './contract';
import { RefreshError } from './errors';
import type { LakeTables, ReplayRequest, ReplayResult } from './types';
import { QUARANTINE_SUFFIX } from './quarantine';
import { appendRows, upsertRows } from './upsert';

const META = ['_failed_expectations', '_source_table', '_source_version', '_source_file', '_quarantined_at'];

/**
 * The txn application id of a table's replays.
 *
 * @param quarantinePath path of the quarantine table
 * @returns the appId
 */
export function replayAppId(quarantinePath: string): string {
  return `sluice-replay:${quarantinePath}`;
}
const QUARANTINE_APP_ID = 'sluice-replay';

interface ReplayRecord {
  quarantineVersion: number;
  consumed: string[];
  remaining: AddFile[];
}

/**
 * Replay a table's quarantined rows.
 *
 * @param request definition, table, lake
 * @returns counts and versions
 */
export async function replayQuarantine(request: ReplayRequest): Promise<ReplayResult> {
  const table = request.definition.tables[request.table];
  if (!table)
    throw new RefreshError(
      'definition',
      request.table,
      `quarantine replay: no table "${request.table}" in the pipeline (tables: ${Object.keys(request.definition.tables).join(', ')})`,
    );
  if (table.refresh !== 'incremental') {
    throw new RefreshError(
      'definition',
      table.name,
      `quarantine replay: ${table.name} is recomputed from the tables it reads; fix them (or replay their quarantine) and refresh it instead`,
    );
  }
  const qPath = `${table.table}${QUARANTINE_SUFFIX}`;
  const qStore = request.lake(qPath);
  const target = request.lake(table.table);
  const result: ReplayResult = {
    table: table.name,
    quarantineVersion: null,
    rowsRead: 0,
    replayed: 0,
    remaining: 0,
    inserted: 0,
    updated: 0,
    duplicates: 0,
    targetVersion: null,
    quarantineVersionAfter: null,
    resumed: false,
  };
  const quarantine = await loadIfExists(qStore);
  const existing = await loadIfExists(target);
  if (!quarantine) return result;
  result.quarantineVersion = quarantine.version;
  result.quarantineVersionAfter = quarantine.version;
  if (!existing) throw new RefreshError('target-mismatch', table.name, `quarantine replay: table ${table.table} does not exist yet; run the pipeline first`);
  result.targetVersion = existing.version;

  // An earlier replay committed to the table but not to the quarantine: finish it, nothing else.
  const applied = txnVersion(existing, replayAppId(qPath));
  if (applied > txnVersion(quarantine, QUARANTINE_APP_ID)) {
    const record = await findReplayRecord(target, existing, applied);
    result.quarantineVersionAfter = await commitQuarantine(qStore, quarantine, record);
    result.resumed = true;
    return result;
  }

  const files = activeFiles(quarantine);
  if (files.length === 0) return result;
  return withSqlEngine(request.sql ?? {}, async (engine) => {
    const staged = await stageFiles(engine, qStore, files, `quarantine ${qPath}`);
    await registerView(engine, '__quarantine', { schema: quarantine.schema, partitionColumns: quarantine.partitionColumns, files: staged, provenance: true });
    const rowColumns = quarantine.schema.fields.map((f) => f.name).filter((n) => !META.includes(n));
    const original = (stored: string) => (stored.startsWith('_row_') && META.includes(stored.slice(5)) ? stored.slice(5) : stored);
    const sql = `SELECT ${rowColumns.map((c) => `${quoteIdent(c)} AS ${quoteIdent(original(c))}`).join(', ')}, ${FILE_ID_COLUMN}, ${ROW_COLUMN} FROM __quarantine`;
    // Already protected: not hashed or masked again. Only passing rows move; failing ones stay.
    const rules: TableDefinition = {
      ...table,
      pii: {},
      expectations: table.expectations.map((e) => (e.onViolation === 'warn' ? e : { ...e, onViolation: 'quarantine' })),
    };
    const output = (await engine.columns(sql, `quarantine replay of ${table.name}`)).filter((c) => c.name !== FILE_ID_COLUMN && c.name !== ROW_COLUMN);
    const contract = deriveContract(rules, output, existing, request.definition.file);
    const outcome = await buildBatch(engine, { table: rules, sql, output, provenance: true, contract });
    result.rowsRead = outcome.rows;
    result.replayed = outcome.kept;
    result.remaining = outcome.quarantined;
    if (outcome.kept === 0) return result;

    const remaining = await writeRemaining(engine, qStore, quarantine);
    const keyed = table.keys.length > 0;
    const schema: DeltaStruct = { type: 'struct', fields: [...existing.schema.fields, ...contract.added] };
    const layout = { schema, partitionColumns: existing.partitionColumns, existing: activeFiles(existing) };
    const buckets = Number(existing.metadata.configuration?.[BUCKETS_PROPERTY] ?? table.buckets);
    const rows = keyed ? await upsertRows(engine, target, layout, rules, buckets) : await appendRows(engine, target, layout, rules);
    const record: ReplayRecord = { quarantineVersion: quarantine.version, consumed: files.map((f) => f.path), remaining };
    const committed = await commitUpdate(target, {
      snapshot: existing,
      schema,
      adds: rows.adds,
      removes: rows.removes,
      txns: { [replayAppId(qPath)]: quarantine.version },
      operation: keyed ? 'MERGE' : 'WRITE',
      operationParameters: keyed
        ? { predicate: `keys ${table.keys.join(', ')}`, buckets: rows.buckets.length, replay: true }
        : { mode: 'Append', replay: true },
      readPredicate: keyed ? rows.buckets.map((b) => ({ [KEY_BUCKET]: String(b) })) : null,
      commitInfo: { sluiceReplay: record, ...(rows.changeFile ? { sluiceChanges: { files: [rows.changeFile], rows: rows.changeRows } } : {}) },
    });
    Object.assign(result, { inserted: rows.inserted, updated: rows.updated, duplicates: rows.duplicates, targetVersion: committed.version });
    if (committed.skipped) {
      // Another replay of the same quarantine version won: it moves the rows; ours are orphans.
      Object.assign(result, { replayed: 0, inserted: 0, updated: 0, duplicates: 0 });
      return result;
    }
    result.quarantineVersionAfter = await commitQuarantine(qStore, quarantine, record);
    return result;
  });
}

/** Write the rows that still fail, with their lineage and current failures, as new quarantine files. */
async function writeRemaining(engine: SqlEngine, store: ReturnType<LakeTables>, quarantine: Snapshot): Promise<AddFile[]> {
  const schema = quarantine.schema;
  const columns = schema.fields.map((f) => (f.name === '_failed_expectations' ? `b.${FAILED} AS ${quoteIdent(f.name)}` : `q.${quoteIdent(f.name)}`));
  const sql = `SELECT ${columns.join(', ')} FROM ${BATCH} b JOIN __quarantine q ON b.${FILE_ID_COLUMN} = q.${FILE_ID_COLUMN} AND b.${ROW_COLUMN} = q.${ROW_COLUMN}
    WHERE b.${ACTION} = 'quarantine' ORDER BY b.${FILE_ID_COLUMN}, b.${ROW_COLUMN}`;
  return writeDataFiles(
    { store, schema, partitionColumns: quarantine.partitionColumns },
    queryBatches(engine, sql, schema, 'quarantine replay: rows that still fail'),
  );
}

/** Step 2: the consumed files out, the rows that stay in. */
async function commitQuarantine(store: ReturnType<LakeTables>, quarantine: Snapshot, record: ReplayRecord): Promise<number> {
  const live = new Map(activeFiles(quarantine).map((f) => [f.path, f]));
  const result = await commitUpdate(store, {
    snapshot: quarantine,
    schema: quarantine.schema,
    adds: record.remaining,
    removes: record.consumed.map((p) => live.get(p)).filter((f): f is AddFile => f !== undefined),
    txns: { [QUARANTINE_APP_ID]: record.quarantineVersion },
    operation: 'DELETE',
    operationParameters: { replay: true, quarantineVersion: record.quarantineVersion },
    readPredicate: null,
    commitInfo: { sluiceReplay: { quarantineVersion: record.quarantineVersion, removed: record.consumed.length, added: record.remaining.length } },
  });
  return result.version;
}

/** The table commit of the replay of a quarantine version (searched from the newest commit back). */
async function findReplayRecord(store: ReturnType<LakeTables>, snapshot: Snapshot, quarantineVersion: number): Promise<ReplayRecord> {
  for (let v = snapshot.version; v >= Math.max(0, snapshot.version - 1000); v--) {
    const actions = await readCommitIfExists(store, v);
    if (!actions) break;
    for (const a of actions) {
      const record = 'commitInfo' in a ? (a.commitInfo.sluiceReplay as ReplayRecord | undefined) : undefined;
      if (record?.quarantineVersion === quarantineVersion) return record;
    }
  }
  throw new RefreshError(
    'source-history-missing',
    snapshot.table,
    `quarantine replay: the commit that replayed quarantine version ${quarantineVersion} into ${snapshot.table} is no longer in its log, so the quarantine cannot be completed; check the quarantine by hand`,
  );
}
