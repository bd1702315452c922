/**
 * Variant values (Delta's `variantType`, Spark 4's VARIANT) as JSON text. A variant column is stored
 * unshredded as a Parquet group of two binaries: `metadata` (a dictionary of object keys) and `value`
 * (a self-describing encoding of one JSON-like value), as the Parquet variant specification defines.
 * Values JSON has no type for are written as JSON strings in Sluice's usual forms: dates
 * `YYYY-MM-DD`, timestamps ISO-8601 with microseconds (`…Z` for UTC ones), binary as base64, UUIDs
 * in their 8-4-4-4-12 form; decimals are written as JSON numbers with their exact digits.
 */
import { formatDate, formatDecimal, formatTimestampMicros } from './partitions';

/** A variant that cannot be decoded: the reason and the byte offset in its `value` or `metadata`. */
export class VariantDecodeError extends Error {}

/**
 * The JSON text of one variant value.
 *
 * @param metadata the variant's `metadata` bytes
 * @param value the variant's `value` bytes
 * @returns compact JSON
 */
export function variantToJson(metadata: Uint8Array, value: Uint8Array): string {
  const keys = readDictionary(metadata);
  const out: string[] = [];
  writeValue(new DataView(value.buffer, value.byteOffset, value.byteLength), 0, keys, out);
  return out.join('');
}

function readDictionary(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 1) throw new VariantDecodeError('variant: the metadata is empty');
  const header = view.getUint8(0);
  if ((header & 0x0f) !== 1) throw new VariantDecodeError(`variant: metadata version ${header & 0x0f} at offset 0 is not 1`);
  const width = ((header >> 6) & 0x03) + 1;
  const size = readUnsigned(view, 1, width);
  const offsetsAt = 1 + width;
  const stringsAt = offsetsAt + (size + 1) * width;
  const decoder = new TextDecoder();
  const keys: string[] = [];
  for (let i = 0; i < size; i++) {
    const start = stringsAt + readUnsigned(view, offsetsAt + i * width, width);
    const end = stringsAt + readUnsigned(view, offsetsAt + (i + 1) * width, width);
    if (end > bytes.length || start > end)
      throw new VariantDecodeError(`variant: metadata key ${i} at offset ${offsetsAt + i * width} points outside the metadata`);
    keys.push(decoder.decode(bytes.subarray(start, end)));
  }
  return keys;
}

function readUnsigned(view: DataView, at: number, width: number): number {
  if (at + width > view.byteLength) throw new VariantDecodeError(`variant: ${width}-byte integer at offset ${at} runs past the end (${view.byteLength} bytes)`);
  let n = 0;
  for (let i = width - 1; i >= 0; i--) n = n * 256 + view.getUint8(at + i);
  return n;
}

const PRIMITIVE_NAMES = ['null', 'true', 'false'];

function writeValue(view: DataView, at: number, keys: string[], out: string[]): void {
  if (at >= view.byteLength) throw new VariantDecodeError(`variant: value at offset ${at} runs past the end (${view.byteLength} bytes)`);
  const header = view.getUint8(at);
  const basic = header & 0x03;
  const info = header >> 2;
  if (basic === 1) {
    out.push(JSON.stringify(text(view, at + 1, info)));
  } else if (basic === 2) {
    const large = (info >> 4) & 1;
    const idWidth = ((info >> 2) & 0x03) + 1;
    const offsetWidth = (info & 0x03) + 1;
    const count = readUnsigned(view, at + 1, large ? 4 : 1);
    const idsAt = at + 1 + (large ? 4 : 1);
    const offsetsAt = idsAt + count * idWidth;
    const valuesAt = offsetsAt + (count + 1) * offsetWidth;
    out.push('{');
    for (let i = 0; i < count; i++) {
      const id = readUnsigned(view, idsAt + i * idWidth, idWidth);
      if (id >= keys.length)
        throw new VariantDecodeError(`variant: object field id ${id} at offset ${idsAt + i * idWidth} is not in the metadata (${keys.length} keys)`);
      if (i) out.push(',');
      out.push(JSON.stringify(keys[id]), ':');
      writeValue(view, valuesAt + readUnsigned(view, offsetsAt + i * offsetWidth, offsetWidth), keys, out);
    }
    out.push('}');
  } else if (basic === 3) {
    const large = (info >> 2) & 1;
    const offsetWidth = (info & 0x03) + 1;
    const count = readUnsigned(view, at + 1, large ? 4 : 1);
    const offsetsAt = at + 1 + (large ? 4 : 1);
    const valuesAt = offsetsAt + (count + 1) * offsetWidth;
    out.push('[');
    for (let i = 0; i < count; i++) {
      if (i) out.push(',');
      writeValue(view, valuesAt + readUnsigned(view, offsetsAt + i * offsetWidth, offsetWidth), keys, out);
    }
    out.push(']');
  } else {
    out.push(primitive(view, at + 1, info));
  }
}

function text(view: DataView, at: number, length: number): string {
  if (at + length > view.byteLength)
    throw new VariantDecodeError(`variant: ${length}-byte string at offset ${at} runs past the end (${view.byteLength} bytes)`);
  return new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + at, length));
}

function need(view: DataView, at: number, length: number): void {
  if (at + length > view.byteLength) throw new VariantDecodeError(`variant: ${length}-byte value at offset ${at} runs past the end (${view.byteLength} bytes)`);
}

function primitive(view: DataView, at: number, type: number): string {
  if (type <= 2) return PRIMITIVE_NAMES[type];
  const sizes: Record<number, number> = { 3: 1, 4: 2, 5: 4, 6: 8, 7: 8, 8: 5, 9: 9, 10: 17, 11: 4, 12: 8, 13: 8, 14: 4, 17: 8, 18: 8, 19: 8, 20: 16 };
  if (type === 15 || type === 16) {
    need(view, at, 4);
    const length = view.getUint32(at, true);
    if (type === 16) return JSON.stringify(text(view, at + 4, length));
    need(view, at + 4, length);
    return JSON.stringify(Buffer.from(view.buffer, view.byteOffset + at + 4, length).toString('base64'));
  }
  const size = sizes[type];
  if (size === undefined) throw new VariantDecodeError(`variant: unknown primitive type ${type} at offset ${at - 1}`);
  need(view, at, size);
  switch (type) {
    case 3:
      return String(view.getInt8(at));
    case 4:
      return String(view.getInt16(at, true));
    case 5:
      return String(view.getInt32(at, true));
    case 6:
      return view.getBigInt64(at, true).toString();
    case 7:
      return jsonNumber(view.getFloat64(at, true));
    case 14:
      return jsonNumber(view.getFloat32(at, true));
    case 8:
      return formatDecimal(BigInt(view.getInt32(at + 1, true)), view.getUint8(at));
    case 9:
      return formatDecimal(view.getBigInt64(at + 1, true), view.getUint8(at));
    case 10: {
      const low = view.getBigUint64(at + 1, true);
      const high = view.getBigInt64(at + 9, true);
      return formatDecimal((high << 64n) | low, view.getUint8(at));
    }
    case 11:
      return JSON.stringify(formatDate(view.getInt32(at, true)));
    case 12:
      return JSON.stringify(formatTimestampMicros(view.getBigInt64(at, true)));
    case 13:
      return JSON.stringify(formatTimestampMicros(view.getBigInt64(at, true)).replace(/Z$/, ''));
    case 17:
      return JSON.stringify(timeOfDay(view.getBigInt64(at, true)));
    case 18:
      return JSON.stringify(nanosTimestamp(view.getBigInt64(at, true)));
    case 19:
      return JSON.stringify(nanosTimestamp(view.getBigInt64(at, true)).replace(/Z$/, ''));
    default: {
      const hex = Buffer.from(view.buffer, view.byteOffset + at, 16).toString('hex');
      return JSON.stringify(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
    }
  }
}

/** JSON has no NaN or infinities; Spark writes them as strings too. */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? JSON.stringify(n) : JSON.stringify(String(n));
}

function timeOfDay(micros: bigint): string {
  const pad = (n: bigint, w = 2) => n.toString().padStart(w, '0');
  return `${pad(micros / 3_600_000_000n)}:${pad((micros / 60_000_000n) % 60n)}:${pad((micros / 1_000_000n) % 60n)}.${pad(micros % 1_000_000n, 6)}`;
}

function nanosTimestamp(nanos: bigint): string {
  const floorMicros = nanos / 1000n - (nanos < 0n && nanos % 1000n !== 0n ? 1n : 0n);
  const rest = ((nanos % 1000n) + 1000n) % 1000n;
  return formatTimestampMicros(floorMicros).replace(/Z$/, `${rest.toString().padStart(3, '0')}Z`);
}
