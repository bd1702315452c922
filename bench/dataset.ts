/**
 * The synthetic point-of-sale dataset of the ingest benchmark (docs/benchmarks.md), generated
 * deterministically (a seeded PRNG, no clock) and streamed to disk a block of rows at a time, so a file
 * of any size costs a few MiB of memory to make. The same rows come out as CSV (header, RFC 4180 quoting) or NDJSON.
 *
 * Columns: transaction_id (uuid-like), store_id (int), sku (string with leading zeros), quantity (int,
 * negative for returns), unit_price (2 decimals), currency (3-letter code), event_time (ISO-8601 UTC),
 * channel (enum), customer_email (empty for most rows), note (free text with commas and doubled quotes,
 * often empty). About 137 bytes per CSV row and 270 per NDJSON line, as in the notes.
 */
import { open, rename, stat } from 'node:fs/promises';

/** Output format of a generated file. */
export type DatasetFormat = 'csv' | 'ndjson';

/** The column names, in file order. */
export const POS_COLUMNS = [
  'transaction_id',
  'store_id',
  'sku',
  'quantity',
  'unit_price',
  'currency',
  'event_time',
  'channel',
  'customer_email',
  'note',
] as const;

const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'JPY', 'CHF'];
const CHANNELS = ['store', 'online', 'mobile', 'phone'];
const NOTES = [
  'gift wrap requested',
  'paid cash, no receipt',
  'customer said "thanks", left happy',
  'price match, see ticket',
  'return: box damaged, item ok',
  'asked for "express" shipping',
  'loyalty card, points added',
  'split payment, card and voucher',
];
/** 2024-01-01T00:00:00Z: event times start here and move forward a few hundred ms per row. */
const START_MS = Date.UTC(2024, 0, 1);

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same file on every machine. */
class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return this.next() % n;
  }
}

/**
 * A seeded uniform generator in [0, 1) (the same mulberry32 sequence as the dataset's), for other
 * generated inputs: the refresh benchmark and the local host's test data.
 *
 * @param seed the seed
 * @returns the next number on each call
 */
export function seededRandom(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next() / 4294967296;
}

/** One generated row, values as they appear in both formats (empty string = no value). */
interface PosRow {
  transactionId: string;
  storeId: number;
  sku: string;
  quantity: number;
  unitPrice: string;
  currency: string;
  eventTime: string;
  channel: string;
  customerEmail: string;
  note: string;
}

/** Row generator; row i depends only on the seed and the rows before it. */
class PosRows {
  private readonly prng: Prng;
  private timeMs = START_MS;
  /** `YYYY-MM-DDTHH:MM:SS.` of the current second: toISOString per row was a fifth of the time. */
  private secondPrefix = '';
  private second = -1;
  constructor(seed: number) {
    this.prng = new Prng(seed);
  }

  next(): PosRow {
    const p = this.prng;
    const a = hex8(p.next());
    const b = hex8(p.next());
    const c = hex8(p.next());
    const id = `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${hex8(p.next())}`;
    this.timeMs += p.below(400);
    // Returns (negative quantities) are about one row in twenty.
    const quantity = p.below(20) === 0 ? -1 - p.below(3) : 1 + p.below(12);
    const cents = 99 + p.below(49_900);
    const hasEmail = p.below(10) < 3;
    const noteKind = p.below(NOTES.length + 3);
    return {
      transactionId: id,
      storeId: 1 + p.below(400),
      sku: `SKU-${String(p.below(100_000)).padStart(6, '0')}`,
      quantity,
      unitPrice: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      currency: CURRENCIES[p.below(CURRENCIES.length)],
      eventTime: this.isoTime(),
      channel: CHANNELS[p.below(CHANNELS.length)],
      customerEmail: hasEmail ? `customer${p.below(1_000_000)}@example.com` : '',
      note: noteKind < NOTES.length ? NOTES[noteKind] : '',
    };
  }

  private isoTime(): string {
    const second = Math.floor(this.timeMs / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    return `${this.secondPrefix}${String(this.timeMs % 1000).padStart(3, '0')}Z`;
  }
}

/** Two hex digits for each byte value: hex8 is the generator's hottest step. */
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex8(n: number): string {
  return HEX_BYTE[n >>> 24] + HEX_BYTE[(n >>> 16) & 255] + HEX_BYTE[(n >>> 8) & 255] + HEX_BYTE[n & 255];
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(r: PosRow): string {
  return `${r.transactionId},${r.storeId},${r.sku},${r.quantity},${r.unitPrice},${r.currency},${r.eventTime},${r.channel},${r.customerEmail},${csvField(r.note)}\n`;
}

function ndjsonLine(r: PosRow): string {
  // Built by hand rather than with JSON.stringify so unit_price keeps exactly two decimals ("12.50").
  const email = r.customerEmail === '' ? 'null' : `"${r.customerEmail}"`;
  const note = r.note === '' ? 'null' : JSON.stringify(r.note);
  return (
    `{"transaction_id":"${r.transactionId}","store_id":${r.storeId},"sku":"${r.sku}","quantity":${r.quantity},"unit_price":${r.unitPrice},` +
    `"currency":"${r.currency}","event_time":"${r.eventTime}","channel":"${r.channel}","customer_email":${email},"note":${note}}\n`
  );
}

/** What `writeDataset` produced. */
export interface DatasetFile {
  path: string;
  rows: number;
  bytes: number;
  format: DatasetFormat;
}

/**
 * Write `rows` rows of the dataset to `path`, streaming (memory does not depend on `rows`). The file
 * appears under its name only when complete, so an interrupted run never leaves a short file that a
 * later run would take for a cached one.
 *
 * @param path the file to write
 * @param rows how many rows
 * @param format CSV (with a header) or NDJSON
 * @param seed PRNG seed (default 1): the same seed and row count give the same bytes
 * @returns the file's path, rows and size
 */
export async function writeDataset(path: string, rows: number, format: DatasetFormat, seed = 1): Promise<DatasetFile> {
  const partial = `${path}.partial-${process.pid}`;
  const file = await open(partial, 'w');
  try {
    const gen = new PosRows(seed);
    const line = format === 'csv' ? csvLine : ndjsonLine;
    // Lines go straight into one reused buffer: concatenating them into a big string first spent half
    // the time in the garbage collector.
    const block = Buffer.allocUnsafe(1 << 20);
    let used = format === 'csv' ? block.write(`${POS_COLUMNS.join(',')}\n`) : 0;
    for (let i = 0; i < rows; i++) {
      const text = line(gen.next());
      if (used + text.length * 3 > block.length) {
        await file.write(block, 0, used);
        used = 0;
      }
      used += block.write(text, used);
    }
    if (used) await file.write(block, 0, used);
  } finally {
    await file.close();
  }
  await rename(partial, path);
  return { path, rows, bytes: (await stat(path)).size, format };
}

/**
 * The dataset file at `path`, generated only when it is not there yet (bench/data/ caches them).
 *
 * @param path where the file is (or goes)
 * @param rows how many rows it has; the name should say so, since an existing file is not re-counted
 * @param format CSV or NDJSON
 * @returns the file's path, rows and size
 */
export async function cachedDataset(path: string, rows: number, format: DatasetFormat): Promise<DatasetFile> {
  try {
    return { path, rows, bytes: (await stat(path)).size, format };
  } catch {
    return writeDataset(path, rows, format);
  }
}
