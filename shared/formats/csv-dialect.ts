/**
 * CSV dialect sniffing: delimiter, quote, escape and header, from the first bytes of a file.
 *
 * Every candidate dialect parses the head; the one whose records have the most consistent field
 * count (above one field) wins; then fewer parse errors (text after a closing quote), more fields, and
 * the usual order `,` `;` tab `|` (tab first for TSV) break ties. A header is assumed when every
 * non-empty field of the first record is plain text (not a number, boolean, date or timestamp) and
 * the non-empty names are unique; declare `csv.header` when a file breaks that rule.
 */
import { ColumnProfile } from './infer';

/** A CSV dialect as bytes. `escape === quote` means quotes are escaped by doubling them. */
export interface CsvDialect {
  delimiter: number;
  quote: number;
  escape: number;
  header: boolean;
}

/** What sniffing found besides the dialect. */
export interface SniffResult {
  dialect: CsvDialect;
  /** Fields of the first record (the header when `dialect.header`), or null when the head has none. */
  firstRecord: Uint8Array[] | null;
  /** Line ending of the first record. */
  lineEnding: 'LF' | 'CRLF' | 'CR' | 'none';
}

const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const TAB = 0x09;
const PIPE = 0x7c;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const LF = 0x0a;
const CR = 0x0d;

interface HeadParse {
  records: Uint8Array[][];
  errors: number;
  /** Whether the last record ended before the end of the head (so it is complete). */
  lineEnding: SniffResult['lineEnding'];
}

/**
 * Split the head into records under one dialect (fields unescaped). The final record counts only
 * when the head is the whole file.
 */
function parseHead(head: Uint8Array, eof: boolean, delimiter: number, quote: number, escape: number, maxRecords: number): HeadParse {
  const records: Uint8Array[][] = [];
  let errors = 0;
  let lineEnding: SniffResult['lineEnding'] = 'none';
  let pos = 0;
  const len = head.length;
  while (pos < len && records.length < maxRecords) {
    if (head[pos] === LF || head[pos] === CR) {
      pos += head[pos] === CR && head[pos + 1] === LF ? 2 : 1;
      continue;
    }
    const fields: Uint8Array[] = [];
    let complete = false;
    for (;;) {
      if (pos < len && head[pos] === quote) {
        const bytes: number[] = [];
        let p = pos + 1;
        let closed = false;
        while (p < len) {
          const b = head[p];
          if (escape !== quote && b === escape && p + 1 < len) {
            const n = head[p + 1];
            if (n !== quote && n !== escape) bytes.push(b);
            bytes.push(n);
            p += 2;
            continue;
          }
          if (b === quote) {
            if (escape === quote && head[p + 1] === quote) {
              bytes.push(quote);
              p += 2;
              continue;
            }
            closed = true;
            p++;
            break;
          }
          bytes.push(b);
          p++;
        }
        if (!closed) {
          if (eof) errors++;
          pos = len;
          break;
        }
        pos = p;
        if (pos < len && head[pos] !== delimiter && head[pos] !== LF && head[pos] !== CR) {
          errors++;
          while (pos < len && head[pos] !== delimiter && head[pos] !== LF && head[pos] !== CR) bytes.push(head[pos++]);
        }
        fields.push(Uint8Array.from(bytes));
      } else {
        const start = pos;
        while (pos < len && head[pos] !== delimiter && head[pos] !== LF && head[pos] !== CR) pos++;
        fields.push(head.subarray(start, pos));
      }
      if (pos >= len) {
        complete = eof;
        break;
      }
      if (head[pos] === delimiter) {
        pos++;
        continue;
      }
      if (records.length === 0) lineEnding = head[pos] === LF ? 'LF' : head[pos + 1] === LF ? 'CRLF' : 'CR';
      pos += head[pos] === CR && head[pos + 1] === LF ? 2 : 1;
      complete = true;
      break;
    }
    if (!complete) break;
    records.push(fields);
  }
  return { records, errors, lineEnding };
}

function consistency(records: Uint8Array[][]): { mode: number; share: number } {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.length, (counts.get(r.length) ?? 0) + 1);
  let mode = 0;
  let best = 0;
  for (const [n, c] of counts) {
    if (c > best || (c === best && n > mode)) {
      mode = n;
      best = c;
    }
  }
  return { mode, share: records.length ? best / records.length : 0 };
}

/**
 * Choose the dialect of a CSV/TSV head.
 *
 * @param head the first bytes of the file (BOM removed), ideally 64 KiB or the whole file
 * @param eof whether `head` is the whole file
 * @param declared dialect parts the caller fixed (bytes), header included
 * @param preferTab whether the file is declared or named TSV
 * @returns the dialect and the first record
 */
export function sniffDialect(
  head: Uint8Array,
  eof: boolean,
  declared: { delimiter?: number; quote?: number; escape?: number; header?: boolean },
  preferTab: boolean,
): SniffResult {
  const delimiters = declared.delimiter !== undefined ? [declared.delimiter] : preferTab ? [TAB, COMMA, SEMICOLON, PIPE] : [COMMA, SEMICOLON, TAB, PIPE];
  // The single quote is a candidate only in files without any double quote that do start fields with
  // it: apostrophes in text (O'Brien) must not turn into quoting, and a broken double-quoted record must
  // be reported as broken rather than "fixed" by another quote character.
  const quotes = declared.quote !== undefined ? [declared.quote] : head.indexOf(DQUOTE) < 0 && startsFields(head, SQUOTE) ? [SQUOTE, DQUOTE] : [DQUOTE];
  let best: { score: number[]; dialect: Omit<CsvDialect, 'header'>; parse: HeadParse } | undefined;
  let order = 0;
  for (const quote of quotes) {
    const escapes = declared.escape !== undefined ? [declared.escape] : hasBackslashEscape(head, quote) ? [quote, BACKSLASH] : [quote];
    for (const escape of escapes) {
      for (const delimiter of delimiters) {
        const parse = parseHead(head, eof, delimiter, quote, escape, 200);
        const { mode, share } = consistency(parse.records);
        // Higher is better, compared left to right. A delimiter that splits most records beats one that
        // never occurs (which is trivially consistent).
        const score = [parse.records.length ? 1 : 0, mode > 1 && share >= 0.5 ? 1 : 0, share, -parse.errors, mode, -order++];
        if (!best || compareScores(score, best.score) > 0) best = { score, dialect: { delimiter, quote, escape }, parse };
      }
    }
  }
  const chosen = best!;
  const first = chosen.parse.records[0] ?? null;
  const header = declared.header ?? (first ? looksLikeHeader(first) : false);
  return { dialect: { ...chosen.dialect, header }, firstRecord: first, lineEnding: chosen.parse.lineEnding };
}

/** Whether some field starts with `quote`: at the start of a line or after a candidate delimiter. */
function startsFields(head: Uint8Array, quote: number): boolean {
  for (let i = head.indexOf(quote); i >= 0; i = head.indexOf(quote, i + 1)) {
    const before = i === 0 ? LF : head[i - 1];
    if (before === LF || before === CR || before === COMMA || before === SEMICOLON || before === TAB || before === PIPE) return true;
  }
  return false;
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Whether a backslash directly before a quote occurs inside the head (a backslash-escaping dialect). */
function hasBackslashEscape(head: Uint8Array, quote: number): boolean {
  for (let i = head.indexOf(BACKSLASH); i >= 0 && i + 1 < head.length; i = head.indexOf(BACKSLASH, i + 1)) {
    if (head[i + 1] === quote) return true;
  }
  return false;
}

// Lenient: a header with a broken byte is still a header (the reader then reports the file as fatal).
const utf8 = new TextDecoder('utf-8');

/**
 * The header rule: every non-empty field is plain text, at least one is non-empty, names are unique.
 *
 * @param fields the first record's fields
 * @returns whether it is a header
 */
export function looksLikeHeader(fields: Uint8Array[]): boolean {
  const seen = new Set<string>();
  let named = 0;
  for (const f of fields) {
    if (f.length === 0) continue;
    const text = utf8.decode(f);
    const profile = new ColumnProfile();
    profile.addText(f, 0, f.length);
    if (profile.resolve().type !== 'string') return false;
    const key = text.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    named++;
  }
  return named > 0;
}

/**
 * A readable description of a dialect for `ReadResult.inference`.
 *
 * @param d the dialect
 * @param lineEnding the first record's line ending
 * @returns e.g. `delimiter ',' quote '"' escape doubled quote, header, CRLF`
 */
export function describeDialect(d: CsvDialect, lineEnding: SniffResult['lineEnding']): string {
  const show = (b: number) => (b === TAB ? '\\t' : String.fromCharCode(b));
  const escape = d.escape === d.quote ? 'doubled quote' : `'${show(d.escape)}'`;
  return `delimiter '${show(d.delimiter)}' quote '${show(d.quote)}' escape ${escape}, ${d.header ? 'header' : 'no header'}, line ending ${lineEnding}`;
}
