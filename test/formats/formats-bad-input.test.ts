/**
 * Readers on awkward and broken input (fixtures in test/fixtures/formats, written by generate.ts, plus
 * Avro and Parquet files built here): exact rows, exact bad records (row, byte offset, reason), fatal
 * errors, and the accounting rule rowsRead = rowsEmitted + badRecords.length in every case.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import * as arrow from 'apache-arrow';
import { Decompress } from 'fzstd';
import { describe, expect, it } from 'vitest';
import { encodeParquetBuffer, readParquetMetadata } from '../../shared/delta/parquet';
import type { DeltaStruct } from '../../shared/delta/schema';
import { buildVector, readValues } from '../../shared/delta/values';
import { readInput, RESCUED_COLUMN } from '../../shared/formats';
import type { RangedInput, ReadOptions, ReadResult } from '../../shared/formats';
import { spool } from '../../shared/formats/bytes';
import { chunked, readAll } from '../support/formats-harness';
import { avroBlock, avroHeader, person, PERSON_SCHEMA, personBlock, zigzag } from '../support/hostile-binary';
import { avroContainer } from '../support/ingest-inputs';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const DIR = nodePath.join(TEST_DIR, 'fixtures', 'formats');
const fixture = (name: string) => readFileSync(nodePath.join(DIR, name));

function day(y: number, m: number, d: number): number {
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

function micros(iso: string): bigint {
  return BigInt(Date.parse(iso)) * 1000n;
}

/** Read a fixture (in awkward 3-byte chunks unless told) and check the row accounting. */
async function read(name: string, options: ReadOptions = {}, bytes: Uint8Array = fixture(name), chunkSize = 3) {
  const all = await readAll(bytes, name, options, chunkSize);
  const { stats, badRecords } = all.result;
  expect(stats.rowsRead).toBe(stats.rowsEmitted + badRecords.length);
  expect(stats.rowsEmitted).toBe(all.rows.length);
  // A fatal error may stop reading before the end of the stored bytes.
  if (all.result.fatal) expect(stats.bytesRead).toBeLessThanOrEqual(bytes.length);
  else expect(stats.bytesRead).toBe(bytes.length);
  return all;
}

/** Rows without the rescue column when it is null everywhere. */
function plain(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) => {
    expect(r[RESCUED_COLUMN]).toBeNull();
    const { [RESCUED_COLUMN]: _, ...rest } = r;
    return rest;
  });
}

function types(result: ReadResult): Record<string, unknown> {
  return Object.fromEntries(result.schema.fields.map((f) => [f.name, f.type]));
}

describe('CSV and TSV dialects', () => {
  it('strips a UTF-8 BOM and reads CRLF', async () => {
    const { result, rows } = await read('bom.csv');
    expect(result.format).toBe('csv');
    expect(types(result)).toEqual({ id: 'integer', name: 'string', [RESCUED_COLUMN]: 'string' });
    expect(plain(rows)).toEqual([
      { id: 1, name: 'Ann' },
      { id: 2, name: 'Bob' },
    ]);
    expect(result.inference['#csv']).toBe(`delimiter ',' quote '"' escape doubled quote, header, line ending CRLF`);
    expect(result.badRecords).toEqual([]);
  });

  it('reads TSV with commas inside fields and empty fields as null', async () => {
    const { result, rows } = await read('people.tsv');
    expect(result.format).toBe('tsv');
    expect(plain(rows)).toEqual([
      { id: 1, name: 'Ann', note: 'hello, world' },
      { id: 2, name: 'Bob', note: null },
    ]);
  });

  it('detects semicolons, keeps decimal commas as text and reads day-first dotted dates', async () => {
    const { result, rows } = await read('semicolon.csv');
    expect(result.inference).toMatchObject({ price: 'string', booked: 'date d.M.yyyy' });
    expect(result.inference['#csv']).toMatch(/^delimiter ';'/);
    expect(plain(rows)).toEqual([
      { id: 1, price: '3,50', booked: day(2020, 2, 1) },
      { id: 2, price: '4,25', booked: day(2020, 2, 13) },
    ]);
  });

  it('reads backslash-escaped quotes, CR line ends and headerless files', async () => {
    const backslash = await read('backslash.csv', {}, Buffer.from('a,b\n1,"say \\"hi\\""\n2,plain\n'));
    expect(plain(backslash.rows)).toEqual([
      { a: 1, b: 'say "hi"' },
      { a: 2, b: 'plain' },
    ]);
    expect(backslash.result.inference['#csv']).toContain(`escape '\\'`);
    const cr = await read('cr.csv', {}, Buffer.from('a,b\r1,x\r2,y'));
    expect(plain(cr.rows)).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    const headerless = await read('numbers.csv', {}, Buffer.from('1,2\n3,4\n'));
    expect(plain(headerless.rows)).toEqual([
      { _c0: 1, _c1: 2 },
      { _c0: 3, _c1: 4 },
    ]);
    const declared = await read('names.csv', { csv: { header: false } }, Buffer.from('alice,bob\ncarol,dave\n'));
    expect(plain(declared.rows)).toEqual([
      { _c0: 'alice', _c1: 'bob' },
      { _c0: 'carol', _c1: 'dave' },
    ]);
  });

  it('makes ragged rows and text after a closing quote bad records, reading on', async () => {
    const { result, rows } = await read('ragged.csv');
    expect(plain(rows)).toEqual([
      { a: 1, b: 2, c: 3 },
      { a: 13, b: 14, c: 15 },
    ]);
    expect(result.badRecords).toEqual([
      { row: 2, byteOffset: 12, reason: 'expected 3 fields, found 2', raw: '4,5' },
      { row: 3, byteOffset: 16, reason: 'expected 3 fields, found 4', raw: '6,7,8,9' },
      { row: 4, byteOffset: 24, reason: 'unexpected character after closing quote', raw: '10,"x"y,12' },
    ]);
    expect(result.stats.rowsRead).toBe(5);
  });

  it('makes an unclosed quote at the end a bad record and keeps the rows before it', async () => {
    const { result, rows } = await read('unclosed-quote.csv');
    expect(plain(rows)).toEqual([{ a: 1, b: 'x' }]);
    expect(result.badRecords).toEqual([{ row: 2, byteOffset: 8, reason: 'unclosed quote at end of file', raw: '2,"never closed\n3,y\n' }]);
    expect(result.fatal).toBeUndefined();
  });

  it('reports invalid UTF-8 with the row and byte offset and never replaces bytes', async () => {
    const bytes = fixture('invalid-utf8.csv');
    const { result, rows } = await read('invalid-utf8.csv');
    expect(plain(rows)).toEqual([
      { id: 1, name: 'Ann' },
      { id: 3, name: 'Cy' },
    ]);
    expect(result.badRecords).toEqual([
      { row: 2, byteOffset: bytes.indexOf('2,B'), reason: `invalid UTF-8 byte 0xff at byte offset ${bytes.indexOf(0xff)}`, raw: '2,B\ufffdb' },
    ]);
  });

  it('makes invalid UTF-8 in the header fatal', async () => {
    const { result, rows } = await read('invalid-utf8-header.csv');
    expect(rows).toEqual([]);
    expect(result.fatal).toEqual({ byteOffset: 5, reason: 'invalid UTF-8 byte 0xc3 at byte offset 5 in the header' });
  });
});

describe('detection and declared options', () => {
  it('detects formats from magic bytes, extension and content', async () => {
    const csv = await read('data.dat', {}, Buffer.from('a|b\n1|2\n'));
    expect([csv.result.format, csv.result.inference['#csv']]).toEqual(['csv', `delimiter '|' quote '"' escape doubled quote, header, line ending LF`]);
    const pdf = await read('report.pdf', {}, Buffer.from('%PDF-1.7\nplain looking header\n'));
    expect([pdf.result.format, pdf.rows[0].contentType]).toEqual(['binary', 'application/pdf']);
    const single = await read('one.json', {}, Buffer.from('{\n  "a": 1,\n  "b": [1, 2]\n}\n'));
    expect([single.result.format, plain(single.rows)]).toEqual(['json', [{ a: 1, b: '[1, 2]' }]]);
    const parquetNamed = await read('data.bin', {}, fixture('bom.csv'));
    expect(parquetNamed.result.format).toBe('csv');
  });

  it('honours declared format, dialect and encoding', async () => {
    const notParquet = await read('data.csv', { format: 'parquet' }, fixture('bom.csv'));
    expect(notParquet.result.fatal?.reason).toBe('not a Parquet file (no PAR1 magic at the start)');
    const declared = await read('x.csv', { csv: { delimiter: ';', header: true } }, Buffer.from('a,b;c\n1,2;3\n'));
    // The header `a,b` is not a storable column name: it is stored as `a_b`, and the rename recorded.
    expect(plain(declared.rows)).toEqual([{ a_b: '1,2', c: 3 }]);
    expect(declared.result.inference['#columns']).toBe('{"a,b":"a_b"}');
    const latin1 = await read('x.csv', { csv: { encoding: 'latin1' } }, Buffer.from([0x6e, 0x0a, 0x43, 0x61, 0x66, 0xe9, 0x0a]));
    expect(plain(latin1.rows)).toEqual([{ n: 'Café' }]);
  });
});

describe('CSV batching', () => {
  it('keeps row numbers, offsets and order of bad records across batches and chunk boundaries', async () => {
    const lines = ['n,text'];
    for (let i = 1; i <= 100; i++) lines.push(i === 10 ? '10' : i === 35 ? '35,a,b' : i === 70 ? '70,"x"y' : `${i},t${i}`);
    let text = lines.join('\n') + '\n';
    const bytes = Buffer.from(text.replace('50,t50', '50,t\u00e9'));
    const bad = bytes.indexOf(Buffer.from('t\u00e9')) + 1;
    bytes[bad] = 0xfe;
    text = bytes.toString('latin1');
    const { result, rows, batchSizes } = await read('many.csv', { batchRows: 7, sampleRows: 20 }, bytes, 5);
    const good = Array.from({ length: 100 }, (_, i) => i + 1).filter((n) => ![10, 35, 50, 70].includes(n));
    expect(rows.map((r) => r.n)).toEqual(good);
    expect(batchSizes.slice(0, -1).every((n) => n === 7)).toBe(true);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(96);
    expect(result.badRecords.map((b) => [b.row, b.byteOffset, b.reason])).toEqual([
      [10, text.indexOf('\n10\n') + 1, 'expected 2 fields, found 1'],
      [35, text.indexOf('\n35,') + 1, 'expected 2 fields, found 3'],
      [50, text.indexOf('\n50,') + 1, `invalid UTF-8 byte 0xfe at byte offset ${bad}`],
      [70, text.indexOf('\n70,') + 1, 'unexpected character after closing quote'],
    ]);
  });

  it('reads a record far longer than the chunks and the head', async () => {
    const long = 'x'.repeat(300_000) + '\n""quoted""\n';
    const bytes = Buffer.from(`id,body\n1,"${long.replace(/"/g, '""')}"\n2,short\n`);
    const { result, rows } = await read('long.csv', {}, bytes, 1000);
    expect(plain(rows)).toEqual([
      { id: 1, body: long },
      { id: 2, body: 'short' },
    ]);
    expect(result.badRecords).toEqual([]);
  });
});

describe('compression', () => {
  const ledger = zlib.gunzipSync(fixture('ledger.csv.gz')).toString('utf8');
  const ledgerLines = ledger.trim().split('\n').slice(1);

  it.each(['ledger.csv.gz', 'ledger.tsv.zst'])('streams %s', async (name) => {
    const { result, rows, batchSizes } = await read(name, { batchRows: 1000 }, fixture(name), 1000);
    expect(result.compression).toBe(name.endsWith('.gz') ? 'gzip' : 'zstd');
    expect(result.format).toBe(name.includes('.tsv') ? 'tsv' : 'csv');
    expect(types(result)).toEqual({ id: 'integer', account: 'string', amount: 'double', booked: 'date', [RESCUED_COLUMN]: 'string' });
    expect(batchSizes).toEqual([1000, 1000, 1000]);
    expect(rows).toHaveLength(3000);
    expect(rows.map((r) => `${r.id},${r.account},${r.amount},${new Date((r.booked as number) * 86_400_000).toISOString().slice(0, 10)}`)).toEqual(ledgerLines);
    expect(result.fatal).toBeUndefined();
  });

  it.each(['events.ndjson.gz', 'events.json.zst'])('streams %s', async (name) => {
    const { result, rows } = await read(name, {}, fixture(name), 5);
    expect(result.format).toBe(name.includes('ndjson') ? 'ndjson' : 'json');
    expect(plain(rows)).toEqual(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, ok: i % 2 === 0 })));
  });

  it('emits the rows before the damage of a truncated gzip file and reports the rest as fatal', async () => {
    const stored = fixture('ledger-truncated.csv.gz');
    // What zlib itself can decode from the truncated stream.
    const prefix = zlib.gunzipSync(stored, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
    const lastEnd = prefix.lastIndexOf('\n') + 1;
    const complete = prefix.slice(0, lastEnd).trim().split('\n').slice(1);
    const { result, rows } = await read('ledger-truncated.csv.gz', {}, stored, 4096);
    expect(rows.map((r) => r.id)).toEqual(complete.map((_, i) => i + 1));
    expect(result.badRecords).toEqual([]);
    expect(result.fatal).toEqual({
      byteOffset: lastEnd,
      reason: `corrupt or truncated gzip data (unexpected end of file) at compressed byte ${stored.length}; the input from decompressed byte offset ${lastEnd} on is lost`,
    });
  });

  it('emits the rows before the damage of a truncated zstd file and reports the rest as fatal', async () => {
    const stored = fixture('ledger-truncated.csv.zst');
    const parts: Uint8Array[] = [];
    const z = new Decompress((chunk) => parts.push(chunk));
    z.push(stored);
    const prefix = Buffer.concat(parts).toString('utf8');
    const lastEnd = prefix.lastIndexOf('\n') + 1;
    const complete = prefix.slice(0, lastEnd).trim().split('\n').slice(1);
    const { result, rows } = await read('ledger-truncated.csv.zst', {}, stored, 4096);
    expect(rows.map((r) => r.id)).toEqual(complete.map((_, i) => i + 1));
    expect(result.fatal).toEqual({
      byteOffset: lastEnd,
      reason: `corrupt or truncated zstd data (unexpected EOF) at compressed byte ${stored.length}; the input from decompressed byte offset ${lastEnd} on is lost`,
    });
  });

  it('reports a gzip file whose header is broken as fatal before any row', async () => {
    const { result, rows } = await read('broken.csv.gz', {}, Buffer.from('not gzip at all\n1,2\n'));
    expect(rows).toEqual([]);
    expect(result.fatal?.reason).toMatch(/^corrupt or truncated gzip data/);
  });
});

describe('empty input', () => {
  it.each([
    ['empty.csv', 'csv', 'none', 'empty file'],
    ['empty.parquet', 'parquet', 'none', 'empty file'],
    ['empty.csv.gz', 'csv', 'gzip', 'empty file (gzip archive with no content)'],
  ])('%s is fatal', async (name, format, compression, reason) => {
    const { result, rows } = await read(name);
    expect(rows).toEqual([]);
    expect(result).toMatchObject({ format, compression, fatal: { byteOffset: 0, reason } });
    expect(result.stats).toMatchObject({ rowsRead: 0, rowsEmitted: 0 });
  });

  it('treats a header-only CSV as zero rows, not as an error', async () => {
    const { result, rows } = await read('header.csv', {}, Buffer.from('a,b\n'));
    expect(rows).toEqual([]);
    expect(result.fatal).toBeUndefined();
    expect(types(result)).toEqual({ a: 'string', b: 'string', [RESCUED_COLUMN]: 'string' });
  });

  it('reports a file that is not Parquet', async () => {
    const { result } = await read('fake.parquet', {}, Buffer.from('id,name\n1,x\n'), 100);
    expect(result.fatal).toEqual({ byteOffset: 0, reason: 'not a Parquet file (no PAR1 magic at the start)' });
  });
});

describe('NDJSON and JSON', () => {
  it('makes malformed lines bad records with their line numbers and reads the lines around them', async () => {
    const bytes = fixture('events.ndjson');
    const text = bytes.toString('utf8');
    const { result, rows } = await read('events.ndjson');
    expect(result.format).toBe('ndjson');
    expect(result.inference).toMatchObject({
      id: 'integer',
      kind: 'string',
      at: 'timestamp ISO-8601 (zone-less values read as UTC)',
      extra: 'string (nested JSON kept as text)',
    });
    expect(plain(rows)).toEqual([
      { id: 1, kind: 'open', at: micros('2024-01-01T10:00:00Z'), extra: null },
      { id: 5, kind: 'close', at: micros('2024-01-01T10:30:00Z'), extra: '{"n":[1,2]}' },
    ]);
    expect(result.badRecords).toEqual([
      { row: 2, byteOffset: text.indexOf('{"id":2'), reason: 'malformed JSON: unexpected end of input at character 16', raw: '{"id":2,"kind":' },
      { row: 4, byteOffset: text.indexOf('[1,2]'), reason: 'not a JSON object (an array)', raw: '[1,2]' },
    ]);
    expect(result.stats.rowsRead).toBe(4);
  });

  it('keeps nested JSON as its text, numbers exact, and types JSON arrays of objects', async () => {
    const { result, rows } = await read('orders.json');
    expect(result.format).toBe('json');
    expect(types(result)).toEqual({ id: 'integer', total: 'double', tags: 'string', customer: 'string', [RESCUED_COLUMN]: 'string' });
    expect(plain(rows)).toEqual([
      { id: 1, total: 1.1, tags: '[\n      "a",\n      "b"\n    ]', customer: '{\n      "name": "Ann"\n    }' },
      { id: 2, total: 20, tags: '[]', customer: null },
    ]);
  });

  it('never rounds numbers: big integers become decimal(38,0), long decimals decimal(38,s)', async () => {
    const input = Buffer.from(
      [
        '{"big": 12345678901234567890123, "id": 9007199254740993, "precise": 0.12345678901234567891, "small": 1.5}',
        '{"big": 1, "id": 2, "precise": 1, "small": 2}',
      ].join('\n'),
    );
    const { result, rows } = await read('numbers.ndjson', {}, input);
    expect(types(result)).toEqual({ big: 'decimal(38,0)', id: 'long', precise: 'decimal(38,20)', small: 'double', [RESCUED_COLUMN]: 'string' });
    expect(plain(rows)).toEqual([
      { big: 12345678901234567890123n, id: 9007199254740993n, precise: 12345678901234567891n, small: 1.5 },
      { big: 1n, id: 2n, precise: 100000000000000000000n, small: 2 },
    ]);
  });

  it('rescues keys first seen after the sample and values that do not fit', async () => {
    const input = Buffer.from('{"a":1}\n{"a":2}\n{"a":"x","b":true}\n{"a":4,"c":{"d":[1]}}\n');
    const { result, rows } = await read('late.ndjson', { sampleRows: 2 }, input);
    expect(types(result)).toEqual({ a: 'integer', [RESCUED_COLUMN]: 'string' });
    expect(rows).toEqual([
      { a: 1, [RESCUED_COLUMN]: null },
      { a: 2, [RESCUED_COLUMN]: null },
      { a: null, [RESCUED_COLUMN]: '{"a":"x","b":true}' },
      { a: 4, [RESCUED_COLUMN]: '{"c":{"d":[1]}}' },
    ]);
    expect(result.stats.rowsWithRescued).toBe(2);
  });

  it('makes a JSON array cut inside an element a bad record', async () => {
    const input = Buffer.from('[{"a":1},{"a":2},{"a":');
    const { result, rows } = await read('cut.json', {}, input);
    expect(plain(rows)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(result.badRecords).toEqual([{ row: 3, byteOffset: input.lastIndexOf('{'), reason: 'unexpected end of file inside a JSON value', raw: '{"a":' }]);
  });

  it('reports text that is not JSON as fatal', async () => {
    const { result } = await read('x.json', {}, Buffer.from('id,name\n1,x\n'));
    expect(result.fatal).toEqual({ byteOffset: 0, reason: 'not JSON: the text starts with "i", not with [ or {' });
  });
});

describe('inference and conversion', () => {
  it('rescues values after the sample that do not fit the inferred type', async () => {
    const input = Buffer.from('id,qty,code\n1,5,007\n2,6,0123\n3,abc,9\n4,2147483648,x\n');
    const { result, rows } = await read('rescue.csv', { sampleRows: 2 }, input);
    expect(result.inference).toMatchObject({ id: 'integer', qty: 'integer', code: 'string (leading zeros)' });
    expect(rows).toEqual([
      { id: 1, qty: 5, code: '007', [RESCUED_COLUMN]: null },
      { id: 2, qty: 6, code: '0123', [RESCUED_COLUMN]: null },
      { id: 3, qty: null, code: '9', [RESCUED_COLUMN]: '{"qty":"abc"}' },
      { id: 4, qty: null, code: 'x', [RESCUED_COLUMN]: '{"qty":"2147483648"}' },
    ]);
    expect(result.stats.rowsWithRescued).toBe(2);
  });

  it('infers int32, int64, decimal, double, boolean, timestamps', async () => {
    const input = Buffer.from(
      [
        'i,l,d,mix,f,b,ts',
        '1,3000000000,99999999999999999999,1,1.10,TRUE,2024-01-02T03:04:05Z',
        '-2,-1,1,2.5,0.5,false,2024-01-02 03:04:05.123456',
        '3,4,5,3,1e3,True,2024-01-02T04:04:05+01:00',
      ].join('\n'),
    );
    const { result, rows } = await read('types.csv', {}, input);
    expect(types(result)).toEqual({
      i: 'integer',
      l: 'long',
      d: 'decimal(38,0)',
      mix: 'double',
      f: 'double',
      b: 'boolean',
      ts: 'timestamp',
      [RESCUED_COLUMN]: 'string',
    });
    expect(plain(rows)).toEqual([
      { i: 1, l: 3000000000n, d: 99999999999999999999n, mix: 1, f: 1.1, b: true, ts: micros('2024-01-02T03:04:05Z') },
      { i: -2, l: -1n, d: 1n, mix: 2.5, f: 0.5, b: false, ts: micros('2024-01-02T03:04:05Z') + 123456n },
      { i: 3, l: 4n, d: 5n, mix: 3, f: 1000, b: true, ts: micros('2024-01-02T03:04:05Z') },
    ]);
  });

  it('keeps decimals a double cannot hold as decimal, and never swaps day and month', async () => {
    const input = Buffer.from('amount,us,ambiguous\n0.1000000000000000055511151231257827,1/13/2020,01/02/2020\n2.5,12/1/2020,03/04/2020\n');
    const { result, rows } = await read('dates.csv', {}, input);
    expect(result.inference).toEqual(
      expect.objectContaining({
        amount: 'decimal(38,34) (more digits than a double holds)',
        us: 'date M/d/yyyy',
        ambiguous: 'string (ambiguous dates: M/d/yyyy or d/M/yyyy (no day above 12 in the sample))',
      }),
    );
    expect(plain(rows)).toEqual([
      { amount: 1000000000000000055511151231257827n, us: day(2020, 1, 13), ambiguous: '01/02/2020' },
      { amount: 25000000000000000000000000000000000n, us: day(2020, 12, 1), ambiguous: '03/04/2020' },
    ]);
    const us = await read('dates.csv', { schemaHints: { ambiguous: 'date' } }, input);
    expect(us.result.inference.ambiguous).toMatch(/^date M\/d\/yyyy \(hint;/);
    expect(us.rows.map((r) => r.ambiguous)).toEqual([day(2020, 1, 2), day(2020, 3, 4)]);
    const dm = await read('dates.csv', { schemaHints: { AMBIGUOUS: 'date d/M/yyyy' } }, input);
    expect(dm.rows.map((r) => r.ambiguous)).toEqual([day(2020, 2, 1), day(2020, 4, 3)]);
  });

  it('lets hints override inference and rescues what does not fit them', async () => {
    const input = Buffer.from('code,qty\n007,1\n008,x\n');
    const { result, rows } = await read('hints.csv', { schemaHints: { code: 'integer', qty: 'string' } }, input);
    expect(types(result)).toEqual({ code: 'integer', qty: 'string', [RESCUED_COLUMN]: 'string' });
    // Leading zeros would be lost in a number: the text is rescued.
    expect(rows).toEqual([
      { code: null, qty: '1', [RESCUED_COLUMN]: '{"code":"007"}' },
      { code: null, qty: 'x', [RESCUED_COLUMN]: '{"code":"008"}' },
    ]);
    await expect(
      readInput(
        (async function* () {
          yield input;
        })(),
        'h.csv',
        { schemaHints: { code: 'money' } },
      ),
    ).rejects.toThrow(/unknown type "money"/);
  });

  it('puts target columns first with their types, appends new ones, nulls missing ones', async () => {
    const target: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'qty', type: 'long', nullable: true, metadata: {} },
        { name: 'ID', type: 'string', nullable: true, metadata: {} },
        { name: 'booked', type: 'date', nullable: true, metadata: {} },
        { name: RESCUED_COLUMN, type: 'string', nullable: true, metadata: {} },
      ],
    };
    const input = Buffer.from('id,qty,extra\n1,5,a\n2,lots,b\n');
    const { result, rows } = await read('target.csv', { targetSchema: target }, input);
    expect(result.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ['qty', 'long'],
      ['ID', 'string'],
      ['booked', 'date'],
      ['extra', 'string'],
      [RESCUED_COLUMN, 'string'],
    ]);
    expect(result.newFields).toEqual([{ name: 'extra', type: 'string', nullable: true, metadata: {} }]);
    expect(rows).toEqual([
      { qty: 5n, ID: '1', booked: null, extra: 'a', [RESCUED_COLUMN]: null },
      { qty: null, ID: '2', booked: null, extra: 'b', [RESCUED_COLUMN]: '{"qty":"lots"}' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Avro (Event Hubs Capture layout), Parquet, binary
// ---------------------------------------------------------------------------------------------------

const CAPTURE_SCHEMA = {
  type: 'record',
  name: 'EventData',
  namespace: 'Microsoft.ServiceBus.Messaging',
  fields: [
    { name: 'SequenceNumber', type: 'long' },
    { name: 'Offset', type: 'string' },
    { name: 'EnqueuedTimeUtc', type: 'string' },
    { name: 'SystemProperties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes'] } },
    { name: 'Properties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes', 'null'] } },
    { name: 'Body', type: ['null', 'bytes'] },
  ],
};

function captureEvents(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    SequenceNumber: 100 + i,
    Offset: String(4096 * i),
    EnqueuedTimeUtc: i === 1 ? 'not a time' : `9/13/2018 10:42:0${i} PM`,
    SystemProperties: { 'x-opt-sequence-number': { long: 100 + i }, 'x-opt-partition-key': { string: `k${i}` } },
    Properties: i === 0 ? { source: { string: 'sensor' }, blob: { bytes: Buffer.from([1, 2]) }, none: null } : {},
    Body: i === 2 ? null : { bytes: Buffer.from(JSON.stringify({ reading: i })) },
  }));
}

/** A Capture-layout Avro file. */
function avroFile(records: unknown[], codec: string, blockSize?: number, codecs?: Record<string, unknown>): Promise<Buffer> {
  return avroContainer(CAPTURE_SCHEMA, records, { codec, blockSize, codecs });
}

/** The CRC32C that Avro appends to a snappy block, computed bit by bit (independently of the reader's table). */
function avroSnappyChecksum(buf: Buffer): Buffer {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return crc;
}

/** Snappy "compression" using literals only (valid Snappy), with Avro's CRC32C suffix. */
function snappyLiteral(buf: Buffer, cb: (err: Error | null, out?: Buffer) => void): void {
  const header: number[] = [];
  for (let n = buf.length; ; n = Math.floor(n / 128)) {
    header.push(n >= 128 ? (n & 0x7f) | 0x80 : n);
    if (n < 128) break;
  }
  const parts: Buffer[] = [Buffer.from(header)];
  for (let at = 0; at < buf.length; at += 60) {
    const piece = buf.subarray(at, at + 60);
    parts.push(Buffer.from([(piece.length - 1) << 2]), piece);
  }
  cb(null, Buffer.concat([...parts, avroSnappyChecksum(buf)]));
}

/**
 * Snappy compression that back-references repeats (copy elements with 1- and 2-byte offsets, found by
 * a naive search), with Avro's CRC32C suffix; `copies` counts the copy elements written.
 */
function snappyWithCopies(copies: { count: number }) {
  return (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void): void => {
    const out: number[] = [];
    for (let n = buf.length; ; n = Math.floor(n / 128)) {
      out.push(n >= 128 ? (n & 0x7f) | 0x80 : n);
      if (n < 128) break;
    }
    let literal: number[] = [];
    const flush = () => {
      for (let at = 0; at < literal.length; at += 60) {
        const piece = literal.slice(at, at + 60);
        out.push((piece.length - 1) << 2, ...piece);
      }
      literal = [];
    };
    for (let p = 0; p < buf.length;) {
      let best = 0;
      let offset = 0;
      for (let q = Math.max(0, p - 2047); q < p; q++) {
        let n = 0;
        while (n < 64 && p + n < buf.length && buf[q + n] === buf[p + n]) n++;
        if (n > best) [best, offset] = [n, p - q];
      }
      if (best < 4) {
        literal.push(buf[p++]);
        continue;
      }
      flush();
      copies.count++;
      // Short copies take the 1-byte-offset form (length 4-11, offset < 2048), longer ones 2 bytes.
      if (best <= 11) out.push(1 | ((best - 4) << 2) | ((offset >> 8) << 5), offset & 0xff);
      else out.push(2 | ((best - 1) << 2), offset & 0xff, offset >> 8);
      p += best;
    }
    flush();
    cb(null, Buffer.concat([Buffer.from(out), avroSnappyChecksum(buf)]));
  };
}

describe('Avro (Event Hubs Capture)', () => {
  const expectedRows = (n: number) =>
    captureEvents(n).map((e, i) => ({
      SequenceNumber: BigInt(100 + i),
      Offset: String(4096 * i),
      EnqueuedTimeUtc: i === 1 ? null : micros(`2018-09-13T22:42:0${i}Z`),
      SystemProperties: `{"x-opt-sequence-number":${100 + i},"x-opt-partition-key":"k${i}"}`,
      Properties: i === 0 ? '{"source":"sensor","blob":"AQI=","none":null}' : '{}',
      Body: e.Body ? new Uint8Array(e.Body.bytes) : null,
      [RESCUED_COLUMN]: i === 1 ? '{"EnqueuedTimeUtc":"not a time"}' : null,
    }));

  it.each(['null', 'deflate', 'snappy'])('reads the capture layout (codec %s)', async (codec) => {
    const bytes = await avroFile(captureEvents(4), codec, undefined, codec === 'snappy' ? { snappy: snappyLiteral } : undefined);
    const { result, rows } = await read('capture.avro', {}, bytes, 50);
    expect(result.format).toBe('avro');
    expect(result.inference['#avro']).toBe('Event Hubs Capture layout');
    expect(types(result)).toEqual({
      SequenceNumber: 'long',
      Offset: 'string',
      EnqueuedTimeUtc: 'timestamp',
      SystemProperties: 'string',
      Properties: 'string',
      Body: 'binary',
      [RESCUED_COLUMN]: 'string',
    });
    expect(rows).toEqual(expectedRows(4));
    expect(result.stats).toMatchObject({ rowsRead: 4, rowsEmitted: 4, rowsWithRescued: 1 });
  });

  it('reads snappy blocks that back-reference earlier bytes, and makes a corrupt back-reference one bad block', async () => {
    const copies = { count: 0 };
    const bytes = await avroFile(captureEvents(4), 'snappy', undefined, { snappy: snappyWithCopies(copies) });
    expect(copies.count).toBeGreaterThan(5);
    const { result, rows } = await read('capture.avro', {}, bytes, 50);
    expect(rows).toEqual(expectedRows(4));
    expect(result.stats).toMatchObject({ rowsRead: 4, rowsEmitted: 4 });
    // 6 bytes declared: a literal "ab", then a 4-byte copy from 3 bytes back, before the start of the output.
    const badCopy = (_buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, Buffer.from([6, 1 << 2, 0x61, 0x62, 1, 3, 0, 0, 0, 0]));
    const corrupt = await avroFile(captureEvents(2), 'snappy', undefined, { snappy: badCopy });
    const bad = await read('corrupt.avro', {}, corrupt, 50);
    expect(bad.rows).toEqual([]);
    expect(bad.result.badRecords).toEqual([
      expect.objectContaining({
        reason: expect.stringMatching(/bad Avro block at byte offset \d+: corrupt snappy data \(cannot copy from before start of buffer\)/),
      }),
    ]);
  });

  it('emits the complete blocks of a truncated file and reports the cut block as fatal', async () => {
    const bytes = await avroFile(captureEvents(40), 'null', 200);
    const cut = bytes.subarray(0, bytes.length - 30);
    const { result, rows } = await read('capture.avro', {}, cut, 64);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(40);
    expect(rows.map((r) => r.SequenceNumber)).toEqual(rows.map((_, i) => BigInt(100 + i)));
    expect(result.fatal?.reason).toBe(`truncated Avro file: the block at byte offset ${result.fatal?.byteOffset} is incomplete`);
    expect(result.badRecords).toEqual([]);
  });
});

describe('Avro that lies', () => {
  it('honours maxRecordBytes for blocks and the header', async () => {
    const header = avroHeader(PERSON_SCHEMA);
    const big = avroBlock(40, Buffer.concat(Array.from({ length: 40 }, (_, i) => person(i, 'x'.repeat(30)))));
    const bytes = Buffer.concat([header, personBlock(1, 2), big, personBlock(3, 2)]);
    const { result, rows } = await read('people.avro', { maxRecordBytes: 1024 }, bytes, 64);
    expect(rows.map((r) => r.id)).toEqual([1n, 2n, 3n, 4n]);
    expect(result.badRecords).toEqual([
      {
        byteOffset: header.length + personBlock(1, 2).length,
        reason: expect.stringMatching(
          /^bad Avro block at byte offset \d+: it declares 1\d{3} bytes, more than the limit of 1024 bytes; reading resumed after the sync marker ending at byte offset \d+$/,
        ),
      },
    ]);
    const { result: small } = await read('people.avro', { maxRecordBytes: 64 }, bytes, 64);
    expect(small.fatal).toEqual({
      byteOffset: 0,
      reason: `corrupt Avro header: the length of metadata value avro.schema is ${JSON.stringify(PERSON_SCHEMA).length}, more than a header of at most 64 bytes can hold`,
    });
  });

  it('refuses enum and union indexes out of range and values nested deeper than 512 levels, one bad block each', async () => {
    const schema = {
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['a', 'b'] } },
        { name: 'next', type: ['null', 'Node'] },
      ],
    };
    const leaf = Buffer.concat([zigzag(0), zigzag(0)]);
    // 600 nodes deep: kind a, then branch 1 (a Node) each time, a null at the bottom.
    const deep = Buffer.concat([...Array.from({ length: 600 }, () => Buffer.concat([zigzag(0), zigzag(1)])), leaf]);
    const header = avroHeader(schema);
    const blocks = [
      avroBlock(1, leaf),
      avroBlock(1, Buffer.concat([zigzag(5), zigzag(0)])),
      avroBlock(1, Buffer.concat([zigzag(0), zigzag(2)])),
      avroBlock(1, deep),
      avroBlock(1, leaf),
    ];
    const { result, rows } = await read('nodes.avro', {}, Buffer.concat([header, ...blocks]), 50);
    expect(rows).toHaveLength(2);
    expect(result.badRecords.map((r) => r.reason.replace(/^bad Avro block at byte offset \d+: /, ''))).toEqual([
      'record 1 of the 1 it declares: enum index 5 is not one of the 2 symbols',
      'record 1 of the 1 it declares: union index 2 is not one of the 2 branches',
      'record 1 of the 1 it declares: values nested more than 512 levels deep',
    ]);
    expect(result.stats).toMatchObject({ rowsRead: 5, rowsEmitted: 2 });
  });
});

describe('Avro logical types', () => {
  it('decodes primitives written in object form exactly, with their logical types', async () => {
    const schema = {
      type: 'record',
      name: 'Reading',
      fields: [
        { name: 'big', type: { type: 'long' } },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'local', type: ['null', { type: 'long', logicalType: 'local-timestamp-micros' }] },
        { name: 'day', type: { type: 'int', logicalType: 'date' } },
        { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 3 } },
      ],
    };
    // Before the fix these decoded as JS numbers (exact only below 2^53) and timestamps failed to convert.
    const big = 2 ** 52 - 1;
    const price = Buffer.from([0xff, 0xfe]); // -2 unscaled: -0.002
    const bytes = await avroContainer(schema, [{ big, at: 1_700_000_000_123, local: { long: 5 }, day: 19_000, price }]);
    const { result, rows } = await read('reading.avro', {}, bytes, 40);
    expect(result.badRecords).toEqual([]);
    expect(types(result)).toEqual({ big: 'long', at: 'timestamp', local: 'timestamp_ntz', day: 'date', price: 'decimal(9,3)', [RESCUED_COLUMN]: 'string' });
    expect(rows).toEqual([{ big: BigInt(big), at: 1_700_000_000_123_000n, local: 5n, day: 19_000, price: -2n, [RESCUED_COLUMN]: null }]);
    expect(result.stats).toMatchObject({ rowsRead: 1, rowsEmitted: 1 });
  });
});

describe('Parquet', () => {
  async function parquetBytes(): Promise<Uint8Array> {
    const table = new arrow.Table({
      id: buildVector('long', [1n, 2n, 3n]),
      name: buildVector('string', ['a', null, 'c']),
      at: buildVector('timestamp', [0n, 1_000_000n, null]),
    });
    return encodeParquetBuffer(table);
  }

  it('maps Parquet columns to their Delta types', async () => {
    const bytes = await parquetBytes();
    const { result, rows } = await read('t.parquet', {}, bytes, 100);
    expect(types(result)).toEqual({ id: 'long', name: 'string', at: 'timestamp', [RESCUED_COLUMN]: 'string' });
    expect(plain(rows)).toEqual([
      { id: 1n, name: 'a', at: 0n },
      { id: 2n, name: null, at: 1_000_000n },
      { id: 3n, name: 'c', at: null },
    ]);
  });

  it('converts to the target schema, rescuing what does not fit', async () => {
    const bytes = await parquetBytes();
    const target: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'name', type: 'integer', nullable: true, metadata: {} },
        { name: 'id', type: 'string', nullable: true, metadata: {} },
      ],
    };
    const { result, rows } = await read('t.parquet', { targetSchema: target }, bytes, 100);
    expect(result.newFields.map((f) => f.name)).toEqual(['at']);
    expect(rows.map((r) => [r.name, r.id, r[RESCUED_COLUMN]])).toEqual([
      [null, '1', '{"name":"a"}'],
      [null, '2', null],
      [null, '3', '{"name":"c"}'],
    ]);
  });

  it('makes a row group that fails to decode one bad record and reads the others', async () => {
    const table = new arrow.Table({ id: buildVector('long', [1n, 2n, 3n, 4n, 5n, 6n]), name: buildVector('string', ['a', 'b', 'c', 'd', 'e', 'f']) });
    const bytes = Buffer.from(await encodeParquetBuffer(table, { rowGroupRows: 2 }));
    // Overwrite the middle row group's column chunks (everything but their first byte) with garbage.
    const metadata = await readParquetMetadata(bytes);
    const chunks = metadata.row_groups[1].columns.map((c) => c.meta_data!);
    const start = Math.min(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset)));
    const end = Math.max(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset) + Number(m.total_compressed_size)));
    bytes.fill(0xee, start + 1, end);
    // Before row groups were read one by one, the whole file was unreadable (a fatal, no rows).
    const { result, rows } = await read('t.parquet', {}, bytes, 100);
    expect(result.fatal).toBeUndefined();
    expect(plain(rows)).toEqual([
      { id: 1n, name: 'a' },
      { id: 2n, name: 'b' },
      { id: 5n, name: 'e' },
      { id: 6n, name: 'f' },
    ]);
    expect(result.badRecords).toHaveLength(1);
    expect(result.badRecords[0].byteOffset).toBe(start);
    expect(result.badRecords[0].reason).toMatch(/^bad Parquet row group 1 \(of 3, 2 rows declared\) at byte offset \d+: it fails to decode \(/);
    expect(result.stats).toMatchObject({ rowsRead: 5, rowsEmitted: 4 });
  });

  it('reads a healthy file in full while a corrupt one makes the decoder trap beside it', async () => {
    const rows = (from: number) =>
      new arrow.Table({
        id: buildVector(
          'long',
          Array.from({ length: 6 }, (_, i) => BigInt(from + i)),
        ),
        name: buildVector('string', ['a', 'b', 'c', 'd', 'e', 'f']),
      });
    const healthy = Buffer.from(await encodeParquetBuffer(rows(100), { rowGroupRows: 2 }));
    const corrupt = Buffer.from(await encodeParquetBuffer(rows(0), { rowGroupRows: 2 }));
    const chunks = (await readParquetMetadata(corrupt)).row_groups[1].columns.map((c) => c.meta_data!);
    const start = Math.min(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset)));
    corrupt.fill(0xee, start + 1, Math.max(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset) + Number(m.total_compressed_size))));
    // The healthy file's first read of row group data waits at a gate while the corrupt file is read.
    const firstGroup = (await readParquetMetadata(healthy)).row_groups[0].columns.map((c) => c.meta_data!);
    const firstData = Math.min(...firstGroup.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset)));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let waiting!: () => void;
    const blocked = new Promise<void>((resolve) => (waiting = resolve));
    let held = false;
    const input: RangedInput = {
      size: healthy.length,
      [Symbol.asyncIterator]: () => chunked(healthy, 100)[Symbol.asyncIterator](),
      readRange: async (offset, length) => {
        if (!held && offset === firstData) {
          held = true;
          waiting();
          await gate;
        }
        return healthy.subarray(offset, offset + length);
      },
      verify: async () => undefined,
    };
    const result = await readInput(input, 'good.parquet', {});
    const ids: unknown[] = [];
    const reading = (async () => {
      for await (const batch of result.batches) ids.push(...readValues(batch.getChild('id')!, 'long'));
    })();
    await blocked;
    // Decoder calls take turns, so the corrupt file waits for the healthy one's call (then the gate
    // opens after 2 s); were they in flight together, its trap would fail the healthy call too.
    const badRead = read('bad.parquet', {}, corrupt, 100);
    await Promise.race([badRead, new Promise((resolve) => setTimeout(resolve, 2000))]);
    open();
    const bad = await badRead;
    await reading;
    expect(bad.rows.map((r) => r.id)).toEqual([0n, 1n, 4n, 5n]);
    expect(bad.result.badRecords[0].reason).toMatch(/WebAssembly trap/);
    expect(result.badRecords).toEqual([]);
    expect(ids).toEqual([100n, 101n, 102n, 103n, 104n, 105n]);
  });

  it('reads a compressed Parquet file from a spooled copy, in a temporary file beyond the memory bound', async () => {
    const bytes = await parquetBytes();
    const { rows } = await read('t.parquet.gz', {}, zlib.gzipSync(bytes), 100);
    expect(plain(rows).map((r) => r.id)).toEqual([1n, 2n, 3n]);
    const spooled = await spool(chunked(bytes, 7), 16);
    try {
      expect(spooled.size).toBe(bytes.length);
      expect(Buffer.from(await spooled.read(bytes.length - 4, 4)).toString()).toBe('PAR1');
      expect(Buffer.from(await spooled.read(0, bytes.length))).toEqual(Buffer.from(bytes));
      await expect(spooled.read(bytes.length - 2, 4)).rejects.toThrow(/are not within the \d+ bytes of the input/);
    } finally {
      await spooled.close();
    }
  });

  it('reports a truncated Parquet file as fatal', async () => {
    const bytes = await parquetBytes();
    const { result, rows } = await read('t.parquet', {}, bytes.subarray(0, bytes.length - 10), 100);
    expect(rows).toEqual([]);
    expect(result.fatal).toEqual({ byteOffset: bytes.length - 10, reason: 'truncated Parquet file (no PAR1 magic at the end, so no footer)' });
  });
});

describe('binary files', () => {
  it('makes one row of a PNG', async () => {
    const bytes = fixture('pixel.png');
    const when = new Date('2024-05-01T12:00:00Z');
    const { result, rows } = await read('images/pixel.png', { modificationTime: when }, bytes, 16);
    expect(result.format).toBe('binary');
    expect(types(result)).toEqual({
      path: 'string',
      length: 'long',
      modificationTime: 'timestamp',
      contentType: 'string',
      content: 'binary',
      [RESCUED_COLUMN]: 'string',
    });
    expect(plain(rows)).toEqual([
      {
        path: 'images/pixel.png',
        length: BigInt(bytes.length),
        modificationTime: micros('2024-05-01T12:00:00Z'),
        contentType: 'image/png',
        content: new Uint8Array(bytes),
      },
    ]);
  });

  it('keeps files above the inline limit by reference only', async () => {
    const bytes = fixture('pixel.png');
    const { result, rows } = await read('pixel.png', { binaryInlineLimit: 10 }, bytes, 16);
    expect(plain(rows)).toEqual([{ path: 'pixel.png', length: BigInt(bytes.length), modificationTime: null, contentType: 'image/png', content: null }]);
    expect(result.inference.content).toBe(`binary (not inlined: ${bytes.length} bytes > limit 10; read the file at path)`);
  });
});
