/**
 * Every kind of input through the whole ingest stage on Azurite, read by the real readers: CSV (BOM,
 * CRLF), TSV, semicolons, gzip and zstd archives (whole and truncated), NDJSON and JSON (plain and
 * compressed), Avro, Parquet, a binary file, and the unreadable ones (empty, invalid UTF-8, ragged
 * rows, an unclosed quote). For each file: the outcome and the ledger entry (read = written +
 * dead-lettered), the rows as stored, and a table that passes the Delta checks and reads in DuckDB.
 * Then the configuration errors, which must name the setting and the file and leave no ledger entry.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../shared/delta';
import { encodeParquetBuffer } from '../../shared/delta/parquet';
import type { JsonValue } from '../../shared/delta/rows';
import { buildVector } from '../../shared/delta/values';
import { IngestConfigError, IngestOutcome, IngestSource } from '../../shared/ingest';
import { ingest, IngestEnv, ingestEnv, ledgerEntry, tableProblems, tableRows } from '../support/ingest';
import { avroContainer } from '../support/ingest-inputs';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const FIXTURES = nodePath.join(TEST_DIR, 'fixtures', 'formats');

/** What one file must come to. */
interface Case {
  /** Fixture name, or a file built here. */
  file: string;
  bytes?: () => Promise<Uint8Array>;
  source?: IngestSource;
  status: 'committed' | 'deadlettered';
  read: number;
  written: number;
  dead: number;
  /** The file-level reason (dead-lettered files, truncated archives). */
  reason?: RegExp;
  /** Data columns of the table and their types, in order. */
  columns?: string[];
  /** Some rows as stored (a subset of the columns), in table order. */
  rows?: Record<string, JsonValue>[];
  /** Columns holding JSON text as written in the file: the value it stands for, per row. */
  json?: Record<string, unknown>[];
}

const AVRO_SCHEMA = {
  type: 'record',
  name: 'Payment',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'payer', type: ['null', 'string'] },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
    { name: 'paid_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

function cents(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

const CASES: Case[] = [
  {
    file: 'bom.csv',
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    columns: ['id:integer', 'name:string'],
    rows: [
      { id: 1, name: 'Ann' },
      { id: 2, name: 'Bob' },
    ],
  },
  {
    file: 'people.tsv',
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    rows: [
      { id: 1, name: 'Ann', note: 'hello, world' },
      { id: 2, name: 'Bob', note: null },
    ],
  },
  {
    file: 'semicolon.csv',
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    columns: ['id:integer', 'price:string', 'booked:date'],
    rows: [
      { price: '3,50', booked: '2020-02-01' },
      { price: '4,25', booked: '2020-02-13' },
    ],
  },
  {
    file: 'ledger.csv.gz',
    status: 'committed',
    read: 3000,
    written: 3000,
    dead: 0,
    columns: ['id:integer', 'account:string', 'amount:double', 'booked:date'],
    rows: [{ id: 1, account: 'ACC-07919', amount: 0.37, booked: '2024-03-02' }],
  },
  {
    file: 'ledger.tsv.zst',
    status: 'committed',
    read: 3000,
    written: 3000,
    dead: 0,
    rows: [{ id: 1, account: 'ACC-07919', amount: 0.37, booked: '2024-03-02' }],
  },
  {
    file: 'ledger-truncated.csv.gz',
    status: 'committed',
    read: -1,
    written: -1,
    dead: 0,
    reason: /truncated gzip data.*the input from decompressed byte offset \d+ on is lost/,
  },
  {
    file: 'ledger-truncated.csv.zst',
    status: 'committed',
    read: -1,
    written: -1,
    dead: 0,
    reason: /zstd.*the input from decompressed byte offset \d+ on is lost/,
  },
  {
    file: 'events.ndjson',
    status: 'committed',
    read: 4,
    written: 2,
    dead: 2,
    columns: ['id:integer', 'kind:string', 'at:timestamp', 'extra:string'],
    rows: [
      { id: 1, kind: 'open', at: '2024-01-01T10:00:00.000000Z', extra: null },
      { id: 5, kind: 'close', at: '2024-01-01T10:30:00.000000Z', extra: '{"n":[1,2]}' },
    ],
  },
  {
    file: 'events.ndjson.gz',
    status: 'committed',
    read: 50,
    written: 50,
    dead: 0,
    columns: ['id:integer', 'ok:boolean'],
    rows: [
      { id: 1, ok: true },
      { id: 2, ok: false },
    ],
  },
  { file: 'events.json.zst', status: 'committed', read: 50, written: 50, dead: 0, columns: ['id:integer', 'ok:boolean'] },
  {
    file: 'orders.json',
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    columns: ['id:integer', 'total:double', 'tags:string', 'customer:string'],
    rows: [
      { id: 1, total: 1.1 },
      { id: 2, total: 20, tags: '[]', customer: null },
    ],
    json: [{ tags: ['a', 'b'], customer: { name: 'Ann' } }, { tags: [] }],
  },
  {
    file: 'payments.avro',
    bytes: () =>
      avroContainer(
        AVRO_SCHEMA,
        [
          { id: 1, payer: { string: 'Ann' }, amount: cents(1050), paid_at: Date.UTC(2024, 4, 1, 8, 30) },
          { id: 2, payer: null, amount: cents(-99), paid_at: Date.UTC(2024, 4, 2) },
        ],
        { codec: 'deflate' },
      ),
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    columns: ['id:long', 'payer:string', 'amount:decimal(12,2)', 'paid_at:timestamp'],
    rows: [
      { id: 1, payer: 'Ann', amount: '10.50', paid_at: '2024-05-01T08:30:00.000000Z' },
      { id: 2, payer: null, amount: '-0.99', paid_at: '2024-05-02T00:00:00.000000Z' },
    ],
  },
  {
    // Parquet column names Delta cannot store are sanitised like CSV headers.
    file: 'orders.parquet',
    bytes: () =>
      encodeParquetBuffer(
        new arrow.Table({
          'Order Id': buildVector('long', [7n, 8n]),
          'Ship To (city)': buildVector('string', ['Seoul', null]),
          placed: buildVector('date', [19_000, 19_001]),
        }),
      ),
    status: 'committed',
    read: 2,
    written: 2,
    dead: 0,
    columns: ['Order_Id:long', 'Ship_To_city_:string', 'placed:date'],
    rows: [
      { Order_Id: 7, Ship_To_city_: 'Seoul', placed: '2022-01-08' },
      { Order_Id: 8, Ship_To_city_: null, placed: '2022-01-09' },
    ],
  },
  {
    file: 'ragged.csv',
    status: 'committed',
    read: 5,
    written: 2,
    dead: 3,
    rows: [
      { a: 1, b: 2, c: 3 },
      { a: 13, b: 14, c: 15 },
    ],
  },
  { file: 'unclosed-quote.csv', status: 'committed', read: 2, written: 1, dead: 1, rows: [{ a: 1, b: 'x' }] },
  {
    file: 'invalid-utf8.csv',
    status: 'committed',
    read: 3,
    written: 2,
    dead: 1,
    rows: [
      { id: 1, name: 'Ann' },
      { id: 3, name: 'Cy' },
    ],
  },
  { file: 'invalid-utf8-header.csv', status: 'deadlettered', read: 0, written: 0, dead: 0, reason: /invalid UTF-8 byte 0xc3 at byte offset 5 in the header/ },
  { file: 'empty.csv', status: 'deadlettered', read: 0, written: 0, dead: 0, reason: /^empty file$/ },
  { file: 'empty.csv.gz', status: 'deadlettered', read: 0, written: 0, dead: 0, reason: /empty file \(gzip archive with no content\)/ },
  { file: 'empty.parquet', status: 'deadlettered', read: 0, written: 0, dead: 0, reason: /empty file/ },
];

async function landed(env: IngestEnv, c: Case): Promise<string> {
  const path = `in/${c.file}`;
  await env.landing.write(path, c.bytes ? await c.bytes() : readFileSync(nodePath.join(FIXTURES, c.file)));
  return path;
}

async function typesOf(env: IngestEnv): Promise<string[]> {
  return (await loadSnapshot(env.table)).schema.fields.map((f) => `${f.name}:${typeof f.type === 'string' ? f.type : f.type.type}`);
}

describe('real inputs through the ingest stage', () => {
  it.concurrent.each(CASES.map((c) => [c.file, c] as const))('%s', async (_, c) => {
    const env = ingestEnv('fmt', c.file.replace(/\W+/g, '_'));
    const path = await landed(env, c);
    const outcome = await ingest(env, path, c.source);
    expect(outcome.status, outcome.reason).toBe(c.status);
    const entry = (await ledgerEntry(env, path))!;
    expect(entry.status).toBe(c.status);
    expect(entry.rowsRead).toBe(entry.rowsWritten + entry.rowsDeadLettered);
    if (c.read >= 0) expect(entry).toMatchObject({ rowsRead: c.read, rowsWritten: c.written, rowsDeadLettered: c.dead });
    else expect(entry.rowsWritten).toBeGreaterThan(0); // a truncated archive: the rows before the damage
    expect(outcome).toMatchObject({ rowsRead: entry.rowsRead, rowsWritten: entry.rowsWritten, rowsDeadLettered: entry.rowsDeadLettered });
    if (c.reason) expect(entry.reason).toMatch(c.reason);
    else expect(entry.reason).toBeUndefined();
    if (c.dead || c.reason) {
      const record = JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(entry.deadLetter!)));
      expect(record.counts).toEqual({ rowsRead: entry.rowsRead, rowsWritten: entry.rowsWritten, rowsDeadLettered: entry.rowsDeadLettered });
      expect(record.records.length).toBe(c.dead + (c.reason && c.status === 'committed' ? 1 : 0) + (c.status === 'deadlettered' ? 1 : 0));
    } else {
      expect(entry.deadLetter).toBeUndefined();
    }
    if (c.status === 'deadlettered') {
      // Nothing was written: the file did not even create the table.
      expect(await env.table.list('_delta_log/')[Symbol.asyncIterator]().next()).toMatchObject({ done: true });
      return;
    }
    const rows = await tableRows(env.table);
    expect(rows).toHaveLength(entry.rowsWritten);
    for (const row of rows) expect(row).toMatchObject({ _source_file: path, _source_etag: entry.etag, _rescued_data: null });
    if (c.columns) expect((await typesOf(env)).slice(0, c.columns.length)).toEqual(c.columns);
    if (c.rows) expect(rows.slice(0, c.rows.length)).toMatchObject(c.rows);
    c.json?.forEach((values, i) => {
      for (const [column, value] of Object.entries(values)) expect(JSON.parse(String(rows[i][column])), `row ${i + 1} ${column}`).toEqual(value);
    });
    expect(await tableProblems(env.table)).toEqual([]);
  });

  it('a binary file is one row carrying the blob last-modified time as modificationTime', async () => {
    const env = ingestEnv('fmt-bin', 'images');
    const bytes = readFileSync(nodePath.join(FIXTURES, 'pixel.png'));
    const info = await env.landing.write('img/pixel.png', bytes);
    expect(await ingest(env, 'img/pixel.png')).toMatchObject({ status: 'committed', rowsRead: 1, rowsWritten: 1 });
    const [row] = await tableRows(env.table);
    const stored = await env.landing.properties('img/pixel.png');
    expect(stored.lastModified.getTime()).toBe(info.lastModified.getTime());
    expect(row).toMatchObject({
      path: 'img/pixel.png',
      length: bytes.length,
      contentType: 'image/png',
      content: bytes.toString('hex'),
      modificationTime: `${stored.lastModified.toISOString().slice(0, -1)}000Z`,
    });
    expect(await tableProblems(env.table)).toEqual([]);
  });

  it('input columns named like the stage columns are kept under another name, not overwritten', async () => {
    const env = ingestEnv('fmt-clash', 'clash');
    await env.landing.write('in/clash.csv', 'id,_source_file,_rescued_data,_load_date\n1,upstream.csv,kept,x\n');
    expect(await ingest(env, 'in/clash.csv')).toMatchObject({ status: 'committed', rowsWritten: 1 });
    const [row] = await tableRows(env.table);
    expect(row).toMatchObject({
      id: 1,
      _source_file_1: 'upstream.csv',
      _rescued_data_1: 'kept',
      _load_date_1: 'x',
      _source_file: 'in/clash.csv',
      _rescued_data: null,
    });
    expect(await tableProblems(env.table)).toEqual([]);
  });
});

describe('configuration errors', () => {
  async function refused(env: IngestEnv, path: string, source: IngestSource, setting: string, message: RegExp): Promise<void> {
    const error = await ingest(env, path, source).then(
      (o: IngestOutcome) => new Error(`ingested: ${JSON.stringify(o)}`),
      (err: Error) => err,
    );
    expect(error).toBeInstanceOf(IngestConfigError);
    expect((error as IngestConfigError).setting).toBe(setting);
    expect(error.message).toContain(`${env.landing.url}/${path}`);
    expect(error.message).toMatch(message);
    // Not the file's fault: nothing recorded, so the fixed configuration ingests it.
    expect(await ledgerEntry(env, path)).toBeNull();
  }

  it('name the setting and the file, leave no ledger entry, and the fixed source ingests the file', async () => {
    const env = ingestEnv('fmt-config', 'pos');
    const path = 'pos/a.csv';
    await env.landing.write(path, 'sku;qty\n007;1\n008;2\n');
    await refused(
      env,
      path,
      { name: 'pos', csv: { delimiter: ';;' } },
      'csv.delimiter',
      /setting csv\.delimiter of source pos: must be one ASCII character, got ";;"/,
    );
    await refused(env, path, { schemaHints: { qty: 'integr' } }, 'schemaHints.qty', /setting schemaHints\.qty of the source: unknown type "integr"/);
    await refused(env, path, { format: 'xml' as never }, 'format', /unknown format "xml"/);
    // Known only once the file is read: the entry created by then is removed again.
    await refused(env, path, { partitionBy: ['store'] }, 'partitionBy', /partition column store of .* not in the columns of the file \(sku, qty, /);
    expect(await ingest(env, path, { csv: { delimiter: ';' }, schemaHints: { qty: 'long' } })).toMatchObject({ status: 'committed', rowsWritten: 2 });
    expect(await tableRows(env.table)).toMatchObject([
      { sku: '007', qty: 1 },
      { sku: '008', qty: 2 },
    ]);
    expect(await ledgerEntry(env, path)).toMatchObject({ status: 'committed', attempts: 1 });
  });
});
