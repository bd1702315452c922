/**
 * The pipeline definition loader: the example loads, defaults apply, routing picks the longest
 * prefix, and every validation error names its YAML path (and line).
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CSV_ENCODINGS,
  DEFINITION_KEYS,
  DLT_EVOLUTION_ALIASES,
  loadPipelineDefinition,
  parsePipelineDefinition,
  parseSchemaHints,
  PipelineDefinitionError,
  routeBlob,
  SCHEMA_EVOLUTION_MODES,
  SOURCE_COMPRESSIONS,
  SOURCE_FORMATS,
  isReservedName,
  ON_VIOLATION,
  PII_ACTIONS,
  sourceNamed,
  tableNamed,
  TRIGGER_MODES,
} from '../../shared/pipeline';
import { ncrontabProblem, nextOccurrence, parseSchedule } from '../../shared/pipeline/ncrontab';
import { readIngestTriggerSettings } from '../../shared/host/settings';
import { writeTable } from '../../shared/delta';
import { checkPipelineSql } from '../../shared/refresh';
import { piiActionOf, protectedColumn } from '../../shared/refresh/pii';
import { deltaBatch, localLake } from '../support/refresh-helpers';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.join(TEST_DIR, '..');
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
    expect(Object.keys(def.sources)).toEqual(['pos_sales', 'pos_deliveries', 'pos_returns', 'store_receipts', 'network_events']);
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
    expect(def.sources.pos_returns).toMatchObject({
      csv: { delimiter: ';', header: true },
      schemaEvolution: 'rescue',
      schemaHints: { return_id: 'string', amount: 'decimal(12,2)' },
    });
    expect(def.sources.store_receipts.schemaEvolution).toBe('failOnNewColumns');
    expect(def.sources.network_events).toMatchObject({ eventHub: { name: 'network-telemetry' }, table: 'bronze/network_events' });
    expect(def.sources.network_events.landing).toBeUndefined();
    expect(def.tables['silver.sales']).toMatchObject({
      from: ['pos_sales'],
      refresh: 'incremental',
      keys: ['transaction_id'],
      sequenceBy: ['event_time'],
      pii: { card_number: 'mask' },
      table: 'silver/sales',
      buckets: 16,
    });
    expect(def.tables['silver.sales'].expectations).toEqual([
      { name: 'valid_quantity', check: "quantity <> 0 OR status = 'returned'", onViolation: 'quarantine' },
      { name: 'known_currency', check: "currency IN ('KRW','USD','EUR')", onViolation: 'drop' },
      { name: 'positive_price', check: 'unit_price > 0', onViolation: 'warn' },
    ]);
    expect(def.tables['gold.daily_store_sales']).toMatchObject({ refresh: 'recompute', partitionBy: ['day'], keys: [], table: 'gold/daily_store_sales' });
    expect(def.tables['gold.store_stock'].from).toEqual(['silver.deliveries', 'silver.sales']);
    expect(def.trigger).toEqual({ mode: 'afterBronze' });
    expect(def.lines?.['tables.silver.sales.sql']).toBe(
      readFileSync(EXAMPLE, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('    sql: |')) + 1,
    );
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
    expect(def.sources.a).toMatchObject({
      landing: 'in/a/',
      schemaEvolution: 'addNewColumns',
      schemaHints: { qty: 'integer', price: 'decimal(10,2)', code: 'string' },
    });
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
    schemaHints: { quantity: integr, " ": int }
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
    expectProblem(
      'sources.pos_sales.schemaEvolution',
      /expected one of addNewColumns, rescue, failOnNewColumns, none \(or dlt's evolve, freeze, discard_value\); got "evolv"/,
      5,
    );
    expectProblem('sources.pos_sales.schemaHints.quantity', /expected a type .*got "integr"/, 6);
    expectProblem('sources.pos_sales.schemaHints. ', /a column name cannot be blank/, 6);
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
    expectProblem('extra', /unknown key; expected one of name, description, trigger, schedule, sources, tables/, 34);
    // Every problem has a path and a line; the message lists them all.
    for (const p of found) {
      expect(p.path).not.toBe('');
      expect(p.line).toBeGreaterThan(0);
    }
  });

  it('reports structural problems and bad YAML', () => {
    expect(problems('just text')).toEqual([
      expect.objectContaining({ path: '', message: expect.stringMatching(/expected a pipeline definition .*got "just text"/) }),
    ]);
    expect(problems('name: x\n')).toEqual([expect.objectContaining({ path: 'sources', message: expect.stringMatching(/missing/) })]);
    expect(problems('sources: []')).toEqual([expect.objectContaining({ path: 'sources', message: expect.stringMatching(/expected a map of source name/) })]);
    expect(problems('sources:\n  a: { landing: x/ }\n  a: { landing: y/ }\n')[0]).toMatchObject({
      path: '',
      line: 3,
      message: expect.stringMatching(/not valid YAML: Map keys must be unique/),
    });
    expect(
      problems('sources:\n  a: { landing: x/, table: ../up }\n  b: { landing: y/, table: bronze/b }\n  c: { landing: z/, table: bronze/b }\n').map(
        (p) => p.path,
      ),
    ).toEqual(['sources.a.table', 'sources.c.table']);
  });

  it('refuses names that reach an object prototype, with their YAML path, and looks names up as own keys', () => {
    const found = problems(`sources:
  __proto__: { landing: a/ }
  b: { landing: b/, schemaEvolution: constructor, schemaHints: { constructor: int, x: constructor } }
  c: { landing: c/, schemaHints: "prototype int" }
tables:
  constructor: { from: b }
  silver.t:
    from: constructor
    pii: { __proto__: hash }
    expectations: { prototype: { check: "x > 0" } }
`);
    const byPath = new Map(found.map((p) => [p.path, p.message]));
    expect(byPath.get('sources.__proto__')).toMatch(/source name "__proto__" is reserved/);
    expect(byPath.get('sources.b.schemaEvolution')).toMatch(/got "constructor"/);
    expect(byPath.get('sources.b.schemaHints.constructor')).toMatch(/column name "constructor" is reserved/);
    expect(byPath.get('sources.b.schemaHints.x')).toMatch(/expected a type .*got "constructor"/);
    expect(byPath.get('sources.c.schemaHints')).toMatch(/column name "prototype" is reserved/);
    expect(byPath.get('tables.constructor')).toMatch(/table name "constructor" is reserved/);
    // The refused table is not there to be read: constructor is no table or source, not Object's.
    expect(byPath.get('tables.silver.t.from')).toMatch(/"constructor" is neither a source nor a table/);
    expect(byPath.get('tables.silver.t.pii.__proto__')).toMatch(/column name "__proto__" is reserved/);
    expect(byPath.get('tables.silver.t.expectations.prototype')).toMatch(/expectation name "prototype" is reserved/);
    expect(found.length).toBe(9);

    const def = parsePipelineDefinition('sources:\n  a: { landing: a/ }\ntables:\n  silver.a: { from: a }\n');
    expect(['__proto__', 'constructor', 'prototype', 'toString'].map((n) => [tableNamed(def, n), sourceNamed(def, n)])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
    expect(tableNamed(def, 'silver.a')?.name).toBe('silver.a');
    expect(sourceNamed(def, 'a')?.name).toBe('a');
  });

  it('a column the data names constructor or toString is no PII column and keeps its type', async () => {
    const def = parsePipelineDefinition(
      `sources:\n  s: { landing: s/, schemaHints: { n: int } }\ntables:\n  silver.t:\n    from: s\n    sql: SELECT n AS "constructor", n + 1 AS "toString" FROM source\n    pii: { n_unused: mask }\n`,
    );
    const table = tableNamed(def, 'silver.t')!;
    expect(['constructor', 'toString', 'n_unused'].map((c) => piiActionOf(table.pii, c))).toEqual([undefined, undefined, 'mask']);
    expect(protectedColumn('constructor', table.pii)).toBe('"constructor"');
    const checked = await checkPipelineSql({ ...def, tables: { 'silver.t': { ...table, pii: {} } } });
    expect(checked.schemas['silver.t'].fields.map((f) => [f.name, f.type])).toEqual([
      ['constructor', 'integer'],
      ['toString', 'integer'],
    ]);
  });

  it('publishes a JSON Schema that agrees with the loader', () => {
    const schema = JSON.parse(readFileSync(nodePath.join(ROOT, 'schemas', 'pipeline.schema.json'), 'utf8'));
    const source = schema.$defs.source.properties;
    expect(source.format.enum).toEqual([...SOURCE_FORMATS]);
    expect(source.compression.enum).toEqual([...SOURCE_COMPRESSIONS]);
    expect(source.schemaEvolution.enum).toEqual([...SCHEMA_EVOLUTION_MODES, ...Object.keys(DLT_EVOLUTION_ALIASES)]);
    expect(schema.properties.trigger.enum).toEqual([...TRIGGER_MODES]);
    // Each mapping the loader checks declares exactly the loader's own keys and, like the loader,
    // refuses any other: a key added to one side only fails here.
    const hub = source.eventHub.oneOf.find((o: { type?: string }) => o.type === 'object');
    const expectation = schema.$defs.table.properties.expectations.additionalProperties;
    const mappings: [keyof typeof DEFINITION_KEYS, { properties: object; additionalProperties?: unknown }][] = [
      ['top', schema],
      ['source', schema.$defs.source],
      ['csv', source.csv],
      ['eventHub', hub],
      ['table', schema.$defs.table],
      ['expectation', expectation],
    ];
    expect(mappings.map(([name]) => name).sort()).toEqual(Object.keys(DEFINITION_KEYS).sort());
    for (const [name, mapping] of mappings) {
      expect({ name, keys: Object.keys(mapping.properties).sort(), closed: mapping.additionalProperties }).toEqual({
        name,
        keys: [...DEFINITION_KEYS[name]].sort(),
        closed: false,
      });
    }
    expect(source.csv.properties.encoding.enum).toEqual([...CSV_ENCODINGS]);
    expect(schema.$defs.table.properties.expectations.additionalProperties.properties.onViolation.enum).toEqual([...ON_VIOLATION]);
    expect(schema.$defs.table.properties.pii.additionalProperties.enum).toEqual([...PII_ACTIONS]);
    // Reserved names are refused for sources, tables, expectations and hinted or tagged columns alike.
    const reserved: string[] = schema.$defs.notReserved.not.enum;
    expect(reserved.every(isReservedName) && ['__proto__', 'constructor', 'prototype'].every((n) => reserved.includes(n))).toBe(true);
    const refs = [
      schema.properties.sources.propertyNames,
      schema.properties.tables.propertyNames,
      schema.$defs.table.properties.expectations.propertyNames,
      schema.$defs.table.properties.pii.propertyNames,
      source.schemaHints.oneOf[2].propertyNames,
    ];
    expect(refs.map((r) => r.$ref)).toEqual(Array(5).fill('#/$defs/notReserved'));
    // Every key the example uses is one the schema declares.
    const example = parsePipelineDefinition(readFileSync(EXAMPLE, 'utf8'));
    for (const s of Object.values(example.sources)) for (const key of Object.keys(s)) if (key !== 'name') expect(Object.keys(source)).toContain(key);
    for (const t of Object.values(example.tables)) for (const key of Object.keys(t.raw)) expect(Object.keys(schema.$defs.table.properties)).toContain(key);
  });

  it('checks the tables section: keys and ordering, buckets, PII, expectations, paths, references, cycles', () => {
    const found = problems(`sources:
  a: { landing: a/ }
  b: { landing: b/ }
tables:
  silver.one:
    from: a
    keys: []
    sequenceBy: [ts, ts]
    orderBy: ts DESC
    buckets: 0
    pii: { card: encrypt }
    expectations:
      9bad: { check: "x > 0" }
      ok: { check: "", onViolation: drop }
    hook: hooks/fix.py
  silver.two:
    from: [a, b]
    sequenceBy: ts
  silver.three:
    from: [a, silver.one]
  gold.x:
    from: gold.y
    keys: [k]
  gold.y:
    from: gold.x
    table: bronze/a
  gold.z:
    from: silver.one
    table: gold/z__quarantine
`);
    const byPath = new Map(found.map((p) => [p.path, p]));
    const expectProblem = (path: string, text: RegExp, line?: number) => {
      const p = byPath.get(path);
      expect(p, `a problem at ${path}; got ${found.map((f) => `${f.path}: ${f.message}`).join('\n')}`).toBeDefined();
      expect(p!.message).toMatch(text);
      if (line !== undefined) expect(p!.line).toBe(line);
    };
    expectProblem('tables.silver.one.keys', /at least one key column/, 7);
    expectProblem('tables.silver.one.sequenceBy[1]', /"ts" is listed twice/, 8);
    expectProblem('tables.silver.one.orderBy', /either sequenceBy .* or orderBy/, 9);
    expectProblem('tables.silver.one.buckets', /whole number of key buckets from 1 to 1024, got number 0/, 10);
    expectProblem('tables.silver.one.pii.card', /expected one of hash, mask; got "encrypt"/, 11);
    expectProblem('tables.silver.one.expectations.9bad', /expectation names are letters/, 13);
    expectProblem('tables.silver.one.expectations.ok.check', /non-empty string/, 14);
    expectProblem('tables.silver.one.hook', /\.ts or \.js module/, 15);
    expectProblem('tables.silver.two.from', /reads 2 bronze sources/, 17);
    expectProblem('tables.silver.two.sequenceBy', /needs keys/, 18);
    expectProblem('tables.silver.three.from', /reads both bronze sources and tables/, 20);
    expectProblem('tables.gold.x.keys', /recomputed .* no upsert keys/);
    expectProblem('tables.gold.x.from', /cycle: gold\.x → gold\.y → gold\.x/, 22);
    expectProblem('tables.gold.y.table', /bronze\/a is already used by sources\.a/, 26);
    expectProblem('tables.gold.z.table', /ends like the quarantine table/, 29);
  });

  it('reads the trigger: after bronze by default, or an NCRONTAB schedule', () => {
    const base = 'sources:\n  a: { landing: a/ }\n';
    expect(parsePipelineDefinition(base).trigger).toBeUndefined();
    const defaults = parsePipelineDefinition(`${base}tables:\n  t: { from: a, sql: "SELECT * FROM source ;  " }\n  u: { from: t }\n`).tables;
    expect(defaults.t).toMatchObject({ sql: 'SELECT * FROM source', refresh: 'incremental', table: 't', keys: [], expectations: [] });
    expect(defaults.u).toMatchObject({ sql: 'SELECT * FROM source', refresh: 'recompute' });
    expect(parsePipelineDefinition(`trigger: afterBronze\n${base}`).trigger).toEqual({ mode: 'afterBronze' });
    expect(parsePipelineDefinition(`schedule: "0 */15 * * * *"\n${base}`).trigger).toEqual({ mode: 'schedule', schedule: '0 */15 * * * *' });
    expect(parsePipelineDefinition(`trigger: schedule\nschedule: "30 0 6 * JAN-MAR MON-FRI"\n${base}`).trigger).toEqual({
      mode: 'schedule',
      schedule: '30 0 6 * JAN-MAR MON-FRI',
    });
    expect(problems(`trigger: schedule\n${base}`)).toEqual([expect.objectContaining({ path: 'trigger', message: expect.stringMatching(/needs schedule/) })]);
    expect(problems(`trigger: hourly\n${base}`)[0]).toMatchObject({ path: 'trigger', message: expect.stringMatching(/expected one of afterBronze, schedule/) });
    expect(problems(`schedule: "*/5 * * * *"\n${base}`)[0]).toMatchObject({ path: 'schedule', line: 1, message: expect.stringMatching(/6 fields .* got 5/) });
    expect(problems(`schedule: "0 0 25 * * *"\n${base}`)[0].message).toMatch(/hour field "25": values must be 0–23/);
    expect(problems(`schedule: "0 0 0 * * SUNDAY"\n${base}`)[0].message).toMatch(/day of week field "SUNDAY"/);
    expect(problems(`trigger: afterBronze\nschedule: "0 0 0 * * *"\n${base}`)[0]).toMatchObject({
      path: 'schedule',
      message: expect.stringMatching(/only used with trigger: schedule/),
    });
  });

  it('validates and parses NCRONTAB once for schedules, settings and timers; day of week 7 is Sunday', () => {
    const base = 'sources:\n  a: { landing: a/ }\n';
    expect(parsePipelineDefinition(`schedule: "0 0 6 * * 7"\n${base}`).trigger).toEqual({ mode: 'schedule', schedule: '0 0 6 * * 7' });
    expect(problems(`schedule: "0 0 6 * * 8"\n${base}`)[0].message).toMatch(/day of week field "8": values must be 0–7/);
    const weekdays = (text: string) => [...parseSchedule(text).weekdays];
    expect(weekdays('0 0 6 * * 7')).toEqual([0]);
    expect(weekdays('0 0 6 * * 5-7')).toEqual([0, 5, 6]);
    expect(weekdays('0 0 6 * * *')).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(weekdays('0 0 6 * * 1/2')).toEqual([1, 3, 5]);
    expect(weekdays('0 0 6 * * SAT,SUN')).toEqual([0, 6]);
    // Sunday 2026-03-01 06:00 UTC fires for both spellings of Sunday.
    for (const sunday of ['0 0 6 * * 7', '0 0 6 * * 0'])
      expect(nextOccurrence(parseSchedule(sunday), new Date('2026-03-01T05:59:59Z')).toISOString()).toBe('2026-03-01T06:00:00.000Z');
    expect(() => parseSchedule('0 0 6 * * 8')).toThrow(/values must be 0–7/);
    expect(ncrontabProblem('0 */5 * * * *')).toBeNull();
    // The reconcile timer's setting is checked by the same validator, not a looser pattern.
    expect(readIngestTriggerSettings({ SLUICE_RECONCILE_SCHEDULE: '0 0 6 * * 7' })?.reconcileSchedule).toBe('0 0 6 * * 7');
    expect(() => readIngestTriggerSettings({ SLUICE_RECONCILE_SCHEDULE: '0 */5 * * * 9' })).toThrow(
      /SLUICE_RECONCILE_SCHEDULE must be an NCRONTAB schedule .*day of week field "9": values must be 0–7/,
    );
    expect(() => readIngestTriggerSettings({ SLUICE_RECONCILE_SCHEDULE: '0 99 * * * *' })).toThrow(/minute field "99": values must be 0–59/);
  });

  it('checks the SQL of every table against what it reads, naming the YAML path', async () => {
    const example = await loadPipelineDefinition(EXAMPLE);
    const checked = await checkPipelineSql(example);
    expect(Object.keys(checked.schemas).sort()).toEqual(['gold.daily_store_sales', 'gold.store_stock', 'silver.deliveries', 'silver.sales']);
    expect(checked.schemas['gold.daily_store_sales'].fields.map((f) => [f.name, f.type])).toEqual([
      ['store_id', 'string'],
      ['day', 'date'],
      ['currency', 'string'],
      ['revenue', 'decimal(38,2)'],
      ['units', 'long'],
    ]);
    expect(checked.schemas['silver.sales'].fields.find((f) => f.name === 'event_time')!.type).toBe('timestamp');

    const yaml = `sources:
  sales: { landing: s/, schemaHints: { qty: int, price: "decimal(10,2)" } }
tables:
  silver.a:
    from: sales
    sql: |
      SELECT qty, price,
        FROM source WHERE
    keys: [qty]
  silver.b:
    from: sales
    sql: SELECT qty, price, qty * price AS total FROM source
    keys: [id]
    orderBy: nothing DESC
    pii: { card: mask }
    hook: missing-hook.ts
    expectations:
      positive: { check: "total > 0" }
      unknown: { check: "amount > 0", onViolation: drop }
  gold.c:
    from: silver.b
    sql: SELECT sum(total) AS total FROM source
    partitionBy: [day]
`;
    const definition = parsePipelineDefinition(yaml, 'test.yaml');
    const error = await checkPipelineSql(definition).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PipelineDefinitionError);
    const found = new Map((error as PipelineDefinitionError).problems.map((p) => [p.path, p]));
    expect(found.get('tables.silver.a.sql')).toMatchObject({
      line: 6,
      message: expect.stringMatching(/does not parse \(line 2 of the SQL, column \d+\): syntax error/),
    });
    expect(found.get('tables.silver.b.keys[0]')).toMatchObject({
      line: 13,
      message: expect.stringMatching(/"id" is not an output column of the SQL \(qty, price, total\)/),
    });
    expect(found.get('tables.silver.b.orderBy')?.message).toMatch(/nothing/);
    expect(found.get('tables.silver.b.pii.card')?.message).toMatch(/"card" is not an output column/);
    expect(found.get('tables.silver.b.hook')?.message).toMatch(/missing-hook\.ts does not exist/);
    expect(found.get('tables.silver.b.expectations.unknown.check')).toMatchObject({ line: 19, message: expect.stringMatching(/amount/) });
    expect(found.has('tables.silver.b.expectations.positive.check')).toBe(false);
    expect(found.get('tables.gold.c.partitionBy[0]')?.message).toMatch(/"day" is not an output column of the SQL \(total\)/);
    expect((error as Error).message).toContain('test.yaml');

    // With the bronze table in the lake, the SQL binds against its real columns.
    const { lake } = localLake('check');
    await writeTable(lake('bronze/sales'), [deltaBatch({ type: 'struct', fields: [{ name: 'qty', type: 'integer', nullable: true, metadata: {} }] }, [[1]])]);
    const exact = parsePipelineDefinition(
      `sources:\n  sales: { landing: s/ }\ntables:\n  silver.a:\n    from: sales\n    sql: SELECT qty, price FROM source\n`,
    );
    const bound = await checkPipelineSql(exact, { lake }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((bound as PipelineDefinitionError).problems).toEqual([
      expect.objectContaining({ path: 'tables.silver.a.sql', line: 6, message: expect.stringMatching(/does not bind against sales: .*price/) }),
    ]);
    // Without it, the same SQL is parsed and its unknown columns assumed: no problem, a note.
    const guessed = await checkPipelineSql(
      parsePipelineDefinition(`sources:\n  sales: { landing: s/ }\ntables:\n  silver.a:\n    from: sales\n    sql: SELECT qty * 2 AS q FROM source\n`),
    );
    expect(guessed.notes.join('\n')).toMatch(/silver\.a\.sql: parsed but not bound/);
  });
});
