/**
 * Decoded JSON records read from their values (shared/formats/json-objects.ts) against the same
 * records written with `JSON.stringify`, one per line, and read as NDJSON by `readInput`: schema,
 * Arrow types, inference, new fields, rows (`_rescued_data` included), counters and bad records must
 * be the same, with and without a target schema and hints. Each case first checks that the direct
 * route took the records (a route that declined everything could not pass for an exact one), and the
 * records it must not take are checked to be declined.
 */
import { describe, expect, it } from 'vitest';
import type { DeltaStruct } from '../../shared/delta/schema';
import { readValues } from '../../shared/delta/values';
import { readInput } from '../../shared/formats';
import { ColumnProfile } from '../../shared/formats/infer';
import { JsonNumber } from '../../shared/formats/json-text';
import { readJsonObjects } from '../../shared/formats/json-objects';
import type { ReadOptions, ReadResult } from '../../shared/formats';

/** Everything a read produces, in plain values comparable with toEqual. */
async function collect(result: ReadResult) {
  const rows: Record<string, unknown>[] = [];
  const arrowTypes: string[][] = [];
  for await (const batch of result.batches) {
    arrowTypes.push(batch.schema.fields.map((f) => String(f.type)));
    const columns = result.schema.fields.map((f, i) => readValues(batch.getChildAt(i)!, f.type));
    for (let r = 0; r < batch.numRows; r++) rows.push(Object.fromEntries(result.schema.fields.map((f, i) => [f.name, columns[i][r]])));
  }
  const { rowsRead, rowsEmitted, rowsWithRescued } = result.stats;
  return {
    schema: result.schema,
    newFields: result.newFields,
    inference: result.inference,
    arrowTypes: [...new Set(arrowTypes.map((t) => t.join(',')))],
    rows,
    badRecords: result.badRecords,
    stats: { rowsRead, rowsEmitted, rowsWithRescued },
    fatal: result.fatal,
  };
}

/** The records as NDJSON text read by readInput: the route json-objects.ts must match. */
async function viaText(records: unknown[], options: ReadOptions) {
  const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const bytes = new TextEncoder().encode(text);
  return collect(
    await readInput(
      (async function* () {
        yield bytes;
      })(),
      'events.ndjson',
      { ...options, format: 'ndjson', compression: 'none' },
    ),
  );
}

/** Read both ways; they must agree. Returns the direct read. */
async function same(records: unknown[], options: ReadOptions = {}) {
  const opts = { sampleRows: records.length, ...options };
  const direct = readJsonObjects(records, 'events.ndjson', opts);
  expect(direct, 'the direct route declined records it should take').not.toBeNull();
  const got = await collect(direct!);
  expect(got).toEqual(await viaText(records, opts));
  return got;
}

const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);
const telemetry = (n: number) => ({
  deviceId: `dev-${String((n * 7919) % 5000).padStart(5, '0')}`,
  ts: new Date(T0 + n * 10).toISOString(),
  temperature: Math.round((18 + ((n * 37) % 1500) / 100) * 100) / 100,
  ok: n % 3 !== 0,
  reading: n,
});

describe('decoded JSON records read from their values', () => {
  it('reads flat records as their NDJSON text is read, in one batch or several', async () => {
    const records = Array.from({ length: 300 }, (_, n) => telemetry(n));
    const got = await same(records);
    expect(got.rows).toHaveLength(300);
    expect(Object.fromEntries(got.schema.fields.map((f) => [f.name, f.type]))).toEqual({
      deviceId: 'string',
      ts: 'timestamp',
      temperature: 'double',
      ok: 'boolean',
      reading: 'integer',
      _rescued_data: 'string',
    });
    await same(records, { batchRows: 64 });
  });

  it('missing keys, nulls, other key orders, and keys first seen after the sample (rescued)', async () => {
    const records: unknown[] = [
      { a: 1, b: 'x' },
      { b: 'y', a: 2, c: null },
      { c: true },
      {},
      { a: null, b: null, c: null },
      { d: 5, a: 3 },
      { e: 'late', b: 'z', f: null, g: 1.5 },
    ];
    const got = await same(records, { sampleRows: 5 });
    expect(got.rows.map((r) => r._rescued_data)).toEqual([null, null, null, null, null, '{"d":5}', '{"e":"late","g":1.5}']);
    await same(records);
  });

  it('types mixed within a column as their text would mix them', async () => {
    await same([{ v: 1 }, { v: 'one' }, { v: true }]);
    await same([{ v: 1 }, { v: 2.5 }, { v: -3 }]);
    await same([{ v: 1 }, { v: true }]);
    await same([{ v: 2147483647 }, { v: 2147483648 }]);
    await same([{ v: '2026-01-31' }, { v: '2026-02-01T10:00:00Z' }]);
    await same([{ v: '2026-01-31' }, { v: 'soon' }]);
    await same([{ v: '007' }, { v: '1/2/2026' }, { v: '31.12.2026' }]);
  });

  it('numbers as JSON.stringify writes them: big integers beyond 2^53, exponents, -0, NaN and Infinity', async () => {
    const big = [2 ** 53 + 2, 2 ** 60, Number('12345678901234567'), 1e15, -1e15 - 2, 999999999999999, 9.223372036854776e18, 1e20];
    await same(big.map((v) => ({ v })));
    await same([...big, 1e21, 2.5].map((v) => ({ v })));
    await same([1e21, -1e22, 1.5e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 1e-7, 123456.789].map((v) => ({ v })));
    const zero = await same([{ v: -0 }, { v: 0 }, { v: -0.0 }, { w: -0, v: 1.5 }]);
    expect(zero.rows.map((r) => Object.is(r.v, -0))).toEqual([false, false, false, false]);
    const odd = await same([{ v: NaN, w: 1 }, { v: Infinity, w: -Infinity }, { v: 2 }]);
    expect(odd.rows.map((r) => r.v)).toEqual([null, null, 2]);
  });

  it('strings: unicode, escapes, lone surrogates, and keys that need escaping or renaming', async () => {
    await same([
      { s: 'plain', 'k"q': 1, 'back\\slash': 2, '': 'empty key', ünï: 'ünïcødé ✓ 😀' },
      { s: 'line\nbreak\ttab "quoted" \\ \u0000 \u001f', 'k"q': 3 },
      { s: 'lone \ud800 surrogate \udc00', [`\ud83d`]: 'lone key' },
    ]);
    // Keys named like the stage's own columns are renamed, as for text.
    const renamed = await same([{ _eh_offset: 'mine', _rescued_data: 'also mine', x: 1 }], { reservedColumns: ['_eh_offset', '_ingested_at'] });
    expect(renamed.schema.fields.map((f) => f.name)).toEqual(['_eh_offset_1', '_rescued_data_1', 'x', '_rescued_data']);
  });

  it('members JSON.stringify leaves out, and objects without a prototype', async () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: 'two' });
    const withSymbol = { a: 2, [Symbol('s')]: 3 };
    const hidden = Object.defineProperty({ a: 3 }, 'secret', { value: 9, enumerable: false });
    await same([bare, { a: undefined, b: 'x', f: () => 1, s: Symbol('t') }, withSymbol, hidden, { 2: 'i', 1: 'j', z: 'k' }]);
  });

  it('values converted to a target schema and hints, misfits rescued as their JSON text', async () => {
    const targetSchema: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'i', type: 'integer', nullable: true, metadata: {} },
        { name: 'l', type: 'long', nullable: true, metadata: {} },
        { name: 'd', type: 'decimal(10,2)', nullable: true, metadata: {} },
        { name: 's', type: 'string', nullable: true, metadata: {} },
        { name: 'b', type: 'boolean', nullable: true, metadata: {} },
        { name: 'dt', type: 'date', nullable: true, metadata: {} },
        { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
        { name: 'f', type: 'double', nullable: true, metadata: {} },
        { name: 'absent', type: 'string', nullable: true, metadata: {} },
      ],
    };
    const records = [
      { i: 1, l: 2 ** 40, d: 12.34, s: 5, b: true, dt: '2026-01-31', ts: '2026-01-31T12:00:00Z', f: 3, extra: 'new' },
      { i: 2.5, l: 2 ** 60, d: 1.005, s: 1.5e-7, b: 1, dt: 20260131, ts: 'noon', f: 1e21, extra: 2 },
      { i: 2 ** 31, l: 1.5, d: 123456789.5, s: true, b: 'true', dt: true, ts: 12, f: '1.5' },
      { i: 1e16, l: 9.3e18, d: -0.5, s: -0, b: null, dt: null, ts: null, f: -0 },
    ];
    const got = await same(records, { targetSchema });
    expect(got.stats.rowsWithRescued).toBeGreaterThan(0);
    expect(got.newFields.map((f) => f.name)).toEqual(['extra']);
    await same(records, { schemaHints: { i: 'long', d: 'decimal(20,3)', s: 'string', f: 'float', dt: 'date', l: 'double' } });
    await same(records, { schemaHints: { i: 'short', l: 'byte', d: 'string', f: 'binary' } });
  });

  it('declines what it cannot read exactly, so the caller reads the JSON text', () => {
    class Reading {
      constructor(readonly v: number) {}
    }
    const throwing = Object.defineProperty({}, 'x', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    const declined: unknown[] = [
      { nested: { a: 1 } },
      { list: [1, 2] },
      { when: new Date(T0) },
      { n: 10n },
      { bytes: new Uint8Array([1]) },
      new Reading(1),
      { v: 1, toJSON: () => ({ v: 2 }) },
      [{ a: 1 }],
      'text',
      42,
      null,
      throwing,
    ];
    for (const record of declined) expect(readJsonObjects([{ ok: 1 }, record], 'x.ndjson', { sampleRows: 2 })).toBeNull();
    // A record that could be longer than the record limit is left to the text reader, which reports it.
    expect(readJsonObjects([{ s: 'x'.repeat(200) }], 'x.ndjson', { maxRecordBytes: 1000 })).toBeNull();
    expect(readJsonObjects([{ s: 'x'.repeat(100) }], 'x.ndjson', { maxRecordBytes: 1000 })).not.toBeNull();
  });

  it('types a JS number as its JSON text, and refuses to mix JS fractions with numbers no double holds', () => {
    const numbers = [1.5, 0.1 + 0.2, 1e-7, 1e21, -2.5e300, 123.456, 7, 2 ** 53 + 2, 1e20];
    for (const v of numbers) {
      const direct = new ColumnProfile();
      const text = new ColumnProfile();
      direct.addJsNumber(v);
      text.addJson(Number.isInteger(v) && Math.abs(v) < 1e15 ? v : new JsonNumber(JSON.stringify(v)));
      expect(direct.resolve(), String(v)).toEqual(text.resolve());
    }
    const mixed = new ColumnProfile();
    mixed.addJsNumber(1.5);
    mixed.addJson(new JsonNumber('0.12345678901234567890123'));
    expect(() => mixed.resolve()).toThrow(/addJsNumber is for decoded values only/);
  });

  it("with target columns not inferred, gives the same rows; only those columns' notes differ", async () => {
    const targetSchema: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'n', type: 'long', nullable: true, metadata: {} },
        { name: 'T', type: 'timestamp', nullable: true, metadata: {} },
        { name: 'day', type: 'date', nullable: true, metadata: {} },
        { name: '_eh_offset_1', type: 'string', nullable: true, metadata: {} },
      ],
    };
    const records = [
      { n: 1, t: '2026-01-31T12:00:00Z', day: '31/1/2026', _eh_offset: 'a', extra: 1.5 },
      { n: 'two', t: 'later', day: '1/2/2026', _eh_offset: 'b', extra: 2 },
      { n: 2 ** 40, t: null, day: '13/12/2026' },
    ];
    const options: ReadOptions = { targetSchema, sampleRows: 3, reservedColumns: ['_eh_offset'] };
    const skipped = readJsonObjects(records, 'x.ndjson', options, { targetColumns: 'skip' });
    expect(skipped).not.toBeNull();
    const got = await collect(skipped!);
    const want = await viaText(records, options);
    expect({ ...got, inference: {} }).toEqual({ ...want, inference: {} });
    // The date column's format still comes from its values (day first here), and new columns are inferred.
    expect(got.inference).toEqual({
      ...want.inference,
      n: expect.stringMatching(/not inferred/),
      t: expect.stringMatching(/not inferred/),
      _eh_offset_1: expect.stringMatching(/not inferred/),
    });
    expect(got.inference.day).toBe(want.inference.day);
    expect(got.inference.extra).toBe(want.inference.extra);
  });
});
