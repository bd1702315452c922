/**
 * TypeScript hooks: what SQL cannot say, written as a function over Arrow record batches.
 *
 * A table's `hook:` names a module (relative to the definition file) whose default export (or export
 * named `transform`) takes one record batch of the SQL's output and returns the batch to keep (or
 * several, or none), sync or async:
 *
 *     import type { RecordBatch } from 'apache-arrow';
 *     export default function (batch: RecordBatch, context: { table: string; source: string }) { … }
 *
 * The hook runs between the SQL and the schema contract: its output is checked, deduplicated and
 * stored like the SQL's would be. Batches carry the provenance columns `_sluice_file` and `_sluice_row`
 * when the SQL is row-level; a hook that keeps them keeps quarantine lineage and arrival order. Each
 * call gets at most 65,536 rows. The module is loaded with `import()`: compiled JavaScript in Azure,
 * TypeScript where a TypeScript loader (tsx, vitest) is active.
 */
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import * as arrow from 'apache-arrow';
import { deltaToArrowSchema } from '../delta';
import { encodeParquet } from '../delta/parquet';
import type { PipelineDefinition, TableDefinition } from '../pipeline';
import { deltaSchemaOf, queryBatches, quoteLiteral, type SqlEngine } from '../sql';
import { RefreshError } from './errors';
import { writeFileFrom } from '../storage/file-sink';

/** What a hook is told about the batch. */
export interface HookContext {
  /** The table being refreshed. */
  table: string;
  /** What it reads (source or table names). */
  source: string;
}

/** A hook function. */
export type BatchHook = (
  batch: arrow.RecordBatch,
  context: HookContext,
) => arrow.RecordBatch | arrow.RecordBatch[] | null | undefined | Promise<arrow.RecordBatch | arrow.RecordBatch[] | null | undefined>;

/**
 * Load a table's hook.
 *
 * @param definition the pipeline (its file locates the module)
 * @param table the table
 * @returns the function
 */
export async function loadHook(definition: PipelineDefinition, table: TableDefinition): Promise<BatchHook> {
  const base = definition.file ? nodePath.dirname(nodePath.resolve(definition.file)) : process.cwd();
  const path = nodePath.resolve(base, table.hook!);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new RefreshError('definition', table.name, `refresh ${table.name}: tables.${table.name}.hook: cannot load ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const candidates = [module.default, (module.default as Record<string, unknown> | undefined)?.default, module.transform];
  const hook = candidates.find((c) => typeof c === 'function');
  if (!hook)
    throw new RefreshError(
      'definition',
      table.name,
      `refresh ${table.name}: tables.${table.name}.hook: ${path} exports no function (export a default function or one named transform)`,
    );
  return hook as BatchHook;
}

let hooked = 0;

/**
 * Run the SQL's output through the hook into a Parquet file of the run folder.
 *
 * @param engine the engine
 * @param sql the query whose output the hook receives
 * @param hook the hook
 * @param context table and source names
 * @returns SQL reading the hook's output
 */
export async function applyHook(engine: SqlEngine, sql: string, hook: BatchHook, context: HookContext): Promise<string> {
  const where = `refresh ${context.table}: hook`;
  const schema = deltaSchemaOf(await engine.columns(sql, where));
  async function* output(): AsyncGenerator<arrow.RecordBatch> {
    let seen = false;
    let produced = false;
    for await (const batch of queryBatches(engine, sql, schema, where)) {
      seen = true;
      for (const out of await call(batch)) {
        produced = true;
        yield out;
      }
    }
    // An empty input still tells the hook's output schema.
    if (!seen) {
      for (const out of await call(emptyBatch(deltaToArrowSchema(schema)))) {
        produced = true;
        yield out;
      }
    }
    if (!produced) yield emptyBatch(deltaToArrowSchema(schema));
  }
  async function call(batch: arrow.RecordBatch): Promise<arrow.RecordBatch[]> {
    let result;
    try {
      result = await hook(batch, context);
    } catch (err) {
      throw new RefreshError('definition', context.table, `${where} failed: ${(err as Error).message}`, { cause: err });
    }
    const batches = result === null || result === undefined ? [] : Array.isArray(result) ? result : [result];
    if (!batches.every((b) => b instanceof arrow.RecordBatch))
      throw new RefreshError('definition', context.table, `${where} must return a RecordBatch, an array of them, or nothing`);
    return batches;
  }
  const file = engine.path(`hooked-${++hooked}.parquet`);
  await writeFileFrom(file, encodeParquet(output()));
  return `SELECT * FROM read_parquet(${quoteLiteral(file)})`;
}

function emptyBatch(schema: arrow.Schema): arrow.RecordBatch {
  const children = schema.fields.map((f) => arrow.makeData({ type: f.type, length: 0, nullCount: 0 } as never));
  return new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: 0, nullCount: 0, children }));
}
