/**
 * The output schema of a read: which column each input column lands in and with which type.
 *
 * Without a target schema the input columns come in input order with their inferred (or hinted)
 * types. With one, its columns come first in its order with its types (the table's types cannot
 * change), input columns it lacks follow as new fields, and target columns missing from the input are
 * null. Names match case-insensitively, as Delta column names do. `_rescued_data` is always last.
 */
import { decimalParams, DeltaField, DeltaStruct, DeltaType, formatDeltaType } from '../delta/schema';
import type { Inferred } from './infer';
import { DATE_FORMATS, DateFormat } from './scalars';
import { ReadOptions, RESCUED_COLUMN } from './types';

/** One input column with what inference made of it. */
export interface InputColumn {
  name: string;
  inferred: Inferred;
}

/** One output column. */
export interface OutputColumn {
  name: string;
  type: DeltaType;
  /** Index of the input column feeding it, or -1 (all null). */
  input: number;
  dateFormat: DateFormat;
}

/** The planned output. */
export interface Layout {
  /** Data schema including `_rescued_data` last. */
  schema: DeltaStruct;
  /** Output columns in schema order, `_rescued_data` excluded. */
  columns: OutputColumn[];
  newFields: DeltaField[];
  inference: Record<string, string>;
}

const PRIMITIVES = new Set(['string', 'long', 'integer', 'short', 'byte', 'float', 'double', 'boolean', 'binary', 'date', 'timestamp', 'timestamp_ntz']);
const ALIASES: Record<string, string> = { int: 'integer', bigint: 'long', smallint: 'short', tinyint: 'byte', bool: 'boolean', real: 'float', text: 'string', varchar: 'string' };

/**
 * Read a schema hint: a Delta primitive type name, optionally `date <format>`.
 *
 * @param column the hinted column, for messages
 * @param hint e.g. `long`, `decimal(12,2)`, `date d/M/yyyy`
 * @returns the type and date format, if any; throws on an unknown type (a configuration error)
 */
export function parseHint(column: string, hint: string): { type: DeltaType; dateFormat?: DateFormat } {
  const trimmed = hint.trim();
  const m = /^date\s+(\S+)$/i.exec(trimmed);
  if (m) {
    const format = DATE_FORMATS.find((f) => f === m[1]);
    if (!format) throw new Error(`formats: schema hint for "${column}": unknown date format "${m[1]}" (known: ${DATE_FORMATS.join(', ')})`);
    return { type: 'date', dateFormat: format };
  }
  const lower = trimmed.toLowerCase();
  const name = ALIASES[lower] ?? lower;
  if (PRIMITIVES.has(name)) return { type: name };
  const dec = decimalParams(name.replace(/\s+/g, ''));
  if (dec && dec.precision >= 1 && dec.precision <= 38 && dec.scale >= 0 && dec.scale <= dec.precision) {
    return { type: `decimal(${dec.precision},${dec.scale})` };
  }
  throw new Error(`formats: schema hint for "${column}": unknown type "${hint}"`);
}

function lowerKeyed<T>(entries: [string, T][]): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of entries) if (!out.has(k.toLowerCase())) out.set(k.toLowerCase(), v);
  return out;
}

/**
 * Plan the output columns.
 *
 * @param inputs the input columns in input order (unique names, case-insensitively)
 * @param options the read options (target schema and hints)
 * @param typed whether input types are given by the format (Parquet, Avro) rather than inferred
 * @returns the layout
 */
export function planLayout(inputs: InputColumn[], options: ReadOptions, typed = false): Layout {
  const hints = lowerKeyed(Object.entries(options.schemaHints ?? {}).map(([k, v]) => [k, parseHint(k, v)]));
  const inference: Record<string, string> = {};
  const inputTypes = inputs.map((input) => {
    const hint = hints.get(input.name.toLowerCase());
    if (hint) {
      const dateFormat = hint.dateFormat ?? input.inferred.dateFormat;
      const shown = hint.type === 'date' ? `date ${dateFormat}` : formatDeltaType(hint.type);
      inference[input.name] = `${shown} (hint; ${typed ? 'source type' : 'inferred'} ${input.inferred.note})`;
      return { type: hint.type, dateFormat };
    }
    inference[input.name] = input.inferred.note;
    return { type: input.inferred.type, dateFormat: input.inferred.dateFormat };
  });

  const columns: OutputColumn[] = [];
  const fields: DeltaField[] = [];
  const newFields: DeltaField[] = [];
  const used = new Set<number>();
  const byName = lowerKeyed(inputs.map((c, i) => [c.name, i]));
  const rescuedKey = RESCUED_COLUMN.toLowerCase();
  for (const field of options.targetSchema?.fields ?? []) {
    if (field.name.toLowerCase() === rescuedKey) continue;
    const input = byName.get(field.name.toLowerCase()) ?? -1;
    if (input >= 0) {
      used.add(input);
      const inferred = inputs[input].inferred;
      const hintedFormat = hints.get(inputs[input].name.toLowerCase())?.dateFormat;
      const dateFormat = hintedFormat ?? inputTypes[input].dateFormat;
      const shown = field.type === 'date' ? `date ${dateFormat}` : formatDeltaType(field.type);
      inference[inputs[input].name] = `${shown} (target schema; ${typed ? 'source type' : 'inferred'} ${inferred.note})`;
      columns.push({ name: field.name, type: field.type, input, dateFormat });
    } else {
      columns.push({ name: field.name, type: field.type, input: -1, dateFormat: 'yyyy-MM-dd' });
    }
    fields.push(field);
  }
  const taken = new Set(fields.map((f) => f.name.toLowerCase()));
  taken.add(rescuedKey);
  inputs.forEach((input, i) => {
    if (used.has(i)) return;
    let name = input.name;
    // An input column called `_rescued_data` would collide with the rescue column.
    for (let n = 1; taken.has(name.toLowerCase()); n++) name = `${input.name}_${n}`;
    taken.add(name.toLowerCase());
    if (name !== input.name) inference[input.name] += ` (renamed to ${name})`;
    const field: DeltaField = { name, type: inputTypes[i].type, nullable: true, metadata: {} };
    columns.push({ name, type: field.type, input: i, dateFormat: inputTypes[i].dateFormat });
    fields.push(field);
    if (options.targetSchema) newFields.push(field);
  });
  fields.push({ name: RESCUED_COLUMN, type: 'string', nullable: true, metadata: {} });
  return { schema: { type: 'struct', fields }, columns, newFields, inference };
}

/**
 * Unique, non-empty column names: empty names become `_c<index>` (0-based, as Spark names headerless
 * columns), repeats (case-insensitively) get `_1`, `_2`… appended.
 *
 * @param names raw names
 * @returns usable names, same length
 */
export function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((raw, i) => {
    const base = raw === '' ? `_c${i}` : raw;
    let name = base;
    for (let n = 1; seen.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    seen.add(name.toLowerCase());
    return name;
  });
}
