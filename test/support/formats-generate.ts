/**
 * Writes the small input files the formats tests read (run: `npx tsx test/support/formats-generate.ts`).
 * The outputs are committed; regenerate only when a case changes. zstd files need the `zstd` CLI
 * (Node 20's zlib has no zstd); the tests themselves need nothing installed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';

const DIR = nodePath.join(__dirname, '..', 'fixtures', 'formats');

function write(name: string, data: string | Uint8Array): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  writeFileSync(nodePath.join(DIR, name), bytes);
  return bytes;
}

function gzip(bytes: Uint8Array): Buffer {
  return zlib.gzipSync(bytes, { level: 9 });
}

function zstd(bytes: Uint8Array): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-19'], { input: bytes });
}

/** Deterministic rows for the compressed and truncated cases. */
function ledger(rows: number): string {
  let out = 'id,account,amount,booked\n';
  for (let i = 1; i <= rows; i++) {
    const day = String((i % 28) + 1).padStart(2, '0');
    out += `${i},ACC-${String((i * 7919) % 100000).padStart(5, '0')},${((i * 37) % 10000) / 100},2024-03-${day}\n`;
  }
  return out;
}

// BOM, CRLF, header.
write('bom.csv', '\ufeffid,name\r\n1,Ann\r\n2,Bob\r\n');
// TSV with a comma inside a field and an empty last field.
write('people.tsv', 'id\tname\tnote\n1\tAnn\thello, world\n2\tBob\t\n');
// Semicolons with decimal commas (text) and day-first dotted dates.
write('semicolon.csv', 'id;price;booked\n1;3,50;01.02.2020\n2;4,25;13.02.2020\n');
// Invalid UTF-8 in the second data row, and in a header.
write('invalid-utf8.csv', Buffer.concat([Buffer.from('id,name\n1,Ann\n2,B'), Buffer.from([0xff]), Buffer.from('b\n3,Cy\n')]));
write('invalid-utf8-header.csv', Buffer.concat([Buffer.from('id,na'), Buffer.from([0xc3, 0x28]), Buffer.from('me\n1,Ann\n')]));
// An unclosed quote in the last record.
write('unclosed-quote.csv', 'a,b\n1,x\n2,"never closed\n3,y\n');
// Too few and too many fields, and text after a closing quote.
write('ragged.csv', 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,"x"y,12\n13,14,15\n');
// Empty files.
write('empty.csv', '');
write('empty.parquet', '');
write('empty.csv.gz', gzip(new Uint8Array(0)));
// NDJSON with broken lines.
write(
  'events.ndjson',
  [
    '{"id":1,"kind":"open","at":"2024-01-01T10:00:00Z"}',
    '{"id":2,"kind":',
    '',
    '[1,2]',
    '{"id":5,"kind":"close","at":"2024-01-01T11:30:00+01:00","extra":{"n":[1,2]}}',
  ].join('\n') + '\n',
);
// A JSON array with nested values, exact numbers and a late key.
write(
  'orders.json',
  JSON.stringify(
    [
      { id: 1, total: 1.1, tags: ['a', 'b'], customer: { name: 'Ann' } },
      { id: 2, total: 20, tags: [], customer: null },
    ],
    null,
    2,
  ).replace('"total": 1.1', '"total": 1.10'),
);

// Compressed variants, whole and truncated.
const ledgerText = Buffer.from(ledger(3000));
write('ledger.csv.gz', gzip(ledgerText));
write('ledger.tsv.zst', zstd(Buffer.from(ledger(3000).replace(/,/g, '\t'))));
const eventsNd = Buffer.from(Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i + 1, ok: i % 2 === 0 })).join('\n') + '\n');
write('events.ndjson.gz', gzip(eventsNd));
write('events.json.zst', zstd(Buffer.from(JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, ok: i % 2 === 0 }))))));
const gz = gzip(ledgerText);
write('ledger-truncated.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
const zs = zstd(ledgerText);
write('ledger-truncated.csv.zst', zs.subarray(0, Math.floor(zs.length / 2)));

// A 1×1 PNG.
write(
  'pixel.png',
  Buffer.from(
    '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d7a0b80000000049454e44ae426082',
    'hex',
  ),
);
