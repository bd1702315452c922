/**
 * Column-level lineage of a silver/gold table, derived from its SQL as DuckDB parses it
 * (`json_serialize_sql`, the parser the refresh itself runs): for each output column, the input
 * tables' columns its expression reads, and whether it copies one (`identity`), computes from some row
 * by row (`expression`) or aggregates (`aggregate`). Every answer is marked `derived: "sql"`.
 *
 * It is derived from the parse tree, not from a bound plan, so it stops where the tree alone cannot
 * tell: `SELECT *` over an input whose columns are unknown (no Delta table yet), a table function,
 * a column name that more than one input has, a scalar subquery or a name the tree does not resolve.
 * Those cases give `derived: false` with the reason, for the table or for the one column, rather
 * than a guess. A table with a `hook` is not derived either: the hook may change any column after
 * the SQL. PII-tagged columns say how they are protected.
 *
 * The names the SQL reads are the refresh's views: `source` and the source name (incremental), or
 * `source` (one input) and each input's name with `.` → `_` (recompute).
 */
import { loadSnapshot } from '../delta';
import type { PipelineDefinition, TableDefinition } from '../pipeline';
import type { LakeTables } from '../refresh/types';
import { aggregateFunctions, parseQuery, SqlParseError, withSqlEngine, type ExprNode, type SqlEngine, type SqlEngineOptions } from '../sql';

/** One input column an output column reads. */
export interface ColumnInput {
  /** Table path in the lake container. */
  table: string;
  column: string;
}

/** How an output column is made from its inputs. */
export type ColumnTransformation = 'identity' | 'expression' | 'aggregate';

/** One output column's lineage. */
export type ColumnLineageEntry =
  | { name: string; derived: 'sql'; inputs: ColumnInput[]; transformation: ColumnTransformation; pii?: string }
  | { name: string; derived: false; reason: string };

/** A table's column lineage, or why there is none. */
export type TableColumnLineage = { derived: 'sql'; columns: ColumnLineageEntry[] } | { derived: false; reason: string };

/** The columns of an input table (by its name in the pipeline), or null when unknown. */
export type InputColumns = (input: string) => Promise<string[] | null>;

/** The tree does not say; the message is the reason given. */
class NotDerivable extends Error {}

interface Origin {
  input: string;
  column: string;
}

interface Column {
  name: string;
  origins: Origin[];
  transformation: ColumnTransformation;
  /** Set when this column alone cannot be traced. */
  reason?: string;
}

/** A relation in scope: a named input, a subquery or a CTE. */
interface Relation {
  alias: string;
  /** Known output columns; null for an input whose columns are unknown (any name resolves to it). */
  columns: Column[] | null;
  /** For an input: its pipeline name. */
  input?: string;
}

/** One query's context: CTEs visible, aggregate names, how view names map to inputs. */
interface Context {
  ctes: Map<string, { node: Record<string, unknown>; columns?: Column[] }>;
  aggregates: Set<string>;
  views: Map<string, string>;
  inputColumns: InputColumns;
}

const RANK: Record<ColumnTransformation, number> = { identity: 0, expression: 1, aggregate: 2 };
const widest = (a: ColumnTransformation, b: ColumnTransformation) => (RANK[a] >= RANK[b] ? a : b);

/**
 * The view names a table's SQL may read, lower-cased, and the input each stands for.
 *
 * @param table the table
 * @returns view name → input name
 */
export function viewNames(table: TableDefinition): Map<string, string> {
  const views = new Map<string, string>();
  if (table.from.length === 1) views.set('source', table.from[0]);
  for (const from of table.from) views.set((table.refresh === 'incremental' ? from : from.replace(/\./g, '_')).toLowerCase(), from);
  return views;
}

/**
 * Column lineage of one silver/gold table.
 *
 * @param engine an engine (only its parser is used)
 * @param definition the pipeline
 * @param tableName the table's name in it
 * @param inputColumns the columns of an input, for `SELECT *` (null when unknown)
 * @returns the lineage, or why it cannot be derived
 */
export async function columnLineage(
  engine: SqlEngine,
  definition: PipelineDefinition,
  tableName: string,
  inputColumns: InputColumns,
): Promise<TableColumnLineage> {
  const table = definition.tables[tableName];
  if (!table) throw new Error(`no table ${tableName} in the pipeline`);
  if (table.hook) return { derived: false, reason: `the hook ${table.hook} may change any column after the SQL` };
  let statement;
  try {
    statement = (await parseQuery(engine, table.sql)).statement;
  } catch (err) {
    if (err instanceof SqlParseError) return { derived: false, reason: `the SQL does not parse: ${err.message}` };
    throw err;
  }
  const context: Context = { ctes: new Map(), aggregates: await aggregateFunctions(engine), views: viewNames(table), inputColumns };
  let columns: Column[];
  try {
    columns = await queryColumns(statement.node as unknown as Record<string, unknown>, context);
  } catch (err) {
    if (err instanceof NotDerivable) return { derived: false, reason: err.message };
    throw err;
  }
  const pathOf = (input: string) => definition.sources[input]?.table ?? definition.tables[input]?.table ?? input;
  return {
    derived: 'sql',
    columns: columns.map((c): ColumnLineageEntry => {
      if (c.reason) return { name: c.name, derived: false, reason: c.reason };
      const seen = new Set<string>();
      const inputs = c.origins
        .map((o) => ({ table: pathOf(o.input), column: o.column }))
        .filter((i) => !seen.has(`${i.table}\u0000${i.column}`) && !!seen.add(`${i.table}\u0000${i.column}`));
      const pii = table.pii[c.name];
      return {
        name: c.name,
        derived: 'sql',
        inputs,
        // A protected column no longer holds its input's values as they were.
        transformation: pii && c.transformation === 'identity' ? 'expression' : c.transformation,
        ...(pii ? { pii } : {}),
      };
    }),
  };
}

async function queryColumns(node: Record<string, unknown>, outer: Context): Promise<Column[]> {
  const context: Context = { ...outer, ctes: new Map(outer.ctes) };
  const map = ((node.cte_map as { map?: { key: string; value: { query: { node: Record<string, unknown> } } }[] } | undefined)?.map ?? []) as {
    key: string;
    value: { query: { node: Record<string, unknown> } };
  }[];
  for (const { key, value } of map) context.ctes.set(key.toLowerCase(), { node: value.query.node });
  if (node.type === 'SET_OPERATION_NODE') {
    const left = await queryColumns(node.left as Record<string, unknown>, context);
    const right = await queryColumns(node.right as Record<string, unknown>, context);
    if (left.length !== right.length) throw new NotDerivable('the two sides of a set operation have different column counts');
    return left.map((c, i) => ({
      name: c.name,
      origins: [...c.origins, ...right[i].origins],
      transformation: widest(c.transformation, right[i].transformation),
      ...(c.reason || right[i].reason ? { reason: c.reason ?? right[i].reason } : {}),
    }));
  }
  if (node.type !== 'SELECT_NODE') throw new NotDerivable(`a ${String(node.type).toLowerCase()} query is not traced`);
  const scope: Relation[] = [];
  const using = new Set<string>();
  await relations(node.from_table as Record<string, unknown>, context, scope, using);
  const out: Column[] = [];
  for (const item of node.select_list as ExprNode[]) {
    if (item.class === 'STAR') {
      out.push(...star(item, scope));
      continue;
    }
    const name = item.alias || (item.class === 'COLUMN_REF' && item.column_names ? item.column_names[item.column_names.length - 1] : '');
    try {
      const { origins, transformation } = expression(item, scope, using, context);
      // Under GROUP BY a plain column is a group key: still the input's values, so still `identity`.
      out.push({ name: name || `column ${out.length + 1}`, origins, transformation });
    } catch (err) {
      if (!(err instanceof NotDerivable)) throw err;
      out.push({ name: name || `column ${out.length + 1}`, origins: [], transformation: 'expression', reason: err.message });
    }
  }
  return out;
}

async function relations(from: Record<string, unknown> | null, context: Context, scope: Relation[], using: Set<string>): Promise<void> {
  if (!from) return;
  switch (from.type) {
    case 'EMPTY':
      return;
    case 'BASE_TABLE': {
      const name = String(from.table_name);
      const alias = String(from.alias || name);
      const cte = context.ctes.get(name.toLowerCase());
      if (cte && !from.schema_name) {
        // Resolved in the CTE's own scope (without itself: CTEs here are not recursive).
        const inner: Context = { ...context, ctes: new Map([...context.ctes].filter(([k]) => k !== name.toLowerCase())) };
        cte.columns ??= await queryColumns(cte.node, inner);
        scope.push({ alias, columns: cte.columns.map((c) => ({ ...c })) });
        return;
      }
      const input = from.schema_name ? undefined : context.views.get(name.toLowerCase());
      if (!input)
        throw new NotDerivable(`the SQL reads ${from.schema_name ? `${String(from.schema_name)}.` : ''}${name}, which is not one of the table's inputs`);
      const names = await context.inputColumns(input);
      scope.push({ alias, input, columns: names ? names.map((column) => ({ name: column, origins: [{ input, column }], transformation: 'identity' })) : null });
      return;
    }
    case 'SUBQUERY': {
      const columns = await queryColumns((from.subquery as { node: Record<string, unknown> }).node, context);
      const renamed = (from.column_name_alias as string[] | undefined) ?? [];
      scope.push({ alias: String(from.alias ?? ''), columns: columns.map((c, i) => (renamed[i] ? { ...c, name: renamed[i] } : c)) });
      return;
    }
    case 'JOIN': {
      await relations(from.left as Record<string, unknown>, context, scope, using);
      await relations(from.right as Record<string, unknown>, context, scope, using);
      for (const c of (from.using_columns as string[] | undefined) ?? []) using.add(c.toLowerCase());
      return;
    }
    default:
      throw new NotDerivable(`the SQL reads from a ${String(from.type).toLowerCase().replace(/_/g, ' ')}, which is not traced`);
  }
}

function star(item: ExprNode, scope: Relation[]): Column[] {
  if (item.columns) throw new NotDerivable('COLUMNS(…) expressions are not traced');
  if ((item.replace_list as unknown[] | undefined)?.length || (item.rename_list as unknown[] | undefined)?.length)
    throw new NotDerivable('SELECT * REPLACE/RENAME is not traced');
  const relation = String(item.relation_name ?? '');
  const from = relation ? scope.filter((r) => r.alias.toLowerCase() === relation.toLowerCase()) : scope;
  const exclude = new Set(((item.exclude_list as unknown[] | undefined) ?? []).map((e) => String(Array.isArray(e) ? e[e.length - 1] : e).toLowerCase()));
  const out: Column[] = [];
  for (const r of from) {
    if (!r.columns) throw new NotDerivable(`SELECT * over ${r.input ?? r.alias}, whose columns are not known yet (it has no table)`);
    for (const c of r.columns) if (!exclude.has(c.name.toLowerCase())) out.push({ ...c });
  }
  return out;
}

function expression(item: ExprNode, scope: Relation[], using: Set<string>, context: Context): { origins: Origin[]; transformation: ColumnTransformation } {
  if (item.class === 'COLUMN_REF') {
    const column = resolve(item.column_names ?? [], scope, using);
    return { origins: column.origins, transformation: column.transformation };
  }
  const origins: Origin[] = [];
  let transformation: ColumnTransformation = 'expression';
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    const node = value as ExprNode;
    if (node.class === 'SUBQUERY') throw new NotDerivable('a subquery inside the expression is not traced');
    if (node.class === 'LAMBDA') throw new NotDerivable('a lambda inside the expression is not traced');
    if (node.class === 'COLUMN_REF') {
      const column = resolve(node.column_names ?? [], scope, using);
      origins.push(...column.origins);
      if (column.transformation === 'aggregate') transformation = 'aggregate';
      return;
    }
    if (node.class === 'FUNCTION' && typeof node.function_name === 'string' && context.aggregates.has(node.function_name.toLowerCase()))
      transformation = 'aggregate';
    for (const child of Object.values(node)) if (child && typeof child === 'object') visit(child);
  };
  visit(item);
  return { origins, transformation };
}

function resolve(names: string[], scope: Relation[], using: Set<string>): Column {
  if (names.length === 0) throw new NotDerivable('a column reference without a name');
  // `alias.column` when the first part names a relation; otherwise a column (and struct fields after it).
  const qualified = names.length > 1 ? scope.filter((r) => r.alias.toLowerCase() === names[0].toLowerCase()) : [];
  const column = qualified.length ? names[1] : names[0];
  const candidates = qualified.length ? qualified : scope;
  const matches: Column[] = [];
  const open: Relation[] = [];
  for (const r of candidates) {
    if (!r.columns) open.push(r);
    else {
      const found = r.columns.find((c) => c.name.toLowerCase() === column.toLowerCase());
      if (found) matches.push(found);
    }
  }
  if (matches.length === 0 && open.length === 1) return { name: column, origins: [{ input: open[0].input!, column }], transformation: 'identity' };
  if (matches.length === 1 && open.length === 0) {
    if (matches[0].reason) throw new NotDerivable(matches[0].reason);
    return matches[0];
  }
  if (matches.length > 1 && open.length === 0 && using.has(column.toLowerCase()))
    return { name: column, origins: matches.flatMap((m) => m.origins), transformation: 'identity' };
  if (matches.length + open.length === 0) throw new NotDerivable(`${names.join('.')} names no column of the query's inputs`);
  throw new NotDerivable(`${names.join('.')} may come from more than one input`);
}

/** Answers kept per table, SQL and input schemas (parsing opens a DuckDB); the oldest go first. */
const CACHE_LIMIT = 1024;
const cache = new Map<string, TableColumnLineage>();

/**
 * Column lineage of several tables; `SELECT *` is expanded with the inputs' current Delta schemas (an
 * input without a table yet leaves it underived, with the reason). An answer is kept for as long as
 * the table's definition and its inputs' columns stay the same, and one engine parses the rest.
 *
 * @param tables the tables: their pipeline and name
 * @param lake the lake (input schemas)
 * @param sql engine options
 * @returns one answer per table, in order
 */
export async function tablesColumnLineage(
  tables: readonly { definition: PipelineDefinition; table: string }[],
  lake: LakeTables,
  sql: SqlEngineOptions = {},
): Promise<TableColumnLineage[]> {
  const schemas = new Map<string, Promise<string[] | null>>();
  const columnsAt = (path: string) => {
    let found = schemas.get(path);
    if (!found) {
      found = Promise.resolve()
        .then(() => loadSnapshot(lake(path)))
        .then(
          (s) => s.schema.fields.map((f) => f.name),
          (err: Error) => {
            if (err.name === 'NotATableError') return null;
            throw err;
          },
        );
      schemas.set(path, found);
    }
    return found;
  };
  const pathOf = (definition: PipelineDefinition, input: string) => definition.sources[input]?.table ?? definition.tables[input]?.table ?? input;
  const keys = await Promise.all(
    tables.map(async ({ definition, table }) => {
      const t = definition.tables[table];
      const inputs = t ? await Promise.all(t.from.map((input) => columnsAt(pathOf(definition, input)))) : [];
      return JSON.stringify([definition.name, definition.file, table, t?.sql, t?.hook, t?.pii, t?.from, inputs]);
    }),
  );
  const missing = tables.map((_, i) => i).filter((i) => !cache.has(keys[i]));
  if (missing.length) {
    await withSqlEngine({ memoryLimit: '128MB', ...sql, threads: 1 }, async (engine) => {
      for (const i of missing) {
        const { definition, table } = tables[i];
        const found = await columnLineage(engine, definition, table, (input) => columnsAt(pathOf(definition, input)));
        if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
        cache.set(keys[i], found);
      }
    });
  }
  return keys.map((k) => cache.get(k)!);
}
