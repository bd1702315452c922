/**
 * Hostile text files (issue 10, items 2 and 3): each is ingested by `sluice ingest` (the command's
 * function with the real readers, bench/ingest-child.ts) in a child process whose heap is capped
 * at 256 MiB (64 MiB where the point is that bad records stay out of the heap). Every case ends with exit status 0 or 1 and a reason, never a crash; the dead-letter
 * record names each bad record (row, byte offset, reason, first bytes); the ledger entry is final; and
 * rows read = written + dead-lettered.
 *
 * Before the fixes: 131,072 bad NDJSON lines or 300,000 bad CSV rows overflowed the call stack
 * (`badRecords.push(...records)`), leaving the ledger entry `started`; an over-long line became one
 * row, with memory growing with the line (and, for gzip, with the compression ratio).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { Writable } from 'node:stream';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSnapshot, scanTable } from '../../shared/delta';
import { readValues } from '../../shared/delta/values';
import { BadRecordFile } from '../../shared/formats/bad-records';
import type { BadRecord } from '../../shared/formats/types';
import { LocalStore } from '../../shared/storage';
import { IngestChildReport, ingestInChild } from '../../bench/ingest-child';

const HEAP_MB = 256;
const RSS_BOUND = 768 * 1024 * 1024;
const MIB = 1024 * 1024;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-hostile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One file's outcome as `sluice ingest --json` reports it. */
interface FileOutcome {
  status: string;
  rowsRead: number;
  rowsWritten: number;
  rowsDeadLettered: number;
  bytes: number;
  deadLetter?: string;
  reason?: string;
}

interface DeadLetterDocument {
  kind: string;
  reason?: string;
  counts: { rowsRead: number; rowsWritten: number; rowsDeadLettered: number };
  records: BadRecord[];
}

interface Hostile {
  report: IngestChildReport;
  outcome: FileOutcome;
  deadLetter: DeadLetterDocument | null;
  /** Status of the file's ledger entry. */
  ledgerStatus: string;
  table: string;
}

/** Write a file through a stream, in parts, so that no test holds a large input in memory. */
async function writeStreamed(path: string, parts: Iterable<string | Uint8Array>, gzip = false): Promise<void> {
  const file = createWriteStream(path);
  const sink: Writable = gzip ? zlib.createGzip() : file;
  if (gzip) sink.pipe(file);
  for (const part of parts) if (!sink.write(part)) await once(sink, 'drain');
  sink.end();
  await once(file, 'close');
}

/** `mib` MiB of `fill`, with `extra` bytes set at positions inside each MiB (position → byte). */
function* filler(mib: number, fill: string, extra: Record<number, string> = {}): Generator<Uint8Array> {
  const block = Buffer.alloc(MIB, fill);
  for (const [at, text] of Object.entries(extra)) block.write(text, Number(at));
  for (let i = 0; i < mib; i++) yield block;
}

/**
 * Ingest one generated file in a capped child; check what holds in every case: no crash, RSS bound,
 * accounting identity on the outcome, the dead-letter record and the ledger.
 */
async function ingestHostile(
  name: string,
  parts: Iterable<string | Uint8Array>,
  options: { gzip?: boolean; env?: Record<string, string>; maxRecordMb?: string; heapMb?: number } = {},
): Promise<Hostile> {
  const folder = nodePath.join(dir, name.replace(/\W/g, '_'));
  await mkdir(folder);
  const file = nodePath.join(folder, name);
  await writeStreamed(file, parts, options.gzip);
  const table = nodePath.join(folder, 'table');
  const heapMb = options.heapMb ?? HEAP_MB;
  const report = await ingestInChild({ file, table, ...(options.maxRecordMb ? { maxRecordMb: options.maxRecordMb } : {}) }, heapMb, options.env);
  const what = `${name}: ${JSON.stringify(report.result?.files)} ${report.stderr}`;
  console.info(`${name}: peak RSS ${(report.maxRssBytes / MIB).toFixed(0)} MiB, ${report.seconds.toFixed(1)} s`);
  expect(report.heapLimitBytes, what).toBeLessThan(2 * heapMb * MIB);
  expect(report.maxRssBytes, what).toBeLessThan(RSS_BOUND);
  expect(report.result?.files, what).toHaveLength(1);
  const outcome = report.result!.files[0] as unknown as FileOutcome;
  expect(outcome.rowsRead, what).toBe(outcome.rowsWritten + outcome.rowsDeadLettered);
  expect(report.result!.totals.errors, what).toBe(0);
  expect(report.exitCode, what).toBe(0);

  const deadLetter = outcome.deadLetter ? (JSON.parse(await readFile(nodePath.join(table, outcome.deadLetter), 'utf8')) as DeadLetterDocument) : null;
  if (deadLetter) {
    expect(deadLetter.kind).toBe('sluice.deadLetter');
    expect(deadLetter.counts, what).toEqual({ rowsRead: outcome.rowsRead, rowsWritten: outcome.rowsWritten, rowsDeadLettered: outcome.rowsDeadLettered });
  }
  const ledgerFiles = (await readdir(nodePath.join(table, '_sluice', 'ledger'), { recursive: true })).filter((f) => f.endsWith('.json'));
  expect(ledgerFiles, what).toHaveLength(1);
  const entry = JSON.parse(await readFile(nodePath.join(table, '_sluice', 'ledger', ledgerFiles[0]), 'utf8')) as {
    status: string;
    rowsRead: number;
    rowsWritten: number;
    rowsDeadLettered: number;
  };
  expect(entry, what).toMatchObject({
    status: outcome.status,
    rowsRead: outcome.rowsRead,
    rowsWritten: outcome.rowsWritten,
    rowsDeadLettered: outcome.rowsDeadLettered,
  });
  return { report, outcome, deadLetter, ledgerStatus: entry.status, table };
}

/** Values of one column of the table's latest version. */
async function columnValues(table: string, column: string, type: 'long' | 'string'): Promise<unknown[]> {
  const snapshot = await loadSnapshot(new LocalStore(table));
  const out: unknown[] = [];
  for await (const batch of scanTable(snapshot)) for (const v of readValues(batch.getChild(column)!, type)) out.push(v);
  return out;
}

const TOO_LONG_1_MIB = 'record longer than the limit of 1 MiB (SLUICE_MAX_RECORD_MB); skipped to the next record';

describe('many bad records: every one counted, the first 1,000 with their text', () => {
  it('dead-letters an NDJSON file of 131,072 lines of x, each line with its offset', async () => {
    const { outcome, deadLetter, ledgerStatus } = await ingestHostile('lines.ndjson', ['x\n'.repeat(131_072)]);
    expect(outcome).toMatchObject({ status: 'deadlettered', rowsRead: 131_072, rowsWritten: 0, rowsDeadLettered: 131_072, bytes: 262_144 });
    expect(ledgerStatus).toBe('deadlettered');
    const records = deadLetter!.records;
    expect(records).toHaveLength(131_072);
    expect(records[0]).toEqual({ row: 1, byteOffset: 0, reason: 'malformed JSON: unexpected token at character 1', raw: 'x' });
    expect(records[999]).toMatchObject({ row: 1000, byteOffset: 1998, raw: 'x' });
    expect(records[1000]).toEqual({ row: 1001, byteOffset: 2000, reason: 'malformed JSON: unexpected token at character 1' });
    expect(records[131_071]).toEqual({ row: 131_072, byteOffset: 262_142, reason: 'malformed JSON: unexpected token at character 1' });
    expect(records.filter((r) => r.raw !== undefined)).toHaveLength(1000);
  }, 60_000);

  it('keeps bad records out of the heap: 600,000 bad lines under a 64 MiB heap cap', async () => {
    // Held as objects (about 170 bytes each with their reasons) they need more than the whole heap.
    const { outcome, deadLetter } = await ingestHostile('many.ndjson', ['{"ok":1}\n', '[1]\n'.repeat(600_000), '{"ok":2}\n'], { heapMb: 64 });
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 600_002, rowsWritten: 2, rowsDeadLettered: 600_000 });
    const records = deadLetter!.records;
    expect(records).toHaveLength(600_000);
    expect(records[599_999]).toEqual({ row: 600_001, byteOffset: 9 + 599_999 * 4, reason: 'not a JSON object (an array)' });
  }, 60_000);

  it('writes the good rows of a CSV whose 300,000 other rows each hold byte 0xff, and dead-letters those', async () => {
    const bad = Buffer.alloc(300_000 * 5);
    for (let i = 0; i < 300_000; i++) bad.write('1,\xff\xff\n', i * 5, 'latin1');
    const { outcome, deadLetter, table } = await ingestHostile('ff.csv', ['a,b\n0,ok\n', bad, '2,ok\n']);
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 300_002, rowsWritten: 2, rowsDeadLettered: 300_000 });
    const records = deadLetter!.records;
    expect(records).toHaveLength(300_000);
    // Row 1 is `0,ok` (bytes 4–8); row r ≥ 2 starts at 9 + 5 (r − 2), its 0xff two bytes later.
    expect(records[0]).toEqual({ row: 2, byteOffset: 9, reason: 'invalid UTF-8 byte 0xff at byte offset 11', raw: '1,\ufffd\ufffd' });
    expect(records[1000]).toEqual({ row: 1002, byteOffset: 5009, reason: 'invalid UTF-8 byte 0xff at byte offset 5011' });
    expect(records[299_999]).toEqual({ row: 300_001, byteOffset: 1_500_004, reason: 'invalid UTF-8 byte 0xff at byte offset 1500006' });
    expect(records.filter((r) => r.raw !== undefined)).toHaveLength(1000);
    expect(await columnValues(table, 'b', 'string')).toEqual(['ok', 'ok']);
  }, 60_000);
});

describe('bad records past the first 10,000', () => {
  it('come back from their temporary file exactly, in order, whatever characters their reasons hold', () => {
    const file = new BadRecordFile();
    try {
      // Reasons of varying length with multi-byte characters, so that reads of the file end inside lines and characters.
      const made = (i: number): BadRecord => ({ row: i, byteOffset: i * 7, column: `prix€ ${'é'.repeat(i % 13)}`, reason: `value ${i} 🦆 does not fit` });
      for (let i = 0; i < 50_000; i++) file.add(made(i));
      expect(file.count).toBe(50_000);
      let i = 0;
      for (const record of file.records()) expect(record).toEqual(made(i++));
      expect(i).toBe(50_000);
    } finally {
      file.dispose();
    }
  });
});

describe('records longer than SLUICE_MAX_RECORD_MB are bad records, and reading goes on after them', () => {
  it('CSV: a 24 MiB quoted field with line breaks, delimiters and doubled quotes, and a 2 MiB unquoted one', async () => {
    // Inside the quoted field: a line break, a delimiter and a doubled quote in every MiB, none of
    // which ends the record; the skip must follow the quotes to find where it does end.
    const { outcome, deadLetter, table } = await ingestHostile(
      'long.csv',
      ['id,text\n1,first\n2,"', ...filler(24, 'y', { 100: '\n', 200: ',', 300: '""', 400: '\r\n' }), '"\n3,after\n4,', ...filler(2, 'z'), '\n5,last'],
      { env: { SLUICE_MAX_RECORD_MB: '1' } },
    );
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 5, rowsWritten: 3, rowsDeadLettered: 2 });
    const [quoted, unquoted] = deadLetter!.records;
    expect(quoted).toMatchObject({ row: 2, byteOffset: 16, reason: TOO_LONG_1_MIB });
    expect(quoted.raw).toHaveLength(4096);
    expect(quoted.raw!.startsWith('2,"yyyy')).toBe(true);
    // 16 + `2,"` + 24 MiB + `"\n` + `3,after\n`
    expect(unquoted).toMatchObject({ row: 4, byteOffset: 16 + 3 + 24 * MIB + 2 + 8, reason: TOO_LONG_1_MIB, raw: `4,${'z'.repeat(4094)}` });
    expect(await columnValues(table, 'id', 'long')).toEqual([1n, 3n, 5n]);
    expect(await columnValues(table, 'text', 'string')).toEqual(['first', 'after', 'last']);
  }, 60_000);

  it('NDJSON (--max-record-mb 1): a 24 MiB line and a 1.5 MiB one', async () => {
    const { outcome, deadLetter, table } = await ingestHostile(
      'long.ndjson',
      ['{"id":1}\n{"id":2,"t":"', ...filler(24, 'z'), '"}\n{"id":3}\n{"id":4,"t":"', 'w'.repeat(1.5 * MIB), '"}\n{"id":5}'],
      { maxRecordMb: '1' },
    );
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 5, rowsWritten: 3, rowsDeadLettered: 2 });
    const [first, second] = deadLetter!.records;
    expect(first).toMatchObject({ row: 2, byteOffset: 9, reason: TOO_LONG_1_MIB });
    expect(first.raw!.startsWith('{"id":2,"t":"zzz')).toBe(true);
    expect(second).toMatchObject({ row: 4, byteOffset: 9 + 13 + 24 * MIB + 3 + 9, reason: TOO_LONG_1_MIB });
    expect(second.raw!.startsWith('{"id":4,"t":"www')).toBe(true);
    expect(await columnValues(table, 'id', 'long')).toEqual([1n, 3n, 5n]);
  }, 60_000);

  it('JSON: a 24 MiB array element whose string holds brackets and braces', async () => {
    const { outcome, deadLetter, table } = await ingestHostile(
      'long.json',
      ['[{"id":1},{"id":2,"t":"', ...filler(24, 'q', { 10: ']}[{', 20: '\\"' }), '"},\n{"id":3}]'],
      { env: { SLUICE_MAX_RECORD_MB: '1' } },
    );
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 3, rowsWritten: 2, rowsDeadLettered: 1 });
    expect(deadLetter!.records).toHaveLength(1);
    expect(deadLetter!.records[0]).toMatchObject({ row: 2, byteOffset: 10, reason: TOO_LONG_1_MIB });
    expect(await columnValues(table, 'id', 'long')).toEqual([1n, 3n]);
  }, 60_000);

  it('gzip, default limit (16 MiB): a small .csv.gz inflating to a 20 MiB cell', async () => {
    const { outcome, deadLetter, table } = await ingestHostile('cell.csv.gz', ['a,b\n1,x\n2,', ...filler(20, 'x'), '\n3,z\n'], { gzip: true });
    expect(outcome.bytes).toBeLessThan(64 * 1024);
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 3, rowsWritten: 2, rowsDeadLettered: 1 });
    expect(deadLetter!.records[0]).toMatchObject({
      row: 2,
      byteOffset: 8,
      reason: 'record longer than the limit of 16 MiB (SLUICE_MAX_RECORD_MB); skipped to the next record',
      raw: `2,${'x'.repeat(4094)}`,
    });
    expect(await columnValues(table, 'b', 'string')).toEqual(['x', 'z']);
  }, 60_000);
});

describe('other hostile inputs end in a dead-letter record with a reason', () => {
  it('a JSON file of 1,000,000 [ is one bad record', async () => {
    const { outcome, deadLetter } = await ingestHostile('deep.json', ['['.repeat(1_000_000)]);
    expect(outcome).toMatchObject({ status: 'deadlettered', rowsRead: 1, rowsWritten: 0, rowsDeadLettered: 1 });
    expect(deadLetter!.records[0]).toMatchObject({ row: 1, byteOffset: 1, reason: 'unexpected end of file inside a JSON value' });
  }, 60_000);

  it('an NDJSON line nested 1,000,000 deep is one bad record; the next line is a row', async () => {
    const { outcome, deadLetter } = await ingestHostile('deep.ndjson', ['{"a":', '['.repeat(1_000_000), '\n{"a":1}\n']);
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 2, rowsWritten: 1, rowsDeadLettered: 1 });
    expect(deadLetter!.records[0]).toMatchObject({ row: 1, byteOffset: 0, reason: 'malformed JSON: nesting too deep at character 518' });
  }, 60_000);

  it('a zero-byte .csv.gz is dead-lettered as an empty file', async () => {
    const { outcome, deadLetter } = await ingestHostile('empty.csv.gz', []);
    expect(outcome).toMatchObject({ status: 'deadlettered', rowsRead: 0, rowsWritten: 0, rowsDeadLettered: 0, reason: 'empty file' });
    expect(deadLetter!.reason).toBe('empty file');
  }, 60_000);
});
