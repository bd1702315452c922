/**
 * Delta table schemas (the Spark `StructType` JSON in `metaData.schemaString`) and their mapping to
 * Arrow types, both ways.
 *
 * Delta → Arrow is fixed: timestamps are microseconds UTC (`timestamp_ntz` without zone), decimals are
 * 128-bit, arrays and maps use the Parquet-style child names `element` and `key_value`.
 */
import * as arrow from 'apache-arrow';
import { CorruptLogError, WriteRejectedError } from './errors';

/** A Delta primitive type name, e.g. `long` or `decimal(12,2)`. */
export type DeltaPrimitive = string;

/** A Delta struct type. */
export interface DeltaStruct {
  type: 'struct';
  fields: DeltaField[];
}
/** A Delta array type. */
export interface DeltaArray {
  type: 'array';
  elementType: DeltaType;
  containsNull: boolean;
}
/** A Delta map type. */
export interface DeltaMap {
  type: 'map';
  keyType: DeltaType;
  valueType: DeltaType;
  valueContainsNull: boolean;
}
/** Any Delta type. */
export type DeltaType = DeltaPrimitive | DeltaStruct | DeltaArray | DeltaMap;

/** One field of a struct. */
export interface DeltaField {
  name: string;
  type: DeltaType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

const PRIMITIVES = new Set([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
  'void',
  'variant',
]);
const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$/;

/**
 * Parse and check `metaData.schemaString`.
 *
 * @param schemaString the JSON text
 * @param where location for error messages
 * @returns the root struct
 */
export function parseSchema(schemaString: string, where: string): DeltaStruct {
  let value: unknown;
  try {
    value = JSON.parse(schemaString);
  } catch (err) {
    throw new CorruptLogError(`delta schema: ${where}: schemaString is not valid JSON`, { cause: err });
  }
  const root = checkType(value, `${where} schema`);
  if (typeof root === 'string' || root.type !== 'struct') {
    throw new CorruptLogError(`delta schema: ${where}: schemaString is not a struct`);
  }
  const seen = new Set<string>();
  for (const field of root.fields) {
    const lower = field.name.toLowerCase();
    if (seen.has(lower)) throw new CorruptLogError(`delta schema: ${where}: duplicate column "${field.name}" (names are case-insensitive)`);
    seen.add(lower);
  }
  return root;
}

function checkType(value: unknown, where: string): DeltaType {
  if (typeof value === 'string') {
    if (PRIMITIVES.has(value) || DECIMAL.test(value) || value === 'decimal') return value === 'decimal' ? 'decimal(10,0)' : value;
    throw new CorruptLogError(`delta schema: ${where}: unknown type "${value}"`);
  }
  if (!value || typeof value !== 'object') throw new CorruptLogError(`delta schema: ${where}: type is not a string or object`);
  const t = value as Record<string, unknown>;
  if (t.type === 'struct') {
    if (!Array.isArray(t.fields)) throw new CorruptLogError(`delta schema: ${where}: struct without fields`);
    return {
      type: 'struct',
      fields: t.fields.map((f: Record<string, unknown>, i: number) => {
        if (typeof f?.name !== 'string') throw new CorruptLogError(`delta schema: ${where}: field ${i} has no name`);
        return {
          name: f.name,
          type: checkType(f.type, `${where}.${f.name}`),
          nullable: f.nullable !== false,
          metadata: (f.metadata as Record<string, unknown>) ?? {},
        };
      }),
    };
  }
  if (t.type === 'array') {
    return { type: 'array', elementType: checkType(t.elementType, `${where}[]`), containsNull: t.containsNull !== false };
  }
  if (t.type === 'map') {
    return {
      type: 'map',
      keyType: checkType(t.keyType, `${where}.key`),
      valueType: checkType(t.valueType, `${where}.value`),
      valueContainsNull: t.valueContainsNull !== false,
    };
  }
  throw new CorruptLogError(`delta schema: ${where}: unknown type ${JSON.stringify(value)}`);
}

/**
 * Decimal precision and scale of a `decimal(p,s)` type name, or null for other types.
 *
 * @param type a Delta type
 * @returns `{precision, scale}` or null
 */
export function decimalParams(type: DeltaType): { precision: number; scale: number } | null {
  if (typeof type !== 'string') return null;
  const m = DECIMAL.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

/**
 * The Arrow type for a Delta type.
 *
 * @param type a Delta type
 * @returns the Arrow data type Sluice uses in memory for it
 */
export function deltaToArrowType(type: DeltaType): arrow.DataType {
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return new arrow.Utf8();
      case 'long':
        return new arrow.Int64();
      case 'integer':
        return new arrow.Int32();
      case 'short':
        return new arrow.Int16();
      case 'byte':
        return new arrow.Int8();
      case 'float':
        return new arrow.Float32();
      case 'double':
        return new arrow.Float64();
      case 'boolean':
        return new arrow.Bool();
      case 'binary':
        return new arrow.Binary();
      case 'date':
        return new arrow.DateDay();
      case 'timestamp':
        return new arrow.TimestampMicrosecond('UTC');
      case 'timestamp_ntz':
        return new arrow.TimestampMicrosecond();
      case 'void':
        return new arrow.Null();
      // Read as its JSON text (variant.ts); Sluice never writes variant columns.
      case 'variant':
        return new arrow.Utf8();
    }
    const dec = decimalParams(type);
    if (dec) return new arrow.Decimal(dec.scale, dec.precision, 128);
    throw new CorruptLogError(`delta schema: no Arrow type for "${type}"`);
  }
  if (type.type === 'struct') return new arrow.Struct(type.fields.map(deltaFieldToArrow));
  if (type.type === 'array') return new arrow.List(new arrow.Field('element', deltaToArrowType(type.elementType), type.containsNull));
  const entries = new arrow.Struct([
    new arrow.Field('key', deltaToArrowType(type.keyType), false),
    new arrow.Field('value', deltaToArrowType(type.valueType), type.valueContainsNull),
  ]);
  return new arrow.Map_(new arrow.Field('key_value', entries, false), false);
}

/**
 * The Arrow field for a Delta field.
 *
 * @param field a Delta struct field
 * @returns an Arrow field with the same name and nullability
 */
export function deltaFieldToArrow(field: DeltaField): arrow.Field {
  // Under column mapping `id` mode the field id travels with the field, and the Parquet writer stores it.
  const id = field.metadata?.[COLUMN_MAPPING_ID];
  const metadata = typeof id === 'number' ? new Map([[PARQUET_FIELD_ID, String(id)]]) : undefined;
  return new arrow.Field(field.name, deltaToArrowType(field.type), field.nullable, metadata);
}

/** Field metadata key of a column's id under column mapping. */
export const COLUMN_MAPPING_ID = 'delta.columnMapping.id';
/** Field metadata key under which arrow-rs (parquet-wasm) reads and writes a Parquet field id. */
export const PARQUET_FIELD_ID = 'PARQUET:field_id';

/**
 * The Arrow schema for a Delta struct.
 *
 * @param schema the table schema
 * @returns the Arrow schema
 */
export function deltaToArrowSchema(schema: DeltaStruct): arrow.Schema {
  return new arrow.Schema(schema.fields.map(deltaFieldToArrow));
}

/**
 * The Delta type for an Arrow type, for creating tables from Arrow data.
 *
 * @param type an Arrow data type
 * @param where column path for error messages
 * @returns the Delta type
 */
export function arrowToDeltaType(type: arrow.DataType, where: string): DeltaType {
  switch (type.typeId) {
    case arrow.Type.Utf8:
    case arrow.Type.LargeUtf8:
      return 'string';
    case arrow.Type.Binary:
    case arrow.Type.LargeBinary:
    case arrow.Type.FixedSizeBinary:
      return 'binary';
    case arrow.Type.Bool:
      return 'boolean';
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      if (!t.isSigned && t.bitWidth >= 32) return t.bitWidth === 32 ? 'long' : 'decimal(20,0)';
      return ({ 8: 'byte', 16: 'short', 32: 'integer', 64: 'long' } as Record<number, string>)[t.isSigned ? t.bitWidth : t.bitWidth * 2];
    }
    case arrow.Type.Float: {
      const t = type as arrow.Float;
      return t.precision === arrow.Precision.DOUBLE ? 'double' : 'float';
    }
    case arrow.Type.Decimal: {
      const t = type as arrow.Decimal;
      return `decimal(${t.precision},${t.scale})`;
    }
    case arrow.Type.Date:
      return 'date';
    case arrow.Type.Timestamp:
      return (type as arrow.Timestamp).timezone ? 'timestamp' : 'timestamp_ntz';
    case arrow.Type.Struct:
      return { type: 'struct', fields: (type as arrow.Struct).children.map((f) => arrowToDeltaField(f, `${where}.${f.name}`)) };
    case arrow.Type.List: {
      const child = (type as arrow.List).children[0];
      return { type: 'array', elementType: arrowToDeltaType(child.type, `${where}[]`), containsNull: child.nullable };
    }
    case arrow.Type.Map: {
      const [key, value] = ((type as arrow.Map_).children[0].type as arrow.Struct).children;
      return {
        type: 'map',
        keyType: arrowToDeltaType(key.type, `${where}.key`),
        valueType: arrowToDeltaType(value.type, `${where}.value`),
        valueContainsNull: value.nullable,
      };
    }
    case arrow.Type.Null:
      return 'void';
  }
  throw new WriteRejectedError(`delta schema: column ${where} has Arrow type ${type} which has no Delta equivalent`);
}

/**
 * The Delta field for an Arrow field.
 *
 * @param field an Arrow field
 * @param where column path for error messages
 * @returns the Delta field
 */
export function arrowToDeltaField(field: arrow.Field, where = field.name): DeltaField {
  return { name: field.name, type: arrowToDeltaType(field.type, where), nullable: field.nullable, metadata: {} };
}

/**
 * The Delta struct for an Arrow schema.
 *
 * @param schema an Arrow schema
 * @returns the Delta table schema
 */
export function arrowToDeltaSchema(schema: arrow.Schema): DeltaStruct {
  return { type: 'struct', fields: schema.fields.map((f) => arrowToDeltaField(f)) };
}

/**
 * Short readable form of a Delta type: `long`, `array<string>`, `struct<a:int,…>`.
 *
 * @param type a Delta type
 * @returns its display text
 */
export function formatDeltaType(type: DeltaType): string {
  if (typeof type === 'string') return type;
  if (type.type === 'array') return `array<${formatDeltaType(type.elementType)}>`;
  if (type.type === 'map') return `map<${formatDeltaType(type.keyType)},${formatDeltaType(type.valueType)}>`;
  return `struct<${type.fields.map((f) => `${f.name}:${formatDeltaType(f.type)}`).join(',')}>`;
}
