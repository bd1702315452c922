/**
 * Which format and compression an input has, from its name and its first bytes.
 *
 * Magic bytes win over the extension where a format has them (gzip, zstd, Parquet, Avro), because
 * landing zones are full of misnamed files; text formats have no magic, so for them the extension
 * decides and the content is only consulted when the extension says nothing.
 */
import type { Compression, InputFormat } from './types';

const COMPRESSION_EXTENSIONS: Record<string, Compression> = { gz: 'gzip', gzip: 'gzip', zst: 'zstd', zstd: 'zstd' };
const FORMAT_EXTENSIONS: Record<string, Exclude<InputFormat, 'auto'>> = {
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  txt: 'csv',
  json: 'json',
  ndjson: 'ndjson',
  jsonl: 'ndjson',
  ldjson: 'ndjson',
  parquet: 'parquet',
  pq: 'parquet',
  avro: 'avro',
};

function extensionsOf(name: string): string[] {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.toLowerCase().split('.').slice(1);
}

/**
 * Compression from magic bytes, else from the extension.
 *
 * @param name file name or path
 * @param head the first stored bytes (at least 4 when the file has them)
 * @returns the compression
 */
export function detectCompression(name: string, head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // An archive extension without the magic is an archive with a damaged header: decoding it reports
  // that, where reading it as plain text would emit garbage rows.
  const exts = extensionsOf(name);
  return COMPRESSION_EXTENSIONS[exts[exts.length - 1] ?? ''] ?? 'none';
}

/**
 * Format from magic bytes, else the extension (compression extensions skipped), else the content.
 *
 * @param name file name or path
 * @param head the first decompressed bytes (up to a few KiB)
 * @returns the format (never `auto`)
 */
export function detectFormat(name: string, head: Uint8Array): Exclude<InputFormat, 'auto'> {
  if (startsWith(head, [0x50, 0x41, 0x52, 0x31])) return 'parquet';
  if (startsWith(head, [0x4f, 0x62, 0x6a, 0x01])) return 'avro';
  const exts = extensionsOf(name).filter((e) => !(e in COMPRESSION_EXTENSIONS));
  const byExtension = exts.length ? FORMAT_EXTENSIONS[exts[exts.length - 1]] : undefined;
  if (byExtension === 'parquet' || byExtension === 'avro') {
    // Named Parquet/Avro but without the magic: the reader reports it as not that format.
    return byExtension;
  }
  if (byExtension === 'json') return looksLikeNdjson(head) ? 'ndjson' : 'json';
  if (byExtension) return byExtension;
  // Documents and media often start with a readable header (`%PDF-1.7`): magic and extension first.
  if (BINARY_MAGIC.some((magic) => startsWith(head, magic))) return 'binary';
  // Named documents and media (.pdf, .png, .xml…) are files to keep whole, not tables.
  if (exts.length && exts[exts.length - 1] in EXTENSION_CONTENT_TYPES) return 'binary';
  if (!looksLikeText(head)) return 'binary';
  const first = firstNonSpace(head);
  if (first === 0x5b) return 'json';
  if (first === 0x7b) return looksLikeNdjson(head) ? 'ndjson' : 'json';
  return 'csv';
}

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

function firstNonSpace(head: Uint8Array): number {
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  return i < head.length ? head[i] : -1;
}

/**
 * Whether JSON text is one object per line: the first line is a complete object by itself. A
 * pretty-printed object spreads over lines, so its first line is never complete.
 */
function looksLikeNdjson(head: Uint8Array): boolean {
  if (firstNonSpace(head) !== 0x7b) return false;
  let depth = 0;
  let inString = false;
  let started = false;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      depth++;
      started = true;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (started && depth === 0) return true;
    } else if (b === 0x0a && started) return false;
  }
  // The head ended inside the first object: a line longer than the head is NDJSON-like only if it has
  // no line break at all, which is what a single long NDJSON line looks like.
  return started && head.indexOf(0x0a) < 0;
}

/**
 * Whether bytes look like text: no NUL bytes and few control characters. Invalid UTF-8 is left to the
 * text readers, which report it precisely.
 */
function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return true;
  let control = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
  }
  return control * 100 < head.length;
}

const CONTENT_TYPES: [number[], string][] = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b], 'application/gzip'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'application/zstd'],
  [[0x50, 0x41, 0x52, 0x31], 'application/vnd.apache.parquet'],
  [[0x4f, 0x62, 0x6a, 0x01], 'application/avro'],
];
const BINARY_MAGIC = CONTENT_TYPES.slice(0, 5).map(([magic]) => magic);
const EXTENSION_CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  pdf: 'application/pdf',
  zip: 'application/zip',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  xml: 'application/xml',
  html: 'text/html',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  wav: 'audio/wav',
};

/**
 * MIME type of a binary file from its magic bytes, else its extension.
 *
 * @param name file name or path
 * @param head the first bytes
 * @returns e.g. `image/png`; `application/octet-stream` when unknown
 */
export function detectContentType(name: string, head: Uint8Array): string {
  for (const [magic, type] of CONTENT_TYPES) if (startsWith(head, magic)) return type;
  if (startsWith(head, [0x52, 0x49, 0x46, 0x46]) && head.length >= 12) {
    const tag = String.fromCharCode(...head.subarray(8, 12));
    if (tag === 'WEBP') return 'image/webp';
    if (tag === 'WAVE') return 'audio/wav';
  }
  const exts = extensionsOf(name);
  return EXTENSION_CONTENT_TYPES[exts[exts.length - 1] ?? ''] ?? 'application/octet-stream';
}
