/**
 * The pipeline definition loader: the example loads, defaults apply, routing picks the longest
 * prefix, and every validation error names its YAML path (and line).
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DLT_EVOLUTION_ALIASES,
  loadPipelineDefinition,
  parsePipelineDefinition,
  parseSchemaHints,
  PipelineDefinitionError,
  routeBlob,
  SCHEMA_EVOLUTION_MODES,
  SOURCE_COMPRESSIONS,
  SOURCE_FORMATS,
} from '../shared/pipeline';

const ROOT = nodePath.join(__dirname, '..');
const EXAMPLE = nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml');

/** The problems of an invalid definition, as `path: message` lines. */
function problems(yaml: string): { path: string; message: string; line?: number }[] {
  try {
    parsePipelineDefinition(yaml, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineDefinitionError);
    expect((err as Error).message).toContain('test.yaml');
    return [...(err as PipelineDefinitionError).problems];
  }
  throw new Error('expected the definition to be rejected');
}

describe('pipeline definition', () => {
  it('loads the example with its defaults', async () => {
    const def = await loadPipelineDefinition(EXAMPLE);
    expect(def.name).toBe('pos');
    expect(Object.keys(def.sources)).toEqual(['pos_sales', 'pos_returns', 'store_receipts', 'network_events']);
    const sales = def.sources.pos_sales;
    expect(sales).toMatchObject({
      landing: 'pos/sales/',
      format: 'auto',
      compression: 'auto',
      schemaEvolution: 'addNewColumns',
      schemaHints: { quantity: 'integer', unit_price: 'decimal(12,2)', sku: 'string', store_id: 'string' },
      partitionBy: ['_load_date'],
      table: 'bronze/pos_sales',
    });
    expect(def.sources.pos_returns).toMatchObject({ csv: { delimiter: ';', header: true }, schemaEvolution: 'rescue', schemaHints: { return_id: 'string', amount: 'decimal(12,2)' } });
    expect(def.sources.store_receipts.schemaEvolution).toBe('failOnNewColumns');
    expect(def.sources.network_events).toMatchObject({ eventHub: { name: 'network-telemetry' }, table: 'bronze/network_events' });
    expect(def.sources.network_events.landing).toBeUndefined();
    expect(def.tables['silver.sales'].from).toEqual(['pos_sales']);
    expect(def.tables['gold.daily_store_sales'].raw.partitionBy).toEqual(['day']);
    expect(def.file).toBe(EXAMPLE);
  });

  it('routes a blob to the source with the longest matching landing folder', async () => {
    const def = await loadPipelineDefinition(EXAMPLE);
    expect(routeBlob(def, 'pos/sales/2026/01/a.csv')?.name).toBe('pos_sales');
    expect(routeBlob(def, '/pos/returns/r.csv')?.name).toBe('pos_returns');
    expect(routeBlob(def, 'pos/salesman.csv')).toBeNull();
    expect(routeBlob(def, 'other/a.csv')).toBeNull();
    expect(routeBlob(def, 'pos/sales/')).toBeNull();
    // Longest prefix wins where prefixes nest (such definitions are refused by the loader, but a
    // definition assembled in code may still nest them).
    const nested = { sources: { all: { ...def.sources.pos_sales, name: 'all', landing: 'pos/' }, sales: { ...def.sources.pos_sales } }, tables: {} };
    expect(routeBlob(nested, 'pos/sales/a.csv')?.name).toBe('pos_sales');
    expect(routeBlob(nested, 'pos/x.csv')?.name).toBe('all');
  });

  it('accepts dlt words and normalises landing folders and hints', () => {
    const def = parsePipelineDefinition(`
sources:
  a: { landing: /in/a, schemaEvolution: evolve, schemaHints: "qty INT, price decimal(10, 2), code varchar(8)" }
  b: { landing: in/b/, schemaEvolution: discard_value, partitionBy: [], table: /silver/b/ }
  c: { landing: in/c, schemaEvolution: freeze, schemaHints: { n: BIGINT, d: date, t: timestamp_ntz } }
`);
    expect(def.sources.a).toMatchObject({ landing: 'in/a/', schemaEvolution: 'addNewColumns', schemaHints: { qty: 'integer', price: 'decimal(10,2)', code: 'string' } });
    expect(def.sources.b).toMatchObject({ landing: 'in/b/', schemaEvolution: 'none', partitionBy: [], table: 'silver/b' });
    expect(def.sources.c).toMatchObject({ schemaEvolution: 'failOnNewColumns', schemaHints: { n: 'long', d: 'date', t: 'timestamp_ntz' } });
    expect(parseSchemaHints('a:int,b:decimal(3,1)')).toEqual({ hints: { a: 'integer', b: 'decimal(3,1)' }, problems: [] });
  });

  it('names the YAML path and line of every problem', () => {
    const found = problems(`sources:
  pos_sales:
    landing: pos/sales/
    format: excel
    schemaEvolution: evolv
    schemaHints: { quantity: integr, "bad name": int }
    partitionBy: [_load_date, _load_date]
    tabel: bronze/x
    csv: { delimiter: ";;", header: "yes", quoting: x }
  events:
    eventHub: { name: hub, group: g }
  both:
    landing: b/
    eventHub: hub
  neither: {}
  pos_all:
    landing: pos/
  dup:
    landing: /pos/sales
  rowdrop:
    landing: r/
    schemaEvolution: discard_row
  9lives:
    landing: n/
tables:
  silver.sales:
    from: [pos_sales, nowhere]
    sql: 42
    expectations:
      q: { check: "x > 0", onViolation: explode }
  gold.x:
    sql: SELECT 1
    mode: merge
extra: 1
`);
    const byPath = new Map(found.map((p) => [p.path, p]));
    const expectProblem = (path: string, text: string | RegExp, line?: number) => {
      const p = byPath.get(path);
      expect(p, `a problem at ${path}; got ${found.map((f) => f.path).join(', ')}`).toBeDefined();
      expect(p!.message).toMatch(text);
      if (line !== undefined) expect(p!.line).toBe(line);
    };
    expectProblem('sources.pos_sales.format', /expected one of auto, csv, .*; got "excel"/, 4);
    expectProblem('sources.pos_sales.schemaEvolution', /expected one of addNewColumns, rescue, failOnNewColumns, none \(or dlt's evolve, freeze, discard_value\); got "evolv"/, 5);
    expectProblem('sources.pos_sales.schemaHints.quantity', /expected a type .*got "integr"/, 6);
    expectProblem('sources.pos_sales.schemaHints.bad name', /not a usable column name/, 6);
    expectProblem('sources.pos_sales.partitionBy[1]', /listed twice/, 7);
    expectProblem('sources.pos_sales.tabel', /unknown key; expected one of landing, eventHub/, 8);
    expectProblem('sources.pos_sales.csv.delimiter', /one character/, 9);
    expectProblem('sources.pos_sales.csv.header', /true or false/, 9);
    expectProblem('sources.pos_sales.csv.quoting', /unknown key/, 9);
    expectProblem('sources.events.eventHub.group', /unknown key/, 11);
    expectProblem('sources.both', /either landing or eventHub, not both/, 12);
    expectProblem('sources.neither', /needs landing .* or eventHub/, 15);
    expectProblem('sources.pos_all.landing', /"pos\/" overlaps sources.pos_sales.landing "pos\/sales\/"/, 17);
    expectProblem('sources.dup.landing', /"pos\/sales\/" is the same folder as sources.pos_sales.landing/, 19);
    expectProblem('sources.rowdrop.schemaEvolution', /discard_row.*never does; use rescue .* or failOnNewColumns/, 22);
    expectProblem('sources.9lives', /source names are letters/, 23);
    expectProblem('tables.silver.sales.from[1]', /"nowhere" is neither a source nor a table/, 27);
    expectProblem('tables.silver.sales.sql', /expected a non-empty string, got number 42/, 28);
    expectProblem('tables.silver.sales.expectations.q.onViolation', /expected one of warn, drop, fail, quarantine; got "explode"/, 30);
    expectProblem('tables.gold.x', /needs from/, 31);
    expectProblem('tables.gold.x.mode', /unknown key/, 33);
    expectProblem('extra', /unknown key; expected one of name, description, sources, tables/, 34);
    // Every problem has a path and a line; the message lists them all.
    for (const p of found) {
      expect(p.path).not.toBe('');
      expect(p.line).toBeGreaterThan(0);
    }
  });

  it('reports structural problems and bad YAML', () => {
    expect(problems('just text')).toEqual([expect.objectContaining({ path: '', message: expect.stringMatching(/expected a pipeline definition .*got "just text"/) })]);
    expect(problems('name: x\n')).toEqual([expect.objectContaining({ path: 'sources', message: expect.stringMatching(/missing/) })]);
    expect(problems('sources: []')).toEqual([expect.objectContaining({ path: 'sources', message: expect.stringMatching(/expected a map of source name/) })]);
    expect(problems('sources:\n  a: { landing: x/ }\n  a: { landing: y/ }\n')[0]).toMatchObject({ path: '', line: 3, message: expect.stringMatching(/not valid YAML: Map keys must be unique/) });
    expect(problems('sources:\n  a: { landing: x/, table: ../up }\n  b: { landing: y/, table: bronze/b }\n  c: { landing: z/, table: bronze/b }\n').map((p) => p.path)).toEqual([
      'sources.a.table',
      'sources.c.table',
    ]);
  });

  it('publishes a JSON Schema that agrees with the loader', () => {
    const schema = JSON.parse(readFileSync(nodePath.join(ROOT, 'schemas', 'pipeline.schema.json'), 'utf8'));
    const source = schema.$defs.source.properties;
    expect(source.format.enum).toEqual([...SOURCE_FORMATS]);
    expect(source.compression.enum).toEqual([...SOURCE_COMPRESSIONS]);
    expect(source.schemaEvolution.enum).toEqual([...SCHEMA_EVOLUTION_MODES, ...Object.keys(DLT_EVOLUTION_ALIASES)]);
    expect(Object.keys(schema.properties).sort()).toEqual(['description', 'name', 'sources', 'tables']);
    expect(Object.keys(source).sort()).toEqual(['compression', 'csv', 'description', 'eventHub', 'format', 'landing', 'partitionBy', 'schemaEvolution', 'schemaHints', 'table']);
    expect(Object.keys(schema.$defs.table.properties).sort()).toEqual(['description', 'expectations', 'from', 'hook', 'keys', 'partitionBy', 'sequenceBy', 'sql']);
    // Every key the example uses is one the schema declares.
    const example = parsePipelineDefinition(readFileSync(EXAMPLE, 'utf8'));
    for (const s of Object.values(example.sources)) for (const key of Object.keys(s)) if (key !== 'name') expect(Object.keys(source)).toContain(key);
  });
});
