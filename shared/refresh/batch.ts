/**
 * One update's rows inside DuckDB: the SQL's output cast to the schema contract, every expectation
 * evaluated, and each row's fate decided — in one temporary table (`__batch`), so nothing leaves the
 * engine until the update is known to be valid.
 *
 * Per row:
 * - `_sluice_failed`: the rules it violates, in definition order: `contract:<column>` (its value could
 *   not be cast to the column's type; the text is kept in `_sluice_raw_<i>`), `not_null:<key>` (a null
 *   key), then expectation names (a check that is false; NULL passes, as in a CHECK constraint);
 * - `_sluice_action`: `fail` if it violates a `fail` expectation; else `quarantine` if it violates the
 *   contract or a `quarantine` expectation; else `drop` if it violates a `drop` expectation; else `keep`
 *   (`warn` violations are only counted).
 *
 * A `fail` violation throws before anything is written, naming the expectation and one sample row
 * (PII protected) with the file and version it came from.
 */
import type { ExpectationDefinition, OnViolation, TableDefinition } from '../pipeline';
import { quoteIdent, quoteLiteral, type SqlColumn, type SqlEngine, duckType } from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import type { Contract } from './contract';
import { completenessOf, mandatoryRules } from './metrics';
import type { BatchOutcome } from './types';
import { ExpectationFailedError } from './errors';
import { protectedColumn } from './pii';

/** Name of the batch table. */
export const BATCH = '__batch';
/** Column listing the rules a row violates. */
export const FAILED = '_sluice_failed';
/** Column holding the row's fate. */
export const ACTION = '_sluice_action';
/** SQL: the row violates the schema contract (a value that did not cast, a null key). */
export const CONTRACT_RULE = `len(list_filter(${FAILED}, x -> x LIKE 'contract:%' OR x LIKE 'not_null:%')) > 0`;

/** What to build the batch from. */
export interface BatchSpec {
  table: TableDefinition;
  /** The query (provenance columns included when `provenance`). */
  sql: string;
  /** The query's columns, provenance excluded. */
  output: SqlColumn[];
  provenance: boolean;
  contract: Contract;
  /** Side table mapping file ids to paths and versions (for samples), when rows carry provenance. */
  filesTable?: string;
}

/**
 * Create `__batch` and count what it holds; throw if a `fail` expectation is violated.
 *
 * @param engine the engine (the query's views registered)
 * @param spec query, contract, definition
 * @returns counts
 */
export async function buildBatch(engine: SqlEngine, spec: BatchSpec): Promise<BatchOutcome> {
  const { table, contract } = spec;
  const rawColumns = new Map<string, string>();
  const typed: string[] = [];
  const rules: string[] = [];
  contract.columns.forEach((field, i) => {
    const target = duckType(field.type);
    const source = spec.output.find((o) => o.name === field.name);
    const ref = `__raw.${quoteIdent(field.name)}`;
    if (!source) typed.push(`NULL::${target} AS ${quoteIdent(field.name)}`);
    else if (source.type.toString() === target) typed.push(`${ref} AS ${quoteIdent(field.name)}`);
    else {
      const raw = `_sluice_raw_${i}`;
      rawColumns.set(field.name, raw);
      typed.push(`TRY_CAST(${ref} AS ${target}) AS ${quoteIdent(field.name)}`);
      typed.push(`CASE WHEN ${ref} IS NOT NULL AND TRY_CAST(${ref} AS ${target}) IS NULL THEN CAST(${ref} AS VARCHAR) END AS ${raw}`);
      rules.push(`CASE WHEN ${raw} IS NOT NULL THEN ${quoteLiteral(`contract:${field.name}`)} END`);
    }
  });
  for (const key of table.keys) {
    const raw = rawColumns.get(key);
    rules.push(`CASE WHEN ${quoteIdent(key)} IS NULL${raw ? ` AND ${raw} IS NULL` : ''} THEN ${quoteLiteral(`not_null:${key}`)} END`);
  }
  for (const e of table.expectations) rules.push(`CASE WHEN (${e.check}) IS FALSE THEN ${quoteLiteral(e.name)} END`);
  typed.push(spec.provenance ? `__raw.${FILE_ID_COLUMN}, __raw.${ROW_COLUMN}` : `NULL::INTEGER AS ${FILE_ID_COLUMN}, NULL::BIGINT AS ${ROW_COLUMN}`);

  const names = (action: OnViolation) =>
    `[${table.expectations
      .filter((e) => e.onViolation === action)
      .map((e) => quoteLiteral(e.name))
      .join(', ')}]::VARCHAR[]`;
  const contractRule = CONTRACT_RULE;
  const action = `CASE WHEN list_has_any(${FAILED}, ${names('fail')}) THEN 'fail' WHEN ${contractRule} OR list_has_any(${FAILED}, ${names('quarantine')}) THEN 'quarantine' WHEN list_has_any(${FAILED}, ${names('drop')}) THEN 'drop' ELSE 'keep' END`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${BATCH} AS
     WITH __raw AS (${spec.sql}\n),
     __typed AS (SELECT ${typed.join(', ')} FROM __raw),
     __checked AS (SELECT *, list_filter([${rules.join(', ')}]::VARCHAR[], x -> x IS NOT NULL) AS ${FAILED} FROM __typed)
     SELECT *, ${action} AS ${ACTION} FROM __checked`,
    `refresh ${table.name}: running the SQL and the expectations`,
  );

  const counts = [
    'count(*) AS "rows"',
    `count(*) FILTER (WHERE ${contractRule}) AS "contract"`,
    `count(*) FILTER (WHERE ${ACTION} = 'quarantine') AS "quarantined"`,
    `count(*) FILTER (WHERE ${ACTION} = 'drop') AS "dropped"`,
    `count(*) FILTER (WHERE ${ACTION} = 'keep') AS "kept"`,
    `count(*) FILTER (WHERE ${ACTION} = 'keep' AND list_has_any(${FAILED}, ${names('warn')})) AS "warned"`,
    ...table.expectations.map((e, i) => `count(*) FILTER (WHERE list_contains(${FAILED}, ${quoteLiteral(e.name)})) AS "e${i}"`),
  ];
  const mandatory = mandatoryRules(table);
  if (mandatory.length)
    counts.push(`count(*) FILTER (WHERE NOT list_has_any(${FAILED}, [${mandatory.map(quoteLiteral).join(', ')}]::VARCHAR[])) AS "complete"`);
  const [row] = await engine.rows(`SELECT ${counts.join(', ')} FROM ${BATCH}`, `refresh ${table.name}: counting expectation results`);
  const n = (key: string) => Number(row[key] ?? 0);
  const outcome: BatchOutcome = {
    rows: n('rows'),
    expectations: table.expectations.map((e, i) => ({
      name: e.name,
      check: e.check,
      onViolation: e.onViolation,
      failed: n(`e${i}`),
      passed: n('rows') - n(`e${i}`),
    })),
    contractViolations: n('contract'),
    quarantined: n('quarantined'),
    dropped: n('dropped'),
    warned: n('warned'),
    kept: n('kept'),
    rawColumns,
    ...(mandatory.length ? { completeness: completenessOf(mandatory, n('complete'), n('rows')) } : {}),
  };
  const failed = outcome.expectations.find((e) => e.onViolation === 'fail' && e.failed > 0);
  if (failed)
    throw await failure(
      engine,
      spec,
      table.expectations.find((e) => e.name === failed.name)!,
      failed.failed,
    );
  return outcome;
}

async function failure(engine: SqlEngine, spec: BatchSpec, expectation: ExpectationDefinition, violations: number): Promise<ExpectationFailedError> {
  const { table, contract } = spec;
  const fields = contract.columns.map((f) => `${quoteLiteral(f.name)}, ${protectedColumn(f.name, table.pii, 'b')}`).join(', ');
  const lineage = spec.filesTable
    ? `, f.path AS "file", f.version AS "version" FROM ${BATCH} b LEFT JOIN ${quoteIdent(spec.filesTable)} f ON b.${FILE_ID_COLUMN} = f.file_id`
    : `, NULL AS "file", NULL AS "version" FROM ${BATCH} b`;
  const [sample] = await engine.rows(
    `SELECT CAST(to_json(json_object(${fields})) AS VARCHAR) AS "row"${lineage} WHERE list_contains(b.${FAILED}, ${quoteLiteral(expectation.name)}) ORDER BY b.${FILE_ID_COLUMN}, b.${ROW_COLUMN} LIMIT 1`,
    `refresh ${table.name}: reading a row that fails ${expectation.name}`,
  );
  const row = JSON.parse(String(sample.row)) as Record<string, unknown>;
  const where = sample.file ? { _source_file: sample.file, _source_version: Number(sample.version) } : {};
  return new ExpectationFailedError(table.name, expectation.name, expectation.check, violations, { ...row, ...where });
}
