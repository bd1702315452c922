/**
 * Column mapping (`delta.columnMapping.mode` `name` or `id`): the schema holds logical names, data
 * files, partition values and statistics hold physical names (`delta.columnMapping.physicalName`),
 * and in `id` mode Parquet columns are matched by field id (`delta.columnMapping.id`, stored in the
 * file as `parquet.field.id`). This is what lets Spark rename and drop columns without rewriting
 * files: a renamed column keeps its physical name, a dropped one is no longer in the schema, and a
 * column added again under an old name gets a new physical name, so old files read it as null.
 */
import * as arrow from 'apache-arrow';
import type { Metadata } from './actions';
import { UnsupportedProtocolError } from './errors';
import { COLUMN_MAPPING_ID, deltaToArrowSchema, DeltaField, DeltaStruct, DeltaType, PARQUET_FIELD_ID } from './schema';
import { buildVector } from './values';

/** How logical columns find their data. */
export type ColumnMappingMode = 'none' | 'name' | 'id';

const PHYSICAL_NAME = 'delta.columnMapping.physicalName';

/**
 * The table's column mapping mode.
 *
 * @param metadata the table's metadata
 * @param table table URL for the message
 * @returns the mode; an unknown one is refused, since reading it as `none` would return nulls
 */
export function columnMappingMode(metadata: Metadata, table: string): ColumnMappingMode {
  const mode = metadata.configuration?.['delta.columnMapping.mode'] ?? 'none';
  if (mode === 'none' || mode === 'name' || mode === 'id') return mode;
  throw new UnsupportedProtocolError(
    `delta protocol: table ${table} uses column mapping mode "${mode}" (delta.columnMapping.mode), which Sluice does not implement`,
  );
}

/**
 * The name a field has in data files, partition values and statistics.
 *
 * @param field a schema field
 * @param mode the table's mapping mode
 * @returns its physical name (the logical name when the table is not mapped)
 */
export function physicalName(field: DeltaField, mode: ColumnMappingMode): string {
  const name = field.metadata?.[PHYSICAL_NAME];
  return mode !== 'none' && typeof name === 'string' && name ? name : field.name;
}

/**
 * The field id of a schema field under `id` mapping.
 *
 * @param field a schema field
 * @returns its id, or undefined
 */
export function fieldId(field: DeltaField): number | undefined {
  const id = field.metadata?.[COLUMN_MAPPING_ID];
  return typeof id === 'number' || (typeof id === 'string' && /^\d+$/.test(id)) ? Number(id) : undefined;
}

/**
 * The schema as data files store it: every struct field, nested ones included, under its physical
 * name, with its field id in the Arrow metadata in `id` mode (the Parquet writer stores it).
 *
 * @param schema the logical table schema
 * @param mode the table's mapping mode
 * @returns the physical schema (the same object when the table is not mapped)
 */
export function physicalSchema(schema: DeltaStruct, mode: ColumnMappingMode): DeltaStruct {
  if (mode === 'none') return schema;
  return physicalType(schema, mode) as DeltaStruct;
}

function physicalType(type: DeltaType, mode: ColumnMappingMode): DeltaType {
  if (typeof type === 'string') return type;
  if (type.type === 'array') return { ...type, elementType: physicalType(type.elementType, mode) };
  if (type.type === 'map') return { ...type, keyType: physicalType(type.keyType, mode), valueType: physicalType(type.valueType, mode) };
  return { type: 'struct', fields: type.fields.map((f) => ({ ...f, name: physicalName(f, mode), type: physicalType(f.type, mode) })) };
}

/**
 * Rename the columns of batches in the logical schema to their physical names, nested ones too (the
 * values are shared, not copied), for writing data files.
 *
 * @param batch a batch in the logical table schema
 * @param physical the physical schema (`physicalSchema`)
 * @returns the same rows under physical names
 */
export function toPhysicalBatch(batch: arrow.RecordBatch, physical: DeltaStruct): arrow.RecordBatch {
  const schema = deltaToArrowSchema(physical);
  return new arrow.RecordBatch(schema, retype(batch.data, new arrow.Struct(schema.fields)) as arrow.Data<arrow.Struct>);
}

/** The same data under a type of the same shape with other field names. */
function retype(data: arrow.Data, type: arrow.DataType): arrow.Data {
  if (data.children.length === 0) return data;
  const children = data.children.map((child, i) => retype(child, type.children[i].type));
  return arrow.makeData({
    type,
    offset: data.offset,
    length: data.length,
    nullCount: data.nullCount,
    nullBitmap: data.nullBitmap,
    ...(data.valueOffsets ? { valueOffsets: data.valueOffsets } : {}),
    ...(children.length === 1 && !arrow.DataType.isStruct(type) ? { child: children[0] } : { children }),
  } as never);
}

/**
 * The file column holding a logical field: by field id in `id` mode (when the file has ids), else by
 * physical name.
 *
 * @param fields the columns (or struct children) of the file
 * @param field the logical field
 * @param mode the table's mapping mode
 * @returns the index of the column, or -1 when the file lacks it
 */
export function findFileColumn(fields: readonly arrow.Field[], field: DeltaField, mode: ColumnMappingMode): number {
  const id = mode === 'id' ? fieldId(field) : undefined;
  if (id !== undefined) {
    const byId = fields.findIndex((f) => f.metadata.get(PARQUET_FIELD_ID) === String(id));
    if (byId >= 0 || fields.some((f) => f.metadata.has(PARQUET_FIELD_ID))) return byId;
  }
  const name = physicalName(field, mode);
  return fields.findIndex((f) => f.name === name);
}

/**
 * Give a file column the logical shape of its field: struct children found by id or physical name,
 * renamed to their logical names and put in schema order, missing ones null. Leaf types are left as
 * the file has them (widening is the caller's concern).
 *
 * @param data one chunk of the file column
 * @param type the logical type of the field
 * @param mode the table's mapping mode
 * @returns the same values under logical names
 */
export function toLogicalData(data: arrow.Data, type: DeltaType, mode: ColumnMappingMode): arrow.Data {
  if (typeof type === 'string') return data;
  const t = data.type;
  if (type.type === 'struct' && arrow.DataType.isStruct(t)) {
    const fileFields = (t as arrow.Struct).children;
    const fields: arrow.Field[] = [];
    const children: arrow.Data[] = [];
    for (const field of type.fields) {
      const at = findFileColumn(fileFields, field, mode);
      const child = at < 0 ? buildVector(field.type, new Array(data.length).fill(null)).data[0] : toLogicalData(data.children[at], field.type, mode);
      fields.push(new arrow.Field(field.name, child.type, true));
      children.push(child);
    }
    return arrow.makeData({
      type: new arrow.Struct(fields),
      offset: data.offset,
      length: data.length,
      nullCount: data.nullCount,
      nullBitmap: data.nullBitmap,
      children,
    });
  }
  if (type.type === 'array' && (arrow.DataType.isList(t) || t.typeId === arrow.Type.LargeList)) {
    const child = toLogicalData(data.children[0], type.elementType, mode);
    const list = new arrow.List(new arrow.Field((t as arrow.List).children[0].name, child.type, true));
    return arrow.makeData({
      type: list,
      offset: data.offset,
      length: data.length,
      nullCount: data.nullCount,
      nullBitmap: data.nullBitmap,
      valueOffsets: data.valueOffsets as Int32Array,
      child,
    });
  }
  if (type.type === 'map' && arrow.DataType.isMap(t)) {
    const entries = data.children[0];
    const entryFields = (entries.type as arrow.Struct).children;
    const key = toLogicalData(entries.children[0], type.keyType, mode);
    const value = toLogicalData(entries.children[1], type.valueType, mode);
    const entryType = new arrow.Struct([new arrow.Field(entryFields[0].name, key.type, false), new arrow.Field(entryFields[1].name, value.type, true)]);
    const child = arrow.makeData({
      type: entryType,
      offset: entries.offset,
      length: entries.length,
      nullCount: entries.nullCount,
      nullBitmap: entries.nullBitmap,
      children: [key, value],
    });
    const map = new arrow.Map_(new arrow.Field((t as arrow.Map_).children[0].name, entryType, false), (t as arrow.Map_).keysSorted);
    return arrow.makeData({
      type: map,
      offset: data.offset,
      length: data.length,
      nullCount: data.nullCount,
      nullBitmap: data.nullBitmap,
      valueOffsets: data.valueOffsets as Int32Array,
      child,
    });
  }
  return data;
}
