/**
 * The SQL checks of a pipeline definition, run once at load (`sluice pipeline validate`, start-up):
 * every table's SQL is parsed and bound by DuckDB against the schema of what it reads, in dependency
 * order, which gives each table's output columns; then expectations, `orderBy`, keys, `sequenceBy`,
 * `partitionBy` and PII tags are checked against those columns, and hook modules must exist.
 *
 * What the schema of a bronze source is: its table's schema when the table exists in the lake (exact);
 * otherwise the source's `schemaHints` plus the columns ingestion adds (`_rescued_data`, `_ingested_at`,
 * `_source_file`, …), with any other column the SQL names assumed to exist as a string. In that case the
 * SQL is still parsed, but a binding error (a type mismatch that may disappear once the real types are
 * known) is only reported as a note, not a problem. A silver/gold table's schema is what its SQL
 * produces (its table in the lake is not consulted: the definition is the authority).
 *
 * Problems carry the YAML path (and line) of what is wrong, as the structural checks do.
 */
import { existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { loadSnapshot, NotATableError, type DeltaField, type DeltaStruct } from '../delta';
import { storableName } from '../formats/names';
import { parseHint } from '../formats/options';
import { FILE_METADATA_FIELDS, RESCUED_FIELD } from '../ingest/columns';
import { EVENT_METADATA_FIELDS } from '../ingest/event-rows';
import { PipelineDefinitionError, type DefinitionProblem, type PipelineDefinition, type TableDefinition } from '../pipeline';
import {
  deltaSchemaOf,
  parseQuery,
  quoteIdent,
  referencedColumns,
  registerView,
  SqlParseError,
  withSqlEngine,
  type SqlColumn,
  type SqlEngine,
  type SqlEngineOptions,
} from '../sql';
import { FILE_ID_COLUMN, ROW_COLUMN } from '../sql/source';
import type { LakeTables } from './types';
import { piiActionOf } from './pii';

/** Options for the SQL checks. */
export interface CheckOptions {
  /** The lake, to read the schemas of bronze tables that exist. */
  lake?: LakeTables;
  sql?: SqlEngineOptions;
}

/** What the checks found out. */
export interface CheckResult {
  /** Output schema of each table whose SQL could be bound. */
  schemas: Record<string, DeltaStruct>;
  /** Things not checked, and why. */
  notes: string[];
}

/**
 * Check every table's SQL, expectations and column references.
 *
 * @param definition a structurally valid definition
 * @param options lake and engine options
 * @returns output schemas and notes
 * @throws PipelineDefinitionError listing every problem with its YAML path
 */
export async function checkPipelineSql(definition: PipelineDefinition, options: CheckOptions = {}): Promise<CheckResult> {
  const problems: DefinitionProblem[] = [];
  const result: CheckResult = { schemas: {}, notes: [] };
  const fail = (path: string, message: string) => problems.push({ path, message, line: lineOf(definition, path) });
  await withSqlEngine(options.sql ?? {}, async (engine) => {
    for (const table of dependencyOrder(definition)) {
      await checkTable(engine, definition, table, options, result, fail);
    }
  });
  if (problems.length) throw new PipelineDefinitionError(problems, definition.file);
  return result;
}

/** The line of a path, or of its nearest ancestor the loader recorded (list items have none of their own). */
function lineOf(definition: PipelineDefinition, path: string): number | undefined {
  for (let p = path; p; p = p.replace(/(\[\d+\]|\.[^.[\]]*)$/, '')) {
    const line = definition.lines?.[p];
    if (line !== undefined) return line;
    if (!/(\[\d+\]|\.[^.[\]]*)$/.test(p)) break;
  }
  return undefined;
}

function dependencyOrder(definition: PipelineDefinition): TableDefinition[] {
  const out: TableDefinition[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !definition.tables[name]) return;
    seen.add(name);
    for (const from of definition.tables[name].from) visit(from);
    out.push(definition.tables[name]);
  };
  for (const name of Object.keys(definition.tables)) visit(name);
  return out;
}

/** A bronze source's schema, and whether it is exact. */
async function sourceSchema(definition: PipelineDefinition, name: string, options: CheckOptions): Promise<{ schema: DeltaStruct; exact: boolean }> {
  const source = definition.sources[name];
  if (options.lake) {
    try {
      return { schema: (await loadSnapshot(options.lake(source.table))).schema, exact: true };
    } catch (err) {
      if (!(err instanceof NotATableError)) throw err;
    }
  }
  // A hint may name the original column (`Order Date`, `date d/M/yyyy`): bronze stores it under its safe name, as a date.
  const fields: DeltaField[] = Object.entries(source.schemaHints).map(([column, hint]) => ({
    name: storableName(column, 0),
    type: parseHint(column, hint).type,
    nullable: true,
    metadata: {},
  }));
  const system = [RESCUED_FIELD, ...(source.eventHub ? EVENT_METADATA_FIELDS : FILE_METADATA_FIELDS)];
  for (const f of system) if (!fields.some((g) => g.name === f.name)) fields.push(f);
  return { schema: { type: 'struct', fields }, exact: false };
}

async function checkTable(
  engine: SqlEngine,
  definition: PipelineDefinition,
  table: TableDefinition,
  options: CheckOptions,
  result: CheckResult,
  fail: (path: string, message: string) => void,
): Promise<void> {
  const at = `tables.${table.name}`;
  if (table.hook) {
    const base = definition.file ? nodePath.dirname(definition.file) : process.cwd();
    if (!existsSync(nodePath.resolve(base, table.hook))) fail(`${at}.hook`, `module ${table.hook} does not exist (paths are relative to the definition file)`);
  }
  let parsed;
  try {
    parsed = await parseQuery(engine, table.sql);
  } catch (err) {
    if (!(err instanceof SqlParseError)) throw err;
    fail(`${at}.sql`, `SQL does not parse${err.line ? ` (line ${err.line} of the SQL, column ${err.column})` : ''}: ${err.message}`);
    return;
  }
  // Register what the SQL reads as empty views with the right columns.
  let exact = true;
  if (table.refresh === 'incremental') {
    const { schema, exact: known } = await sourceSchema(definition, table.from[0], options);
    exact = known;
    const fields = [...schema.fields];
    if (!known) {
      for (const column of referencedColumns(parsed))
        if (!fields.some((f) => f.name === column)) fields.push({ name: column, type: 'string', nullable: true, metadata: {} });
    }
    await registerView(engine, 'source', { schema: { type: 'struct', fields }, partitionColumns: [], files: [], provenance: true });
    if (table.from[0] !== 'source') await engine.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(table.from[0])} AS SELECT * FROM source`);
  } else {
    for (const from of table.from) {
      const schema = result.schemas[from];
      if (!schema) {
        result.notes.push(`${at}.sql: not bound, because ${from}'s SQL could not be bound`);
        return;
      }
      await registerView(engine, from.replace(/\./g, '_'), { schema, partitionColumns: [], files: [] });
    }
    if (table.from.length === 1) await engine.run(`CREATE OR REPLACE TEMP VIEW source AS SELECT * FROM ${quoteIdent(table.from[0].replace(/\./g, '_'))}`);
  }
  let output: SqlColumn[];
  try {
    output = (await engine.columns(table.sql)).filter((c) => c.name !== FILE_ID_COLUMN && c.name !== ROW_COLUMN);
  } catch (err) {
    const message = (err as Error).message.replace(/^sql: /, '');
    if (exact) fail(`${at}.sql`, `SQL does not bind against ${table.from.join(', ')}: ${message}`);
    else
      result.notes.push(
        `${at}.sql: parsed but not bound: source ${table.from[0]} has no table yet and its columns are not all in schemaHints (${message.split('\n')[0]})`,
      );
    return;
  }
  const names = output.map((c) => c.name);
  for (const name of names) {
    if (name.startsWith('__') || name.startsWith('_sluice_') || (table.keys.length && (name === '_key_hash' || name === '_key_bucket'))) {
      fail(`${at}.sql`, `the SQL produces column "${name}", a name Sluice reserves (_sluice_*, __*, _key_hash, _key_bucket); rename it`);
    }
  }
  const lists: [string, string[]][] = [
    ['keys', table.keys],
    ['sequenceBy', table.sequenceBy],
    ['partitionBy', table.partitionBy],
  ];
  for (const [key, columns] of lists) {
    columns.forEach((column, i) => {
      if (!names.includes(column))
        fail(`${at}.${key}${Array.isArray(table.raw[key]) ? `[${i}]` : ''}`, `column "${column}" is not an output column of the SQL (${names.join(', ')})`);
    });
  }
  for (const column of Object.keys(table.pii))
    if (!names.includes(column)) fail(`${at}.pii.${column}`, `column "${column}" is not an output column of the SQL (${names.join(', ')})`);
  // A comment on no column would vanish from the catalog without a word: a typo shows here instead.
  for (const column of Object.keys(table.comments ?? {}))
    if (!names.includes(column)) fail(`${at}.comments.${column}`, `column "${column}" is not an output column of the SQL (${names.join(', ')})`);
  await engine.run(`CREATE OR REPLACE TEMP VIEW __output AS ${table.sql}`);
  for (const e of table.expectations) {
    const path = `${at}.expectations.${e.name}.check`;
    const problem = await bindProblem(engine, `SELECT (${e.check}) AS ok FROM __output`);
    if (!problem) continue;
    if (exact) {
      fail(path, `${problem} (expectations see the output columns: ${names.join(', ')})`);
      continue;
    }
    // Types are guessed: report only what does not depend on them.
    try {
      const unknown = [...referencedColumns(await parseQuery(engine, `SELECT (${e.check})`))].filter((c) => !names.includes(c));
      if (unknown.length)
        fail(
          path,
          `names column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')}, not an output column of the SQL (${names.join(', ')})`,
        );
      else result.notes.push(`${path}: not bound (the source's column types are not known yet): ${problem}`);
    } catch (err) {
      fail(path, `does not parse: ${(err as Error).message}`);
    }
  }
  if (table.orderBy) {
    const problem = await bindProblem(engine, `SELECT 1 FROM __output ORDER BY ${table.orderBy}`);
    if (problem) fail(`${at}.orderBy`, problem);
  }
  try {
    const schema = deltaSchemaOf(output);
    for (const field of schema.fields) if (piiActionOf(table.pii, field.name)) field.type = 'string';
    result.schemas[table.name] = schema;
  } catch (err) {
    fail(`${at}.sql`, (err as Error).message);
  }
}

/** Why a statement does not parse or bind, or null when it does. */
async function bindProblem(engine: SqlEngine, sql: string): Promise<string | null> {
  try {
    await parseQuery(engine, sql);
    await engine.columns(sql);
    return null;
  } catch (err) {
    return (err as Error).message.replace(/^sql: /, '').split('\n')[0];
  }
}
