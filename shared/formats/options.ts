/**
 * Checking read options before a byte is read. A bad option is the configuration's fault, not the
 * input's: it must stop the read with an error naming the setting, never become a dead-lettered file
 * or (worse) a silently empty one. `readInput` calls `checkReadOptions` first; the ingest stage calls
 * it before it records anything about the file.
 */
import { decimalParams, DeltaType } from '../delta/schema';
import { DATE_FORMATS, DateFormat } from './scalars';
import type { ReadOptions } from './types';

/** An invalid read option; `setting` is its path in `ReadOptions` (`csv.delimiter`, `schemaHints.qty`). */
export class ReadOptionsError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`formats: ${setting}: ${message}`);
    this.name = 'ReadOptionsError';
  }
}

const PRIMITIVES = new Set(['string', 'long', 'integer', 'short', 'byte', 'float', 'double', 'boolean', 'binary', 'date', 'timestamp', 'timestamp_ntz']);
const ALIASES: Record<string, string> = {
  int: 'integer',
  bigint: 'long',
  smallint: 'short',
  tinyint: 'byte',
  bool: 'boolean',
  real: 'float',
  text: 'string',
  varchar: 'string',
};

/**
 * Read a schema hint: a Delta primitive type name, optionally `date <format>`.
 *
 * @param column the hinted column, for messages
 * @param hint e.g. `long`, `decimal(12,2)`, `date d/M/yyyy`
 * @returns the type and date format, if any; throws `ReadOptionsError` on an unknown type
 */
export function parseHint(column: string, hint: string): { type: DeltaType; dateFormat?: DateFormat } {
  const setting = `schemaHints.${column}`;
  if (typeof hint !== 'string') throw new ReadOptionsError(setting, `a type name is needed, got ${JSON.stringify(hint)}`);
  const trimmed = hint.trim();
  const m = /^date\s+(\S+)$/i.exec(trimmed);
  if (m) {
    const format = DATE_FORMATS.find((f) => f === m[1]);
    if (!format) throw new ReadOptionsError(setting, `unknown date format "${m[1]}" (known: ${DATE_FORMATS.join(', ')})`);
    return { type: 'date', dateFormat: format };
  }
  const lower = trimmed.toLowerCase();
  const name = ALIASES[lower] ?? lower;
  if (PRIMITIVES.has(name)) return { type: name };
  const dec = decimalParams(name.replace(/\s+/g, ''));
  if (dec && dec.precision >= 1 && dec.precision <= 38 && dec.scale >= 0 && dec.scale <= dec.precision) {
    return { type: `decimal(${dec.precision},${dec.scale})` };
  }
  throw new ReadOptionsError(setting, `unknown type "${hint}"`);
}

const FORMATS = ['auto', 'csv', 'tsv', 'json', 'ndjson', 'parquet', 'avro', 'binary'];
const COMPRESSIONS = ['auto', 'none', 'gzip', 'zstd'];
const ENCODINGS = ['utf-8', 'latin1'];

/**
 * The byte of a dialect character: one ASCII character (`\t` may be written as the two characters
 * backslash and t), not a line break.
 *
 * @param value the option value
 * @param setting its name, for the error
 * @returns the byte, or undefined when the option is not set
 */
export function dialectByte(value: string | undefined, setting: string): number | undefined {
  if (value === undefined) return undefined;
  if (value === '\\t') return 0x09;
  if (typeof value !== 'string' || value.length !== 1 || value.charCodeAt(0) > 0x7f) {
    throw new ReadOptionsError(setting, `must be one ASCII character, got ${JSON.stringify(value)}`);
  }
  const byte = value.charCodeAt(0);
  if (byte === 0x0a || byte === 0x0d) throw new ReadOptionsError(setting, 'cannot be a line break');
  return byte;
}

/**
 * Throw `ReadOptionsError` for the first invalid option: an unknown format, compression or encoding,
 * a dialect character that is not one ASCII character (or clashes with another), a schema hint of an
 * unknown type, a sample or batch size that is not a positive integer.
 *
 * @param options the options of one read
 */
export function checkReadOptions(options: ReadOptions): void {
  if (options.format !== undefined && !FORMATS.includes(options.format)) {
    throw new ReadOptionsError('format', `unknown format ${JSON.stringify(options.format)} (known: ${FORMATS.join(', ')})`);
  }
  if (options.compression !== undefined && !COMPRESSIONS.includes(options.compression)) {
    throw new ReadOptionsError('compression', `unknown compression ${JSON.stringify(options.compression)} (known: ${COMPRESSIONS.join(', ')})`);
  }
  const csv = options.csv ?? {};
  const delimiter = dialectByte(csv.delimiter, 'csv.delimiter');
  const quote = dialectByte(csv.quote, 'csv.quote');
  dialectByte(csv.escape, 'csv.escape');
  // Without a declared quote the reader quotes with `"`.
  if (delimiter !== undefined && delimiter === (quote ?? 0x22)) {
    throw new ReadOptionsError(
      'csv.quote',
      `is the same character as csv.delimiter (${JSON.stringify(csv.quote ?? '"')}${csv.quote === undefined ? ', the default quote: declare another csv.quote' : ''})`,
    );
  }
  if (csv.header !== undefined && typeof csv.header !== 'boolean')
    throw new ReadOptionsError('csv.header', `must be true or false, got ${JSON.stringify(csv.header)}`);
  if (csv.encoding !== undefined && !ENCODINGS.includes(csv.encoding)) {
    throw new ReadOptionsError('csv.encoding', `unknown encoding ${JSON.stringify(csv.encoding)} (known: ${ENCODINGS.join(', ')})`);
  }
  for (const [column, hint] of Object.entries(options.schemaHints ?? {})) parseHint(column, hint);
  for (const setting of ['sampleRows', 'batchRows', 'binaryInlineLimit', 'maxRecordBytes'] as const) {
    const value = options[setting];
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new ReadOptionsError(setting, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  if (options.modificationTime !== undefined && !(options.modificationTime instanceof Date && !Number.isNaN(options.modificationTime.getTime()))) {
    throw new ReadOptionsError('modificationTime', 'must be a valid Date');
  }
}
