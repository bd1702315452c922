/**
 * The output schema of a read: which column each input column lands in and with which type.
 *
 * Without a target schema the input columns come in input order with their inferred (or hinted)
 * types. With one, its columns come first in its order with its types (the table's types cannot
 * change), input columns it lacks follow as new fields, and target columns missing from the input are
 * null. Names match case-insensitively, as Delta column names do. `_rescued_data` is always last.
 */
import { DeltaField, DeltaStruct, DeltaType, formatDeltaType } from '../delta/schema';
import type { Inferred } from './infer';
import { parseHint } from './options';
import type { DateFormat } from './scalars';
import { ReadOptions, RESCUED_COLUMN } from './types';

/** One input column with what inference made of it. */
export interface InputColumn {
  /** Storable name (see names.ts). */
  name: string;
  /** The name as the input has it, when it differs (schema hints may use either). */
  original?: string;
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

function lowerKeyed<T>(entries: [string, T][]): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of entries) if (!out.has(k.toLowerCase())) out.set(k.toLowerCase(), v);
  return out;
}

/**
 * Plan the output columns.
 *
 * @param inputs the input columns in input order (storable names, unique case-insensitively and never
 *   `_rescued_data`: see `columnNames`)
 * @param options the read options (target schema and hints)
 * @param typed whether input types are given by the format (Parquet, Avro) rather than inferred
 * @returns the layout
 */
export function planLayout(inputs: InputColumn[], options: ReadOptions, typed = false): Layout {
  const hints = lowerKeyed(Object.entries(options.schemaHints ?? {}).map(([k, v]) => [k, parseHint(k, v)]));
  const hintOf = (input: InputColumn) =>
    hints.get(input.name.toLowerCase()) ?? (input.original !== undefined ? hints.get(input.original.toLowerCase()) : undefined);
  const inference: Record<string, string> = {};
  const inputTypes = inputs.map((input) => {
    const hint = hintOf(input);
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
      const hintedFormat = hintOf(inputs[input])?.dateFormat;
      const dateFormat = hintedFormat ?? inputTypes[input].dateFormat;
      const shown = field.type === 'date' ? `date ${dateFormat}` : formatDeltaType(field.type);
      inference[inputs[input].name] = `${shown} (target schema; ${typed ? 'source type' : 'inferred'} ${inferred.note})`;
      columns.push({ name: field.name, type: field.type, input, dateFormat });
    } else {
      columns.push({ name: field.name, type: field.type, input: -1, dateFormat: 'yyyy-MM-dd' });
    }
    fields.push(field);
  }
  inputs.forEach((input, i) => {
    if (used.has(i)) return;
    const name = input.name;
    const field: DeltaField = { name, type: inputTypes[i].type, nullable: true, metadata: {} };
    columns.push({ name, type: field.type, input: i, dateFormat: inputTypes[i].dateFormat });
    fields.push(field);
    if (options.targetSchema) newFields.push(field);
  });
  fields.push({ name: RESCUED_COLUMN, type: 'string', nullable: true, metadata: {} });
  return { schema: { type: 'struct', fields }, columns, newFields, inference };
}
