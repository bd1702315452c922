/**
 * Reading pipeline SQL without running it, through DuckDB's own parser (`json_serialize_sql`), so the
 * checks agree exactly with what will run:
 *
 * - `parseQuery` accepts exactly one SELECT statement and reports a syntax error with its line and
 *   column in the SQL text;
 * - `isRowLevel` tells whether a query maps each input row to at most one output row (a projection and
 *   filter over one table: no aggregates, grouping, DISTINCT, windows, LIMIT or set operations) — only
 *   then can output rows carry their input file and row position, which `addColumns` appends;
 * - `partitionExpressions` finds, for a gold table's partition columns, the row-level expressions that
 *   compute them from the source rows, so the partitions a set of changed rows touches can be computed
 *   and the recompute can read only the rows of those partitions.
 *
 * The AST is DuckDB's JSON form; only the few node shapes used here are typed.
 */
import { quoteIdent, quoteLiteral, type SqlEngine } from './engine';

/** An expression node of DuckDB's serialized AST. */
export interface ExprNode {
  class: string;
  type: string;
  alias: string;
  column_names?: string[];
  function_name?: string;
  [key: string]: unknown;
}

/** A SELECT node of DuckDB's serialized AST. */
export interface SelectNode {
  type: string;
  modifiers: { type: string }[];
  cte_map: { map: unknown[] };
  select_list: ExprNode[];
  from_table: { type: string; table_name?: string; alias?: string; [key: string]: unknown };
  where_clause: ExprNode | null;
  group_expressions: ExprNode[];
  group_sets: unknown[];
  aggregate_handling: string;
  having: ExprNode | null;
  qualify: ExprNode | null;
  sample: unknown;
  [key: string]: unknown;
}

/** A parsed single SELECT statement. */
export interface ParsedQuery {
  sql: string;
  /** The statement as DuckDB serializes it (`{ node, named_param_map }`). */
  statement: { node: SelectNode; [key: string]: unknown };
}

/** The SQL does not parse; `line`/`column` locate the error inside the SQL text (1-based). */
export class SqlParseError extends Error {
  readonly line?: number;
  readonly column?: number;
  constructor(message: string, line?: number, column?: number) {
    super(message);
    this.name = 'SqlParseError';
    this.line = line;
    this.column = column;
  }
}

/**
 * Parse a query: exactly one SELECT statement.
 *
 * @param engine the engine
 * @param sql the query text
 * @returns the parsed statement
 * @throws SqlParseError with the position of a syntax error
 */
export async function parseQuery(engine: SqlEngine, sql: string): Promise<ParsedQuery> {
  const [row] = await engine.rows(`SELECT json_serialize_sql(${quoteLiteral(sql)}) AS j`, 'parsing SQL');
  // "No location" is 2^64-1, which JSON numbers cannot hold; it would not survive the round trip.
  const result = JSON.parse(String(row.j).replace(/"query_location":\d{17,}/g, '"query_location":0')) as {
    error: boolean;
    error_message?: string;
    position?: string;
    statements?: ParsedQuery['statement'][];
  };
  if (result.error) {
    const message = result.error_message ?? 'does not parse';
    if (/only select statements/i.test(message)) throw new SqlParseError('must be a single SELECT query (a statement of another kind was found)');
    const position = result.position === undefined ? undefined : Number(result.position);
    if (position === undefined || !Number.isFinite(position)) throw new SqlParseError(message);
    // An error "at end of input" points past trailing blank lines (YAML block scalars end with one).
    const before = sql.slice(0, Math.min(position, sql.trimEnd().length)).split('\n');
    throw new SqlParseError(message, before.length, before[before.length - 1].length + 1);
  }
  if (!result.statements || result.statements.length !== 1)
    throw new SqlParseError(`must be exactly one SELECT query, found ${result.statements?.length ?? 0} statements`);
  return { sql, statement: result.statements[0] };
}

/**
 * Turn a (modified) statement back into SQL text.
 *
 * @param engine the engine
 * @param statement the statement
 * @returns SQL text
 */
export async function toSql(engine: SqlEngine, statement: ParsedQuery['statement']): Promise<string> {
  const json = JSON.stringify({ error: false, statements: [statement] });
  const [row] = await engine.rows(`SELECT json_deserialize_sql(${quoteLiteral(json)}) AS s`, 'rewriting SQL');
  return String(row.s);
}

/**
 * Every column name the query refers to (the last part of each column reference).
 *
 * @param query the parsed query
 * @returns the names
 */
export function referencedColumns(query: ParsedQuery): Set<string> {
  const out = new Set<string>();
  walk(query.statement, (node) => {
    if (node.class === 'COLUMN_REF' && Array.isArray(node.column_names)) out.add(node.column_names[node.column_names.length - 1]);
  });
  return out;
}

const aggregateNames = new WeakMap<SqlEngine, Promise<Set<string>>>();

/**
 * Names of DuckDB's aggregate functions (cached per engine).
 *
 * @param engine the engine
 * @returns lower-case names
 */
export function aggregateFunctions(engine: SqlEngine): Promise<Set<string>> {
  let names = aggregateNames.get(engine);
  if (!names) {
    names = engine
      .rows(`SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions() WHERE function_type = 'aggregate'`, 'listing aggregate functions')
      .then((rows) => new Set(rows.map((r) => String(r.name))));
    aggregateNames.set(engine, names);
  }
  return names;
}

/**
 * Whether each output row of the query comes from exactly one input row of one table.
 *
 * @param query the parsed query
 * @param aggregates aggregate function names
 * @returns true for a plain projection/filter over one base table
 */
export function isRowLevel(query: ParsedQuery, aggregates: Set<string>): boolean {
  const node = query.statement.node;
  if (node.type !== 'SELECT_NODE' || node.from_table?.type !== 'BASE_TABLE') return false;
  if (node.cte_map.map.length || node.group_expressions.length || node.group_sets.length || node.having || node.qualify || node.sample) return false;
  if (node.aggregate_handling !== 'STANDARD_HANDLING') return false;
  if (node.modifiers.some((m) => m.type !== 'ORDER_MODIFIER')) return false;
  return !node.select_list.some((e) => hasAggregateOrWindow(e, aggregates));
}

function hasAggregateOrWindow(expr: unknown, aggregates: Set<string>): boolean {
  let found = false;
  walk(expr, (node) => {
    if (node.class === 'WINDOW' || node.class === 'SUBQUERY') found = true;
    if (node.class === 'FUNCTION' && typeof node.function_name === 'string' && aggregates.has(node.function_name.toLowerCase())) found = true;
  });
  return found;
}

/**
 * The query with columns of its (single) input table appended to its select list.
 *
 * @param engine the engine
 * @param query a row-level query (see `isRowLevel`)
 * @param columns column names to append
 * @returns SQL text
 */
export async function addColumns(engine: SqlEngine, query: ParsedQuery, columns: string[]): Promise<string> {
  const statement = structuredClone(query.statement);
  const alias = statement.node.from_table.alias || statement.node.from_table.table_name!;
  for (const name of columns) statement.node.select_list.push({ class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', column_names: [alias, name] });
  return toSql(engine, statement);
}

/**
 * The query with each top-level `CAST(x AS T)` of its select list replaced by `x` (keeping the output
 * column's name), so the caller can apply the cast itself with TRY_CAST and treat a value that does not
 * convert as a contract violation instead of a failed query.
 *
 * @param query a row-level query (see `isRowLevel`)
 * @param outputNames the query's output column names, by position
 * @returns the rewritten statement, or null when the select list has no plain CAST
 */
export function withoutTopLevelCasts(query: ParsedQuery, outputNames: string[]): ParsedQuery['statement'] | null {
  const list = query.statement.node.select_list;
  if (list.some((e) => e.class === 'STAR') || list.length !== outputNames.length) return null;
  let changed = false;
  const statement = structuredClone(query.statement);
  statement.node.select_list = statement.node.select_list.map((e, i) => {
    if (e.class !== 'CAST' || e.try_cast) return e;
    changed = true;
    return { ...(e.child as ExprNode), alias: outputNames[i] };
  });
  return changed ? statement : null;
}

/**
 * The row-level expressions that compute a query's partition columns from its input rows, when the
 * query's shape guarantees that every output row of a partition comes only from input rows whose
 * expressions give that partition: one base table, no CTE, set operation, window, LIMIT, sample or
 * QUALIFY, and each partition column selected by a plain expression (no aggregate or subquery).
 *
 * @param query the parsed query
 * @param partitionColumns the output's partition columns
 * @param aggregates aggregate function names
 * @returns one expression per partition column, or null when the shape does not allow it
 */
export function partitionExpressions(query: ParsedQuery, partitionColumns: string[], aggregates: Set<string>): ExprNode[] | null {
  const node = query.statement.node;
  if (node.type !== 'SELECT_NODE' || node.from_table?.type !== 'BASE_TABLE') return null;
  if (node.cte_map.map.length || node.qualify || node.sample) return null;
  if (node.modifiers.some((m) => m.type === 'LIMIT_MODIFIER' || m.type === 'LIMIT_PERCENT_MODIFIER')) return null;
  let window = false;
  walk(node.select_list, (n) => {
    if (n.class === 'WINDOW') window = true;
  });
  if (window) return null;
  const out: ExprNode[] = [];
  for (const column of partitionColumns) {
    const item = node.select_list.find(
      (e) => e.alias === column || (!e.alias && e.class === 'COLUMN_REF' && e.column_names?.[e.column_names.length - 1] === column),
    );
    if (!item || hasAggregateOrWindow(item, aggregates)) return null;
    out.push(item);
  }
  return out;
}

/**
 * SQL selecting every column of `table` plus the given expressions as `__p0`, `__p1`, …
 *
 * @param engine the engine
 * @param table the table or view name
 * @param alias the alias the expressions use for the table (the query's FROM alias)
 * @param expressions expression nodes
 * @returns SQL text
 */
export async function withExpressions(engine: SqlEngine, table: string, alias: string, expressions: ExprNode[]): Promise<string> {
  const base = await parseQuery(engine, `SELECT * FROM ${quoteIdent(table)} AS ${quoteIdent(alias)}`);
  expressions.forEach((e, i) => base.statement.node.select_list.push({ ...structuredClone(e), alias: `__p${i}` }));
  return toSql(engine, base.statement);
}

function walk(value: unknown, visit: (node: ExprNode) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const node = value as ExprNode;
  if (typeof node.class === 'string') visit(node);
  for (const child of Object.values(node)) if (child && typeof child === 'object') walk(child, visit);
}
