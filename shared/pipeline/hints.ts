/**
 * Type names and schema hints as people write them. Hints take Delta type names and the Spark SQL
 * spellings people write (`int`, `bigint`, `decimal(12,2)`, `varchar`…, and `date d/M/yyyy`), as a map
 * or as Auto Loader's string (`"qty int, price decimal(12,2)"`), and are normalised to Delta names. They
 * name a column as the input has it or by its safe name (shared/formats/names.ts), so a name may hold
 * spaces: see `parseSchemaHints` for the string forms. The pipeline loader and `sluice ingest
 * --schema-hints` both read hints here, so the two accept the same text.
 */
import { storableName } from '../formats/names';
import { DATE_FORMATS, type DateFormat } from '../formats/scalars';
import { isReservedName, RESERVED_MESSAGE } from './names';

/**
 * The hints of one source, keyed as written: the original column name or the stored one (see
 * shared/formats/names.ts). Two hints that land on the same stored column would silently race, so the
 * second is a problem.
 */
export class HintSet {
  private readonly byStoredName = new Map<string, string>();
  private readonly hints = new Map<string, string>();

  /** Add a hint; returns a problem in words instead when the column cannot take it. */
  add(column: string, type: string): string | undefined {
    if (column.trim() === '') return 'a column name cannot be blank';
    if (isReservedName(column)) return `column name "${column}" ${RESERVED_MESSAGE}`;
    const stored = storableName(column, 0).toLowerCase();
    const earlier = this.byStoredName.get(stored);
    if (earlier !== undefined)
      return `column "${column}" is already hinted${earlier === column ? '' : ` as "${earlier}"`} (a column is stored as ${storableName(column, 0)}; hints match the original or the stored name, without regard to case)`;
    this.byStoredName.set(stored, column);
    this.hints.set(column, type);
    return undefined;
  }

  /** The hints as a plain record (own properties only, whatever the names). */
  toObject(): Record<string, string> {
    return Object.fromEntries(this.hints);
  }
}

/** The type words a hint accepts, for messages. */
export const TYPE_WORDS = 'string, int, bigint, smallint, tinyint, double, float, boolean, date, timestamp, timestamp_ntz, binary, decimal(p,s)';

const TYPE_ALIASES: Record<string, string> = {
  string: 'string',
  varchar: 'string',
  text: 'string',
  char: 'string',
  int: 'integer',
  integer: 'integer',
  bigint: 'long',
  long: 'long',
  smallint: 'short',
  short: 'short',
  tinyint: 'byte',
  byte: 'byte',
  double: 'double',
  float: 'float',
  real: 'float',
  boolean: 'boolean',
  bool: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
  timestamp_ltz: 'timestamp',
  timestamp_ntz: 'timestamp_ntz',
  binary: 'binary',
};

/**
 * A type as people write it (`int`, `BIGINT`, `decimal(12, 2)`, `varchar(20)`) as a Delta primitive
 * type name, or null when it is not one.
 *
 * @param text the type text
 * @returns the Delta type name, or null
 */
export function normaliseTypeName(text: string): string | null {
  const t = text.trim().toLowerCase();
  const dec = /^(?:decimal|numeric|dec)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(t);
  if (dec) {
    const precision = dec[1] === undefined ? 10 : Number(dec[1]);
    const scale = dec[2] === undefined ? 0 : Number(dec[2]);
    if (precision < 1 || precision > 38 || scale > precision) return null;
    return `decimal(${precision},${scale})`;
  }
  const varchar = /^(?:varchar|char)\s*\(\s*\d+\s*\)$/.exec(t);
  if (varchar) return 'string';
  return Object.hasOwn(TYPE_ALIASES, t) ? TYPE_ALIASES[t] : null;
}

/**
 * A hint's type: a Delta primitive as `normaliseTypeName` reads it, or `date <format>` for dates whose
 * day/month order inference cannot prove (shared/formats reads both).
 *
 * @param text the type as written
 * @returns the normalised type, or null when it is not one
 */
export function hintTypeName(text: string): string | null {
  const dated = /^date\s+(\S+)$/i.exec(text.trim());
  if (dated) return DATE_FORMATS.includes(dated[1] as DateFormat) ? `date ${dated[1]}` : null;
  return normaliseTypeName(text);
}

/**
 * Parse schema hints written as a string, Auto Loader style: `qty int, price decimal(12,2)`, also
 * `qty:int,price:decimal(12,2)`. A column name may hold spaces and other characters Delta refuses
 * (the hint names the original column; it is stored under its safe name): quote it Spark's way
 * (`` `Contact Phone Number` string ``, a backtick inside doubled), or write `Contact Phone Number:string`,
 * or `Contact Phone Number string` (the words after the name are the type).
 *
 * @param text the hints
 * @returns column → type (a Delta type name, or `date <format>`), and problems in words, each naming its hint
 */
export function parseSchemaHints(text: string): { hints: Record<string, string>; problems: string[] } {
  const hints = new HintSet();
  const problems: string[] = [];
  for (const raw of splitHints(text)) {
    const part = raw.trim();
    if (!part) continue;
    const parsed = parseOneHint(part);
    const problem = 'problem' in parsed ? parsed.problem : hints.add(parsed.column, parsed.type);
    if (problem) problems.push(`hint "${part}": ${problem}`);
  }
  return { hints: hints.toObject(), problems };
}

/** The hints of a string, split on the commas that are neither in parentheses (decimal(12,2)) nor in backticks. */
function splitHints(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    // A doubled backtick inside a quoted name closes and reopens it: the state ends where it was.
    if (ch === '`') quoted = !quoted;
    if (!quoted && ch === '(') depth++;
    if (!quoted && ch === ')') depth--;
    if (ch === ',' && depth === 0 && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** One hint: `` `name` type ``, `` `name`:type ``, `name:type` or `name type`. */
function parseOneHint(part: string): { column: string; type: string } | { problem: string } {
  if (part.startsWith('`')) {
    let column = '';
    let i = 1;
    for (; i < part.length; i++) {
      if (part[i] !== '`') column += part[i];
      else if (part[i + 1] === '`') column += part[i++];
      else break;
    }
    if (i >= part.length) return { problem: 'the backtick before the column name is never closed' };
    const typeText = part
      .slice(i + 1)
      .replace(/^\s*:?/, '')
      .trim();
    if (!typeText) return { problem: `no type after the column \`${column}\`` };
    const type = hintTypeName(typeText);
    return type ? { column, type } : { problem: notAType(typeText) };
  }
  // A type never holds a colon, so only the last colon can end the name.
  const colon = part.lastIndexOf(':');
  if (colon > 0) {
    const type = hintTypeName(part.slice(colon + 1));
    if (type && part.slice(0, colon).trim()) return { column: part.slice(0, colon).trim(), type };
  }
  // `name type`: the split at a space outside parentheses whose right-hand side is a type. There is at
  // most one: a type is one word, or `date <format>` where the format alone is no type.
  const splits: number[] = [];
  let depth = 0;
  for (let i = 0; i < part.length; i++) {
    if (part[i] === '(') depth++;
    else if (part[i] === ')') depth--;
    else if (depth === 0 && /\s/.test(part[i]) && !/\s/.test(part[i - 1])) splits.push(i);
  }
  for (const at of splits) {
    const type = hintTypeName(part.slice(at));
    if (type) return { column: part.slice(0, at).trim(), type };
  }
  if (colon > 0) return { problem: notAType(part.slice(colon + 1).trim()) };
  if (splits.length) return { problem: notAType(part.slice(splits[splits.length - 1]).trim()) };
  return { problem: 'is not "column type" or "column:type"' };
}

function notAType(text: string): string {
  return `"${text}" is not a type (${TYPE_WORDS}, date <format>)`;
}
