/**
 * The SQL engine wrapper (shared/sql): DuckDB opened with its memory limit, threads and run folder,
 * sandboxed to that folder with its configuration locked; Delta files staged and exposed as a view with
 * typed partition values, evolved columns and provenance; results read back with exact types; SQL
 * parsed and rewritten through DuckDB's own parser.
 */
import { existsSync } from 'node:fs';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeFiles, loadSnapshot, writeTable, type DeltaStruct, type DeltaType } from '../../shared/delta';
import { isCanonicalArrowType, readValues } from '../../shared/delta/values';
import {
  addColumns,
  aggregateFunctions,
  deltaSchemaOf,
  isRowLevel,
  parseQuery,
  partitionExpressions,
  queryBatches,
  referencedColumns,
  registerView,
  SqlEngine,
  sqlOptionsFromEnv,
  SqlParseError,
  stageFiles,
  toSql,
  withoutTopLevelCasts,
} from '../../shared/sql';
import { deltaBatch, localLake } from '../support/refresh-helpers';

const field = (name: string, type: DeltaType) => ({ name, type, nullable: true, metadata: {} });

const STRUCT: DeltaType = { type: 'struct', fields: [field('a', 'integer'), field('b', 'string')] };
const ARRAY: DeltaType = { type: 'array', elementType: 'long', containsNull: true };
const MAP: DeltaType = { type: 'map', keyType: 'string', valueType: 'double', valueContainsNull: true };

const SCHEMA: DeltaStruct = {
  type: 'struct',
  fields: [
    field('id', 'integer'),
    field('amount', 'decimal(38,2)'),
    field('at', 'timestamp'),
    field('nested', STRUCT),
    field('list', ARRAY),
    field('map', MAP),
    field('day', 'date'),
    field('region', 'string'),
  ],
};

const ROWS: unknown[][] = [
  [1, 123456789012345678901234567890123456n, 1704164645123456n, { a: 1, b: 'x' }, [1n, 2n], new Map([['k', 1.5]]), 19724, 'north'],
  [2, -5n, -1n, null, [], new Map(), 19725, null],
  [3, null, null, { a: null, b: null }, null, null, null, 'south'],
];

describe('sql engine', () => {
  let engine: SqlEngine;
  beforeAll(async () => {
    engine = await SqlEngine.open({ memoryLimit: '300MB', threads: 1 });
  });
  afterAll(async () => {
    await engine.close();
  });

  it('opens with its limits, in a sandbox around its run folder', async () => {
    const [settings] = await engine.rows(
      `SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, current_setting('temp_directory') AS d, current_setting('autoload_known_extensions') AS a, current_setting('TimeZone') AS z`,
    );
    expect(settings).toMatchObject({ m: '286.1 MiB', t: '1', a: false, z: 'UTC' });
    expect(String(settings.d).startsWith(engine.dir)).toBe(true);
    await expect(engine.run(`COPY (SELECT 1) TO '/tmp/sluice-sandbox-escape.parquet'`)).rejects.toThrow(/Permission Error|disabled/);
    await expect(engine.run(`SET memory_limit = '8GB'`)).rejects.toThrow(/configuration has been locked|Cannot change/);
    await engine.run(`COPY (SELECT 1 AS x) TO '${engine.path('inside.parquet')}'`);
    expect(await engine.rows(`SELECT x FROM '${engine.path('inside.parquet')}'`)).toEqual([{ x: 1 }]);
  });

  it('reads its options from settings, naming a bad one', () => {
    expect(
      sqlOptionsFromEnv({ SLUICE_SQL_MEMORY_LIMIT: '512MB', SLUICE_SQL_THREADS: '2', SLUICE_SQL_TEMP_DIR: '/mnt/tmp', SLUICE_INSTANCE_MEMORY_MB: '4096' }),
    ).toEqual({ memoryLimit: '512MB', threads: 2, tempRoot: '/mnt/tmp' });
    expect(() => sqlOptionsFromEnv({ SLUICE_SQL_MEMORY_LIMIT: 'lots' })).toThrow(/SLUICE_SQL_MEMORY_LIMIT/);
    expect(() => sqlOptionsFromEnv({ SLUICE_SQL_THREADS: '0' })).toThrow(/SLUICE_SQL_THREADS/);
  });

  it('stages a Delta table as a view: typed partition values, evolved columns, provenance, hidden columns', async () => {
    const { lake } = localLake('sql-view');
    const store = lake('t');
    const older: DeltaStruct = { type: 'struct', fields: SCHEMA.fields.filter((f) => f.name !== 'map') };
    await writeTable(
      store,
      [
        deltaBatch(
          older,
          ROWS.slice(0, 1).map((r) => r.filter((_, i) => i !== 5)),
        ),
      ],
      { partitionColumns: ['day', 'region'] },
    );
    // A later file with the column `map` (written as a new table version with the full schema).
    const full = await loadSnapshot(store);
    await writeTable(lake('t2'), [deltaBatch(SCHEMA, ROWS.slice(1))], { partitionColumns: ['day', 'region'] });
    const files = [
      ...activeFiles(full).map((f) => ({ ...f, store })),
      ...activeFiles(await loadSnapshot(lake('t2'))).map((f) => ({ ...f, store: lake('t2') })),
    ];
    const staged = [
      ...(await stageFiles(
        engine,
        store,
        files.filter((f) => f.store === store),
        'table t',
      )),
      ...(
        await stageFiles(
          engine,
          lake('t2'),
          files.filter((f) => f.store !== store),
          'table t2',
        )
      ).map((f) => ({ ...f, id: f.id + 1 })),
    ];
    await registerView(engine, 'v', { schema: SCHEMA, partitionColumns: ['day', 'region'], files: staged, provenance: true, hidden: ['list'] });
    const rows = await engine.rows(`SELECT id, CAST(day AS VARCHAR) AS day, region, map IS NULL AS no_map, _sluice_file, _sluice_row FROM v ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, day: '2024-01-02', region: 'north', no_map: true, _sluice_file: 0, _sluice_row: '0' },
      { id: 2, day: '2024-01-03', region: null, no_map: false, _sluice_file: expect.any(Number), _sluice_row: '0' },
      { id: 3, day: null, region: 'south', no_map: true, _sluice_file: expect.any(Number), _sluice_row: '0' },
    ]);
    expect((await engine.columns('SELECT * FROM v')).map((c) => c.name)).not.toContain('list');
    const [types] = await engine.rows(`SELECT typeof(day) AS d, typeof(amount) AS a, typeof("at") AS t FROM v LIMIT 1`);
    expect(types).toEqual({ d: 'DATE', a: 'DECIMAL(38,2)', t: 'TIMESTAMP' });
  });

  it('reads results back with exact types, in order, across several output files', async () => {
    const { lake } = localLake('sql-exact');
    await writeTable(lake('t'), [deltaBatch(SCHEMA, ROWS)]);
    const snapshot = await loadSnapshot(lake('t'));
    await registerView(engine, 'exact', {
      schema: snapshot.schema,
      partitionColumns: [],
      files: await stageFiles(engine, lake('t'), activeFiles(snapshot), 'table t'),
    });
    const sql = 'SELECT * FROM exact ORDER BY id';
    const out = deltaSchemaOf(await engine.columns(sql));
    expect(out.fields.map((f) => f.type)).toEqual(SCHEMA.fields.map((f) => f.type));
    const batches: arrow.RecordBatch[] = [];
    for await (const batch of queryBatches(engine, sql, out, 'test')) batches.push(batch);
    const table = new arrow.Table(batches);
    for (const f of out.fields) {
      const column = table.getChild(f.name)!;
      expect(isCanonicalArrowType(column.type, f.type), f.name).toBe(true);
      expect(readValues(column, f.type), f.name).toEqual(ROWS.map((r) => r[SCHEMA.fields.findIndex((g) => g.name === f.name)]));
    }

    // HUGEINT sums become long; many rows split over several files keep their order.
    const sum = deltaSchemaOf(await engine.columns('SELECT sum(id) AS s FROM exact'));
    expect(sum.fields[0].type).toBe('long');
    const many: arrow.RecordBatch[] = [];
    const schema: DeltaStruct = { type: 'struct', fields: [field('n', 'long'), field('pad', 'string')] };
    for await (const batch of queryBatches(
      engine,
      `SELECT range AS n, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS pad FROM range(60000)`,
      schema,
      'test',
      { batchRows: 5000, fileBytes: '100KB' },
    ))
      many.push(batch);
    const n = readValues(new arrow.Table(many).getChild('n')!, 'long') as bigint[];
    expect(n.length).toBe(60000);
    expect(n.every((v, i) => v === BigInt(i))).toBe(true);
    expect(many.length).toBeGreaterThan(2);
  });

  it('parses SQL with DuckDB: positions, one SELECT only, row-level shapes, rewrites', async () => {
    const error = await parseQuery(engine, 'SELECT a,\n  b FROM source WHERE\n').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SqlParseError);
    expect(error).toMatchObject({ line: 2, message: expect.stringMatching(/syntax error at end of input/) });
    await expect(parseQuery(engine, 'DELETE FROM source')).rejects.toThrow(/single SELECT/);
    await expect(parseQuery(engine, 'SELECT 1; SELECT 2')).rejects.toThrow(/exactly one SELECT query, found 2/);

    const aggregates = await aggregateFunctions(engine);
    const plain = await parseQuery(engine, 'SELECT id, CAST("at" AS DATE) AS d, upper(region) AS r FROM source s WHERE id > 1');
    expect(isRowLevel(plain, aggregates)).toBe(true);
    expect([...referencedColumns(plain)].sort()).toEqual(['at', 'id', 'region']);
    expect(await addColumns(engine, plain, ['_sluice_file'])).toMatch(/s\._sluice_file FROM "source" AS s/);
    const unwrapped = withoutTopLevelCasts(plain, ['id', 'd', 'r'])!;
    expect(await toSql(engine, unwrapped)).toMatch(/SELECT id, "at" AS d, upper\(region\) AS r FROM/);
    for (const sql of [
      'SELECT count(*) FROM source',
      'SELECT DISTINCT id FROM source',
      'SELECT id, row_number() OVER () FROM source',
      'SELECT id FROM source LIMIT 1',
      'SELECT a.id FROM source a JOIN other b ON a.id = b.id',
    ]) {
      expect(isRowLevel(await parseQuery(engine, sql), aggregates), sql).toBe(false);
    }

    const grouped = await parseQuery(engine, 'SELECT region, CAST("at" AS DATE) AS day, sum(amount) AS total FROM source GROUP BY ALL');
    expect(partitionExpressions(grouped, ['day'], aggregates)?.[0]).toMatchObject({ class: 'CAST', alias: 'day' });
    expect(partitionExpressions(grouped, ['total'], aggregates)).toBeNull();
    expect(partitionExpressions(await parseQuery(engine, 'SELECT day, sum(x) OVER (ORDER BY day) AS s FROM source'), ['day'], aggregates)).toBeNull();
  });

  it('deletes its run folder on close', async () => {
    const other = await SqlEngine.open({ memoryLimit: '64MB', threads: 1 });
    expect(existsSync(other.dir)).toBe(true);
    await other.close();
    expect(existsSync(other.dir)).toBe(false);
    await expect(other.rows('SELECT 1')).rejects.toThrow(/after close/);
  });
});
