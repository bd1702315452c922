/**
 * The NDJSON/JSON byte scanner (shared/formats/json-scan.ts) against the lossless parser
 * (json-text.ts): the same input read with the scanner and without it must give the same schema,
 * inference, rows (`_rescued_data` included), bad records (row, byte offset, reason, raw text) and
 * counters. Each case also checks which records the scanner itself takes, so that a scanner that
 * declined everything could not pass for an exact one.
 */
import { describe, expect, it } from 'vitest';
import type { DeltaStruct } from '../../shared/delta/schema';
import { readValues } from '../../shared/delta/values';
import { ByteReader } from '../../shared/formats/bytes';
import { readJson } from '../../shared/formats/json';
import { JSON_INT, JSON_NUMBER, JSON_STRING, JsonRecordScanner, scannedKey, scannedValue } from '../../shared/formats/json-scan';
import { JsonNumber, parseJsonRecord } from '../../shared/formats/json-text';
import { DEFAULT_BATCH_ROWS, emptyResult, ReadContext } from '../../shared/formats/reader';
import type { ReadOptions } from '../../shared/formats';
import { chunked } from '../support/formats-harness';

/** Everything a read produces, in plain values comparable with toEqual. */
async function readWith(bytes: Uint8Array, format: 'ndjson' | 'json', byteScanner: boolean, options: ReadOptions = {}, chunkSize = 7) {
  const input = new ByteReader(chunked(bytes, chunkSize));
  const result = emptyResult(format, 'none');
  const ctx: ReadContext = {
    name: `t.${format}`,
    options,
    sampleRows: options.sampleRows ?? 2,
    batchRows: options.batchRows ?? DEFAULT_BATCH_ROWS,
    result,
    storedBytes: () => input.count,
  };
  await readJson(input, ctx, format, byteScanner);
  const rows: Record<string, unknown>[] = [];
  for await (const batch of result.batches) {
    const columns = result.schema.fields.map((f, i) => readValues(batch.getChildAt(i)!, f.type));
    for (let r = 0; r < batch.numRows; r++) rows.push(Object.fromEntries(result.schema.fields.map((f, i) => [f.name, columns[i][r]])));
  }
  return { schema: result.schema, inference: result.inference, rows, badRecords: result.badRecords, stats: result.stats, fatal: result.fatal };
}

/** Read with and without the scanner; they must agree. Returns the scanner's read. */
async function same(text: string | Uint8Array, options: ReadOptions = {}, format: 'ndjson' | 'json' = 'ndjson') {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const scanned = await readWith(bytes, format, true, options);
  const lossless = await readWith(bytes, format, false, options);
  expect(scanned).toEqual(lossless);
  // Chunk boundaries anywhere must not matter either.
  expect(await readWith(bytes, format, true, options, 1)).toEqual(lossless);
  return scanned;
}

/** Which of these lines the scanner takes, given the columns. */
function takes(keys: string[], lines: string[]): boolean[] {
  const scanner = new JsonRecordScanner(keys);
  return lines.map((l) => {
    const b = Buffer.from(l);
    return scanner.scan(b, 0, b.length);
  });
}

/** The members the scanner reads from one line, as lossless values. */
function members(keys: string[], line: string): [string, unknown][] | null {
  const scanner = new JsonRecordScanner(keys);
  const b = Buffer.from(line);
  if (!scanner.scan(b, 0, b.length)) return null;
  const out: [string, unknown][] = [];
  for (let m = 0; m < scanner.count; m++) out.push([scannedKey(scanner, b, m), scannedValue(scanner, b, m)]);
  return out;
}

/** The members the lossless parser reads from one line. */
function lossless(line: string): [string, unknown][] | string {
  const out: [string, unknown][] = [];
  return parseJsonRecord(line, (k, v) => out.push([k, v])) ?? out;
}

const HEAD = '{"id":1,"s":"a","n":1.5}\n{"id":2,"s":"b","n":2.5}\n';

describe('JSON byte scanner', () => {
  it('reads escapes, including \\u escapes of one to three UTF-8 bytes, as the lossless parser does', async () => {
    const lines = [
      String.raw`{"id":3,"s":"quote \" backslash \\ slash \/ \b\f\n\r\t end","n":3.5}`,
      String.raw`{"id":4,"s":"\u0041\u00e9\u20ac\u0000\uFFFF","n":4.5}`,
      String.raw`{"id":5,"s":"plain é € 𝄞 raw","n":5.5}`,
    ];
    expect(takes(['id', 's', 'n'], lines)).toEqual([true, true, true]);
    for (const l of lines) expect(members(['id', 's', 'n'], l)).toEqual(lossless(l));
    const { rows } = await same(HEAD + lines.join('\n') + '\n');
    expect(rows.map((r) => r.s)).toEqual(['a', 'b', 'quote " backslash \\ slash / \b\f\n\r\t end', 'A\u00e9\u20ac\u0000\uffff', 'plain é € 𝄞 raw']);
  });

  it('leaves surrogate escapes (pairs and lone halves) to the lossless parser, with the same rows', async () => {
    const lines = [
      String.raw`{"id":3,"s":"\uD834\uDD1E","n":1.5}`,
      String.raw`{"id":4,"s":"lone \uD834 high","n":1.5}`,
      String.raw`{"id":5,"s":"lone \uDD1E low","n":1.5}`,
    ];
    expect(takes(['id', 's', 'n'], lines)).toEqual([false, false, false]);
    const { rows } = await same(HEAD + lines.join('\n'));
    expect(rows[2].s).toBe('𝄞');
    // A lone surrogate has no UTF-8: the string column holds the replacement character.
    expect(rows[3].s).toBe('lone \ufffd high');
  });

  it('keeps numbers at the precision limits exact, typed as the sample decided', async () => {
    const lines = [
      '{"id":999999999999999,"s":"15 digits","n":0.1}',
      '{"id":-999999999999999,"s":"x","n":1e308}',
      '{"id":9007199254740993,"s":"16 digits","n":1.7976931348623157e308}',
      '{"id":123456789012345678901234567890123456789,"s":"39 digits","n":5e-324}',
      '{"id":0,"s":"x","n":0.30000000000000004}',
      '{"id":1.0,"s":"x","n":1E+2}',
      '{"id":-0,"s":"negative zero","n":-0.0}',
    ];
    expect(takes(['id', 's', 'n'], lines)).toEqual([true, true, true, true, true, true, false]);
    for (const l of lines.slice(0, 6)) expect(members(['id', 's', 'n'], l)).toEqual(lossless(l));
    expect(members(['id', 's', 'n'], lines[2])![0][1]).toEqual(new JsonNumber('9007199254740993'));
    // Integer, long and decimal(38,0) columns, and a string column fed numbers.
    for (const sample of ['{"id":1,"s":1,"n":1}', '{"id":4294967296,"s":1,"n":1.25}', '{"id":99999999999999999999,"s":1,"n":1}']) {
      const { rows } = await same(`${sample}\n${sample}\n${lines.join('\n')}\n`);
      expect(rows).toHaveLength(9);
    }
  });

  it('reads nested objects and arrays through the lossless parser, kept as written', async () => {
    const lines = ['{"id":3,"s":{"a": [1, {"b":"}"}]},"n":1.5}', '{"id":4,"s":[ ],"n":1.5}'];
    expect(takes(['id', 's', 'n'], lines)).toEqual([false, false]);
    const { rows } = await same(HEAD + lines.join('\n'));
    expect(rows[2]).toMatchObject({ s: '{"a": [1, {"b":"}"}]}', _rescued_data: null });
    expect(rows[3]).toMatchObject({ s: '[ ]', _rescued_data: null });
  });

  it('rescues duplicate keys and keys first seen after the sample, as the lossless path does', async () => {
    const lines = ['{"id":3,"s":"first","s":"second","n":1.5}', '{"late":"x","id":4,"late":null,"other":2.50,"n":"not a number"}', '{"n":null,"n":7,"id":5}'];
    expect(takes(['id', 's', 'n'], lines)).toEqual([true, true, true]);
    const { rows, stats } = await same(HEAD + lines.join('\n'));
    expect(rows.slice(2).map((r) => r._rescued_data)).toEqual(['{"s":"second"}', '{"late":"x","other":2.50,"n":"not a number"}', null]);
    expect(rows[4].n).toBe(7);
    expect(stats.rowsWithRescued).toBe(2);
  });

  it('skips blank lines, reads CRLF and whitespace everywhere, and counts lines the same', async () => {
    const text = `${HEAD}\r\n   \r\n\t{ "id" : 3 ,\t"s" : "x" , "n" : 1.5 }  \r\n\n{"id":4,"s":"y","n":2}\r\n\r\n`;
    expect(takes(['id', 's', 'n'], ['\t{ "id" : 3 ,\t"s" : "x" , "n" : 1.5 }  '])).toEqual([true]);
    const { rows, stats } = await same(text);
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(stats).toMatchObject({ rowsRead: 4, rowsEmitted: 4 });
  });

  it("reports invalid JSON mid-file with the lossless parser's reason, line and byte offset", async () => {
    const bad = [
      '{"id":3,"s":"x","n":1.5',
      '{"id":4,"s":"x" "n":1}',
      '{"id":05,"s":"x"}',
      '{"id":6,"s":"bad \\q escape"}',
      '{"id":7,"s":"x"} trailing',
      '[1,2]',
      '{"id":tru}',
      '{"id":-,"s":"x"}',
      '{"id":1.,"s":"x"}',
      '{"id":1e,"s":"x"}',
      '{id:1}',
    ];
    expect(takes(['id', 's', 'n'], bad)).toEqual(bad.map(() => false));
    const text = `${HEAD}${bad.join('\n')}\n{"id":8,"s":"after","n":8.5}\n`;
    const { badRecords, rows, stats } = await same(text);
    expect(badRecords).toHaveLength(bad.length);
    expect(badRecords[1]).toEqual({ row: 4, byteOffset: text.indexOf(bad[1]), reason: "malformed JSON: expected ',' or '}' at character 17", raw: bad[1] });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 8]);
    expect(stats).toMatchObject({ rowsRead: 3 + bad.length, rowsEmitted: 3 });
  });

  it('reports a truncated last line and invalid UTF-8 as the lossless path does', async () => {
    await same(`${HEAD}{"id":3,"s":"cut`);
    const { badRecords } = await same(
      Buffer.concat([Buffer.from(`${HEAD}{"id":3,"s":"`), Buffer.from([0xc3, 0x28]), Buffer.from('","n":1}\n{"id":4,"s":"ok","n":1}')]),
    );
    expect(badRecords).toHaveLength(1);
    expect(badRecords[0].reason).toMatch(/^invalid UTF-8 byte 0xc3/);
  });

  it('writes into declared types as the lossless path does, rescuing what does not fit', async () => {
    const targetSchema: DeltaStruct = {
      type: 'struct',
      fields: [
        { name: 'i', type: 'integer', nullable: true, metadata: {} },
        { name: 'b', type: 'byte', nullable: true, metadata: {} },
        { name: 'l', type: 'long', nullable: true, metadata: {} },
        { name: 'd', type: 'double', nullable: true, metadata: {} },
        { name: 'f', type: 'float', nullable: true, metadata: {} },
        { name: 'dec', type: 'decimal(10,2)', nullable: true, metadata: {} },
        { name: 'ok', type: 'boolean', nullable: true, metadata: {} },
        { name: 'day', type: 'date', nullable: true, metadata: {} },
        { name: 'at', type: 'timestamp', nullable: true, metadata: {} },
        { name: 'txt', type: 'string', nullable: true, metadata: {} },
        { name: 'bin', type: 'binary', nullable: true, metadata: {} },
        { name: 'st', type: { type: 'struct', fields: [{ name: 'x', type: 'long', nullable: true, metadata: {} }] }, nullable: true, metadata: {} },
      ],
    };
    const values = [
      '1',
      '-1',
      '300',
      '2147483648',
      '9007199254740993',
      '1.5',
      '1e2',
      '"12"',
      '" 12"',
      'true',
      'false',
      '"true"',
      '"2024-02-29"',
      '"2024-02-30"',
      '"2024-01-01T10:00:00Z"',
      '20240101',
      '"é\\u20ac"',
      '"{\\"x\\":5}"',
      '12.345',
      '0.1',
    ];
    const lines = values.map((v) => `{${targetSchema.fields.map((f) => `"${f.name}":${v}`).join(',')}}`);
    const { rows, stats } = await same([lines[0], lines[0], ...lines].join('\n'), { targetSchema });
    expect(rows).toHaveLength(values.length + 2);
    expect(stats.rowsWithRescued).toBeGreaterThan(10);
    expect(
      takes(
        targetSchema.fields.map((f) => f.name),
        lines,
      ),
    ).toEqual(lines.map(() => true));
  });

  it('reads JSON arrays of objects, elements spanning lines, the same way', async () => {
    await same('[\n {"id":1,"s":"a"},\n {"id":2,\n  "s":"b"},\n {"id":3,"s":"c\\n"}, {"id":"x"} ,{"id":4,"s":"d","n":[1]}\n]', {}, 'json');
  });

  it('agrees with the lossless path on random records, valid and damaged', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const scalars = [
      () => String(Math.floor(random() * 2e9) - 1e9),
      () => (random() * 1000).toFixed(Math.floor(random() * 4)),
      () => pick(['true', 'false', 'null', '0', '-0', '1e5', '123456789012345678', '0.1', '-12.50']),
      () => JSON.stringify(pick(['', 'a,b', 'say "hi"', 'tab\there', 'é€𝄞', '\\', '2024-05-01', '2024-05-01T10:11:12Z', '007'])),
      () => pick(['"\\u00e9\\u0041"', '"\\ud83d\\ude00"', '"x\\/y"', '{"a":1}', '[1,"]"]', '"\\u12"']),
    ];
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const n = 1 + Math.floor(random() * 6);
      const parts: string[] = [];
      for (let k = 0; k < n; k++)
        parts.push(`${random() < 0.1 ? ' ' : ''}"${random() < 0.05 ? 'late' : pick(keys)}":${random() < 0.1 ? ' ' : ''}${pick(scalars)()}`);
      let line = `{${parts.join(',')}}`;
      if (random() < 0.1) {
        // Damage: drop, duplicate or replace one byte.
        const at = Math.floor(random() * line.length);
        const op = random();
        line =
          op < 0.33
            ? line.slice(0, at) + line.slice(at + 1)
            : op < 0.66
              ? line.slice(0, at) + line[at] + line.slice(at)
              : line.slice(0, at) + pick(['"', ',', '}', '\\', 'x', ' ']) + line.slice(at + 1);
      }
      lines.push(line);
    }
    const text = lines.join(random() < 0.5 ? '\n' : '\r\n');
    const scanned = await same(text, { sampleRows: 20 });
    expect(scanned.badRecords.length).toBeGreaterThan(5);
    expect(scanned.rows.length).toBeGreaterThan(300);
    // Most valid records are the scanner's: it must not just decline everything.
    const taken = takes(keys, lines).filter(Boolean).length;
    expect(taken).toBeGreaterThan(200);
    for (const l of lines) {
      const m = members(keys, l);
      if (m) expect(m).toEqual(lossless(l));
    }
  });

  it('finds invalid UTF-8 among many valid lines wherever the chunks end, as the lossless path does', async () => {
    const lines: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const line = Buffer.from(`{"id":${i},"s":"é€ ${'x'.repeat(i % 50)}","n":${i}.5}\n`);
      // A broken sequence every so often: a lone continuation byte, a cut two-byte character, 0xff.
      if (i % 397 === 5) line[line.indexOf('x') > 0 ? line.indexOf('x') : 12] = [0x80, 0xc3, 0xff][i % 3];
      lines.push(line);
    }
    const bytes = Buffer.concat(lines);
    for (const chunk of [4093, 65536, 1 << 20]) {
      const scanned = await readWith(bytes, 'ndjson', true, {}, chunk);
      const lossless = await readWith(bytes, 'ndjson', false, {}, chunk);
      expect(scanned).toEqual(lossless);
      expect(scanned.badRecords.map((r) => r.row)).toEqual([6, 403, 800, 1197, 1594, 1991, 2388, 2785]);
    }
  });

  it('says what each member is', () => {
    const scanner = new JsonRecordScanner(['a']);
    const b = Buffer.from('{"a":"x","z":12,"a":1.50}');
    expect(scanner.scan(b, 0, b.length)).toBe(true);
    expect([...scanner.column.subarray(0, 3)]).toEqual([0, -1, 0]);
    expect([...scanner.kind.subarray(0, 3)]).toEqual([JSON_STRING, JSON_INT, JSON_NUMBER]);
    expect(scanner.intValue[1]).toBe(12);
    expect(JSON_INT).not.toBe(JSON_NUMBER);
  });
});
