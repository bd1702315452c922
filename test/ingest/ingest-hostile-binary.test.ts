/**
 * Hostile binary files (issue 10, items 1 and 3): Avro containers whose blocks declare more than
 * their bytes hold, blocks that inflate past the record-size limit, and Parquet files whose footer
 * lies or that are larger than one row group should cost. Each is ingested by `sluice ingest` (the
 * real readers, through `ingestFile`) in a child process under a 256 MiB heap; every bad region must
 * end in a dead-letter record with its byte offset and reason, and rows read = written + dead-lettered.
 *
 * Before the fix the 137-byte Avro declaring 100,000,000 records made one pending bad record per
 * declared record and the child died out of heap; the other lies were either taken at their word
 * (a 1 GiB string length read past its block, a block size made the reader pull the rest of the file
 * and give up) or ended the file at the first bad block, and Parquet was read whole.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet, encodeParquetBuffer, readParquetMetadata } from '../../shared/delta/parquet';
import { buildVector } from '../../shared/delta/values';
import {
  avroBlock,
  avroHeader,
  deflate,
  parquetWithFooterLength,
  person,
  PERSON_SCHEMA,
  personBlock,
  snappyDeclaring,
  SYNC,
  zigzag,
  zstdRaw,
  zstdZeros,
} from '../support/hostile-binary';
import { IngestChildReport, ingestInChild } from '../../bench/ingest-child';

const HEAP_MB = 256;

/** One file's outcome in the command's `--json` document. */
interface FileOutcome {
  path: string;
  status: string;
  rowsRead: number;
  rowsWritten: number;
  rowsDeadLettered: number;
  deadLetter?: string;
}

/** What one hostile file must come to. */
interface Expected {
  status: 'committed' | 'deadlettered';
  rowsRead: number;
  rowsWritten: number;
  /** Bad records counted (a file's `fatal` is in the dead-letter record but holds no countable rows). */
  rowsDeadLettered: number;
  /** The dead-letter record's entries: byte offset and a pattern of the reason. */
  records: { byteOffset: number; reason: RegExp }[];
}

interface Case {
  file: string;
  bytes: Buffer;
  expected: Expected;
}

/** Files of `PERSON_SCHEMA` with one hostile block between good ones; `offset` is the hostile block's. */
function between(file: string, codec: string, hostile: Buffer, reason: RegExp, good: (from: number, n: number) => Buffer = personBlock): Case {
  const head = Buffer.concat([avroHeader(PERSON_SCHEMA, codec), good(1, 3)]);
  return {
    file,
    bytes: Buffer.concat([head, hostile, good(4, 2)]),
    expected: { status: 'committed', rowsRead: 6, rowsWritten: 5, rowsDeadLettered: 1, records: [{ byteOffset: head.length, reason }] },
  };
}

function cases(): Case[] {
  const header = avroHeader(PERSON_SCHEMA);
  const deflateBlock = (from: number, n: number) => {
    const data = Buffer.concat(Array.from({ length: n }, (_, i) => person(from + i, `p${from + i}`)));
    return avroBlock(n, deflate(data));
  };
  const zstdBlock = (from: number, n: number) => {
    const data = Buffer.concat(Array.from({ length: n }, (_, i) => person(from + i, `p${from + i}`)));
    return avroBlock(n, zstdRaw(data));
  };
  const arraySchema = {
    type: 'record',
    name: 'Tagged',
    fields: [
      { name: 'id', type: 'long' },
      { name: 'tags', type: { type: 'array', items: 'long' } },
    ],
  };
  const arrayHeader = avroHeader(arraySchema);
  const goodTagged = avroBlock(1, Buffer.concat([zigzag(1), zigzag(2), zigzag(7), zigzag(8), zigzag(0)]));
  const truncatedHead = Buffer.concat([header, personBlock(1, 3)]);
  const truncatedTail = personBlock(4, 3);
  return [
    {
      // The file: 137 bytes, one block declaring 100,000,000 records in one byte of data.
      file: 'count-lie.avro',
      bytes: Buffer.concat([header, avroBlock(100_000_000, Buffer.from([0x02]))]),
      expected: {
        status: 'deadlettered',
        rowsRead: 1,
        rowsWritten: 0,
        rowsDeadLettered: 1,
        records: [{ byteOffset: header.length, reason: /declares 100000000 records in 1 bytes/ }],
      },
    },
    between(
      'string-lie.avro',
      'null',
      avroBlock(2, Buffer.concat([person(40, 'x'), zigzag(41), zigzag(1_000_000_000), Buffer.from('abc')])),
      /record 2 of the 2 it declares: a string declares 1000000000 bytes, only 3 remain/,
    ),
    between('size-lie.avro', 'null', avroBlock(1, person(40, 'x'), 5_000_000), /declares 5000000 bytes, more than the input holds before the next sync marker/),
    between(
      'size-over-limit.avro',
      'null',
      avroBlock(1, person(40, 'x'), 2 ** 40),
      /declares 1099511627776 bytes, more than the limit of 16777216 bytes; reading resumed/,
    ),
    between(
      'varint-overflow.avro',
      'null',
      Buffer.concat([Buffer.alloc(11, 0xff), Buffer.from([0x01]), person(40, 'x'), SYNC]),
      /the record count is a varint longer than 10 bytes; reading resumed/,
    ),
    between(
      'deflate-bomb.avro',
      'deflate',
      avroBlock(1, deflate(Buffer.alloc(64 * 1024 * 1024))),
      /its deflate data inflates past the limit of 16777216 bytes/,
      deflateBlock,
    ),
    between('zstd-bomb.avro', 'zstandard', avroBlock(1, zstdZeros(512)), /its zstd data inflates past the limit of 16777216 bytes/, zstdBlock),
    {
      file: 'snappy-lie.avro',
      bytes: Buffer.concat([avroHeader(PERSON_SCHEMA, 'snappy'), avroBlock(1, snappyDeclaring(2 ** 31))]),
      expected: {
        status: 'deadlettered',
        rowsRead: 1,
        rowsWritten: 0,
        rowsDeadLettered: 1,
        records: [
          {
            byteOffset: avroHeader(PERSON_SCHEMA, 'snappy').length,
            reason: /its snappy data declares 2147483648 bytes, more than the limit of 16777216 bytes/,
          },
        ],
      },
    },
    {
      file: 'array-lie.avro',
      bytes: Buffer.concat([arrayHeader, goodTagged, avroBlock(1, Buffer.concat([zigzag(2), zigzag(1_000_000_000), Buffer.from([2, 4, 6])])), goodTagged]),
      expected: {
        status: 'committed',
        rowsRead: 3,
        rowsWritten: 2,
        rowsDeadLettered: 1,
        records: [
          {
            byteOffset: arrayHeader.length + goodTagged.length,
            reason: /an array block declares 1000000000 items of at least 1 byte each, only 3 bytes remain/,
          },
        ],
      },
    },
    {
      file: 'header-map-lie.avro',
      bytes: Buffer.concat([avroHeader(PERSON_SCHEMA, 'null', 1_000_000_000), personBlock(1, 2)]),
      expected: {
        status: 'deadlettered',
        rowsRead: 0,
        rowsWritten: 0,
        rowsDeadLettered: 0,
        records: [
          { byteOffset: 0, reason: /corrupt Avro header: the metadata map declares 1000000000 entries, more than a header of at most 16777216 bytes can hold/ },
        ],
      },
    },
    {
      // A cut file stays what it was: the complete blocks land, the cut one is the file's fatal.
      file: 'truncated.avro',
      bytes: Buffer.concat([truncatedHead, truncatedTail.subarray(0, truncatedTail.length - 5)]),
      expected: {
        status: 'committed',
        rowsRead: 3,
        rowsWritten: 3,
        rowsDeadLettered: 0,
        records: [{ byteOffset: truncatedHead.length, reason: /^truncated Avro file: the block at byte offset \d+ is incomplete$/ }],
      },
    },
  ];
}

let dir: string;
let report: IngestChildReport;
let table: string;
const all: Case[] = [];

beforeAll(async () => {
  dir = await mkdtemp(nodePath.join(tmpdir(), 'sluice-hostile-'));
  const landing = nodePath.join(dir, 'landing');
  await mkdir(landing);
  all.push(...cases());
  const parquet = await encodeParquetBuffer(new arrow.Table({ id: buildVector('long', [1n, 2n]), name: buildVector('string', ['a', 'b']) }));
  all.push({
    file: 'footer-lie.parquet',
    bytes: parquetWithFooterLength(parquet, 0x7fffffff),
    expected: {
      status: 'deadlettered',
      rowsRead: 0,
      rowsWritten: 0,
      rowsDeadLettered: 0,
      records: [{ byteOffset: parquet.length - 8, reason: /its footer length field declares 2147483647 bytes, the file has \d+ bytes/ }],
    },
  });
  // Garbage over the middle row group's column chunks: parquet-wasm panics on it (a WebAssembly trap).
  const grouped = Buffer.from(
    await encodeParquetBuffer(
      new arrow.Table({ id: buildVector('long', [1n, 2n, 3n, 4n, 5n, 6n]), name: buildVector('string', ['a', 'b', 'c', 'd', 'e', 'f']) }),
      { rowGroupRows: 2 },
    ),
  );
  const chunks = (await readParquetMetadata(grouped)).row_groups[1].columns.map((c) => c.meta_data!);
  const start = Math.min(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset)));
  const end = Math.max(...chunks.map((m) => Number(m.dictionary_page_offset ?? m.data_page_offset) + Number(m.total_compressed_size)));
  grouped.fill(0xee, start + 1, end);
  all.push({
    file: 'corrupt-row-group.parquet',
    bytes: grouped,
    expected: {
      status: 'committed',
      rowsRead: 5,
      rowsWritten: 4,
      rowsDeadLettered: 1,
      records: [{ byteOffset: start, reason: /^bad Parquet row group 1 \(of 3, 2 rows declared\) at byte offset \d+: it fails to decode/ }],
    },
  });
  for (const c of all) await writeFile(nodePath.join(landing, c.file), c.bytes);
  table = nodePath.join(dir, 'table');
  report = await ingestInChild({ file: landing, table }, HEAP_MB);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hostile Avro and Parquet files, ingested under a 256 MiB heap', () => {
  it('every file was handled (exit 0, no errors), the count lie in a file of a few bytes as the issue has it', () => {
    expect(all.find((c) => c.file === 'count-lie.avro')?.bytes.length).toBeLessThan(200);
    expect(report.heapLimitBytes).toBeLessThan(2 * HEAP_MB * 2 ** 20);
    expect(report.exitCode, report.stderr).toBe(0);
    expect(report.result?.totals.errors).toBe(0);
    expect((report.result?.files as FileOutcome[]).map((f) => f.path).sort()).toEqual(all.map((c) => c.file).sort());
    console.info(`hostile binary files: peak RSS of the child ${(report.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
  });

  it.each(
    cases()
      .map((c) => c.file)
      .concat('footer-lie.parquet', 'corrupt-row-group.parquet'),
  )('%s: one dead-letter record per bad region, with its offset and reason; rows read = written + dead-lettered', async (file) => {
    const c = all.find((x) => x.file === file)!;
    const outcome = (report.result?.files as FileOutcome[]).find((f) => f.path === file);
    expect(outcome, `no outcome for ${file}`).toBeDefined();
    const { expected } = c;
    expect(outcome).toMatchObject({
      status: expected.status,
      rowsRead: expected.rowsRead,
      rowsWritten: expected.rowsWritten,
      rowsDeadLettered: expected.rowsDeadLettered,
    });
    expect(outcome!.rowsRead).toBe(outcome!.rowsWritten + outcome!.rowsDeadLettered);
    const record = JSON.parse(await readFile(nodePath.join(table, outcome!.deadLetter!), 'utf8')) as {
      records: { byteOffset: number; reason: string }[];
      counts: Record<string, number>;
    };
    expect(record.records).toHaveLength(expected.records.length);
    expected.records.forEach((want, i) => {
      expect(record.records[i].byteOffset).toBe(want.byteOffset);
      expect(record.records[i].reason).toMatch(want.reason);
    });
    expect(record.counts).toEqual({ rowsRead: expected.rowsRead, rowsWritten: expected.rowsWritten, rowsDeadLettered: expected.rowsDeadLettered });
  });
});

describe('Parquet is read by row group', () => {
  it('ingests a file whose data is larger than the process ever gets: one row group at a time', async () => {
    const local = await mkdtemp(nodePath.join(tmpdir(), 'sluice-parquet-groups-'));
    try {
      // 64 row groups of 400 values of 16 KiB (mostly zeros): a file under 1 MiB holding 400 MiB of data.
      const rowsPerGroup = 400;
      const groups = 64;
      const width = 16 * 1024;
      const rows = rowsPerGroup * groups;
      const dataBytes = rows * width;
      // Built one row group at a time, so this process stays small too.
      async function* rowGroups(): AsyncGenerator<arrow.RecordBatch> {
        for (let g = 0; g < groups; g++) {
          const ids = Array.from({ length: rowsPerGroup }, (_, i) => BigInt(g * rowsPerGroup + i));
          const blobs = ids.map((id) => {
            const value = new Uint8Array(width);
            new DataView(value.buffer).setBigInt64(0, id);
            return value;
          });
          yield new arrow.Table({ id: buildVector('long', ids), blob: buildVector('binary', blobs) }).batches[0];
        }
      }
      const file = nodePath.join(local, 'wide.parquet');
      await writeFile(file, encodeParquet(rowGroups(), { rowGroupRows: rowsPerGroup }));
      const run = await ingestInChild({ file, table: nodePath.join(local, 'table') }, HEAP_MB);
      console.info(
        `Parquet, ${groups} row groups, ${(dataBytes / 2 ** 20).toFixed(0)} MiB of data: peak RSS ${(run.maxRssBytes / 2 ** 20).toFixed(0)} MiB in ${run.seconds.toFixed(1)} s`,
      );
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.result?.totals).toMatchObject({ rowsRead: rows, rowsWritten: rows, rowsDeadLettered: 0, errors: 0 });
      // Read whole (as before), the decoded data alone is held twice (in WASM and as Arrow): 1.8 GiB peak.
      expect(run.maxRssBytes).toBeLessThan(dataBytes);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  }, 120_000);
});
