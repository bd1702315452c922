/**
 * Typed conversion: a column of typed values (Parquet, Avro, binary-file rows) into a column of
 * another Delta type, through each value's text, exact conversions only; what does not fit is
 * rescued (./rescue.ts).
 */
import type * as arrow from 'apache-arrow';
import { decimalParams, DeltaType, formatDeltaType } from '../delta/schema';
import { formatDate, formatDecimal, formatTimestampMicros } from '../delta/partitions';
import { buildVector } from '../delta/values';
import { createWriter } from './column-writers';
import { JsonRaw, toJsonText } from './json-text';
import type { Rescue } from './rescue';
import type { DateFormat } from './scalars';

/**
 * Text form of a typed JS value (values.ts forms), for converting between types: numbers and
 * decimals as literals, dates `yyyy-MM-dd`, timestamps ISO-8601 (UTC with `Z`; `timestamp_ntz`
 * without), binary as base64, nested values as JSON.
 *
 * @param value the value (not null)
 * @param type its Delta type
 * @returns the text
 */
export function typedText(value: unknown, type: DeltaType): string {
  if (typeof type !== 'string') return toJsonText(value);
  switch (type) {
    case 'date':
      return formatDate(Number(value));
    case 'timestamp':
      return formatTimestampMicros(BigInt(value as bigint));
    case 'timestamp_ntz':
      return formatTimestampMicros(BigInt(value as bigint)).replace('Z', '');
    case 'binary':
      return Buffer.from(value as Uint8Array).toString('base64');
  }
  const dec = decimalParams(type);
  if (dec) return formatDecimal(BigInt(value as bigint), dec.scale);
  return typeof value === 'string' ? value : String(value);
}

/**
 * A column of typed values (Parquet, Avro, binary-file rows) in a target type. Same type: built as
 * is. Other type: through the value's text (exact conversions only), rescuing what does not fit.
 *
 * @param values the values in the JS form of `from`
 * @param from their Delta type
 * @param to the column's Delta type
 * @param dateFormat the date format when `to` is date
 * @param rescue where values that do not fit go
 * @param name the output column name
 * @returns the column
 */
export function typedColumn(values: readonly unknown[], from: DeltaType, to: DeltaType, dateFormat: DateFormat, rescue: Rescue, name: string): arrow.Data {
  if (formatDeltaType(from) === formatDeltaType(to)) return buildVector(to, values).data[0];
  const writer = createWriter(to, values.length, dateFormat);
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const nested = typeof from !== 'string';
    const text = typedText(v, from);
    const ok = nested && typeof to !== 'string' ? writer.value(i, new JsonRaw(text)) : writer.value(i, text);
    if (!ok) rescue.add(i, name, nested ? text : JSON.stringify(text));
  });
  return writer.finish();
}
