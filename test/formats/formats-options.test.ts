/**
 * What a read is told and what it makes of input names: options are checked before a byte is read
 * (an error naming the setting), and every input's column names come out storable in Delta without
 * column mapping — sanitised, never empty, unique, clear of the caller's own columns — with the renames
 * recorded, whatever the format.
 */
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { encodeParquetBuffer } from '../../shared/delta/parquet';
import { buildVector } from '../../shared/delta/values';
import { checkReadOptions, columnNames, isStorableName, readInput, ReadOptions, ReadOptionsError, RESCUED_COLUMN } from '../../shared/formats';
import { readAll } from '../support/formats-harness';

function refusal(options: ReadOptions): ReadOptionsError {
  try {
    checkReadOptions(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ReadOptionsError);
    return err as ReadOptionsError;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('read options', () => {
  it.each([
    [{ format: 'xml' }, 'format', /unknown format "xml"/],
    [{ compression: 'brotli' }, 'compression', /unknown compression "brotli"/],
    [{ csv: { delimiter: ';;' } }, 'csv.delimiter', /must be one ASCII character, got ";;"/],
    [{ csv: { quote: '“' } }, 'csv.quote', /must be one ASCII character/],
    [{ csv: { escape: '\n' } }, 'csv.escape', /cannot be a line break/],
    [{ csv: { delimiter: '"' } }, 'csv.quote', /same character as csv.delimiter/],
    [{ csv: { header: 'yes' } }, 'csv.header', /must be true or false/],
    [{ csv: { encoding: 'utf-16' } }, 'csv.encoding', /unknown encoding "utf-16"/],
    [{ schemaHints: { qty: 'integr' } }, 'schemaHints.qty', /unknown type "integr"/],
    [{ schemaHints: { day: 'date dd-MM-yy' } }, 'schemaHints.day', /unknown date format "dd-MM-yy"/],
    [{ sampleRows: 0 }, 'sampleRows', /positive integer/],
    [{ batchRows: 1.5 }, 'batchRows', /positive integer/],
    [{ modificationTime: new Date(NaN) }, 'modificationTime', /valid Date/],
  ] as [ReadOptions, string, RegExp][])('refuses %j naming %s', (options, setting, message) => {
    const err = refusal(options);
    expect(err.setting).toBe(setting);
    expect(err.message).toMatch(new RegExp(`^formats: ${setting.replace('.', '\\.')}: `));
    expect(err.message).toMatch(message);
  });

  it('accepts what the readers understand', () => {
    expect(() =>
      checkReadOptions({
        format: 'tsv',
        compression: 'zstd',
        csv: { delimiter: '\\t', quote: "'", escape: '\\', header: false, encoding: 'latin1' },
        schemaHints: { a: 'decimal(12,2)', b: 'date d/M/yyyy', c: 'bigint' },
        sampleRows: 10,
      }),
    ).not.toThrow();
  });

  it('throws before reading anything', async () => {
    let pulled = 0;
    const input = (async function* () {
      pulled++;
      yield new TextEncoder().encode('a,b\n1,2\n');
    })();
    await expect(readInput(input, 'x.csv', { csv: { delimiter: '||' } })).rejects.toThrow(ReadOptionsError);
    expect(pulled).toBe(0);
  });
});

describe('column names', () => {
  it('sanitises, names empty columns, de-duplicates case-insensitively and avoids reserved names', () => {
    const { names, renamed } = columnNames(
      ['Order Date', 'a,b;c', '', 'x=(1)', 'ID', 'id', 'Order_Date', '_source_file', '\ttab\n'],
      ['_rescued_data', '_source_file'],
    );
    expect(names).toEqual(['Order_Date', 'a_b_c', '_c2', 'x_1_', 'ID', 'id_1', 'Order_Date_1', '_source_file_1', '_tab_']);
    expect(names.every(isStorableName)).toBe(true);
    expect(renamed).toEqual({
      'Order Date': 'Order_Date',
      'a,b;c': 'a_b_c',
      '': '_c2',
      'x=(1)': 'x_1_',
      id: 'id_1',
      Order_Date: 'Order_Date_1',
      _source_file: '_source_file_1',
      '\ttab\n': '_tab_',
    });
    // A name repeated in the input keeps both renames apart.
    expect(columnNames(['a b', 'a b']).renamed).toEqual({ 'a b': 'a_b', 'a b (column 2)': 'a_b_1' });
  });

  it('applies to CSV headers (headerless columns too), JSON keys and Parquet columns alike', async () => {
    const csv = await readAll(Buffer.from('Unit Price,,_rescued_data,_ingested_at\n1.5,x,y,z\n'), 'p.csv', { reservedColumns: ['_ingested_at'] });
    expect(csv.result.schema.fields.map((f) => f.name)).toEqual(['Unit_Price', '_c1', '_rescued_data_1', '_ingested_at_1', RESCUED_COLUMN]);
    expect(csv.rows[0]).toMatchObject({ Unit_Price: 1.5, _c1: 'x', _rescued_data_1: 'y', _ingested_at_1: 'z', [RESCUED_COLUMN]: null });
    expect(JSON.parse(csv.result.inference['#columns'])).toEqual({
      'Unit Price': 'Unit_Price',
      '': '_c1',
      _rescued_data: '_rescued_data_1',
      _ingested_at: '_ingested_at_1',
    });

    const headerless = await readAll(Buffer.from('1,2\n3,4\n'), 'n.csv');
    expect(headerless.result.schema.fields.map((f) => f.name)).toEqual(['_c0', '_c1', RESCUED_COLUMN]);
    expect(headerless.result.inference['#columns']).toBeUndefined();

    const json = await readAll(Buffer.from('{"first name":"Ann","first_name":"x","":1}\n'), 'p.ndjson', { schemaHints: { 'first name': 'string' } });
    expect(json.result.schema.fields.map((f) => f.name)).toEqual(['first_name', 'first_name_1', '_c2', RESCUED_COLUMN]);
    expect(json.rows[0]).toMatchObject({ first_name: 'Ann', first_name_1: 'x', _c2: 1 });
    expect(json.result.inference.first_name).toMatch(/^string \(hint;/);

    const parquet = await readAll(await encodeParquetBuffer(new arrow.Table({ 'Ship To': buildVector('string', ['Seoul']) })), 'p.parquet');
    expect(parquet.result.schema.fields.map((f) => f.name)).toEqual(['Ship_To', RESCUED_COLUMN]);
    expect(parquet.rows[0].Ship_To).toBe('Seoul');
  });

  it('keeps a column named __proto__ (renamed __proto___1) and one named constructor, from CSV and JSON', async () => {
    const csv = await readAll(Buffer.from('id,__proto__,constructor\n1,x,y\n'), 'p.csv');
    expect(csv.result.schema.fields.map((f) => f.name)).toEqual(['id', '__proto___1', 'constructor', RESCUED_COLUMN]);
    expect(csv.rows[0]).toMatchObject({ id: 1, __proto___1: 'x', constructor: 'y' });
    expect(JSON.parse(csv.result.inference['#columns'])).toEqual({ ['__proto__']: '__proto___1' });
    // A JSON key __proto__ is a field like any other, not the prototype of the record.
    const json = await readAll(Buffer.from('{"a":1}\n{"a":2,"__proto__":{"b":2}}\n{"a":3,"b":3}\n'), 'p.ndjson');
    expect(json.result.schema.fields.map((f) => f.name)).toEqual(['a', '__proto___1', 'b', RESCUED_COLUMN]);
    expect(json.rows.map((r) => [r.a, r.__proto___1, r.b])).toEqual([
      [1, null, null],
      [2, '{"b":2}', null],
      [3, null, 3],
    ]);
  });

  it('matches a target schema by the stored name', async () => {
    const targetSchema = { type: 'struct' as const, fields: [{ name: 'Unit_Price', type: 'double', nullable: true, metadata: {} }] };
    const { result, rows } = await readAll(Buffer.from('Unit Price,Extra Col\n2.5,x\n'), 'p.csv', { targetSchema });
    expect(result.schema.fields.map((f) => f.name)).toEqual(['Unit_Price', 'Extra_Col', RESCUED_COLUMN]);
    expect(result.newFields.map((f) => f.name)).toEqual(['Extra_Col']);
    expect(rows[0]).toMatchObject({ Unit_Price: 2.5, Extra_Col: 'x' });
  });
});
