/**
 * Delta types ⇄ DuckDB types, and Delta values as SQL literals.
 *
 * Both directions are exact where the types are: decimals keep precision and scale, timestamps are
 * microseconds, dates are days. Timestamps are UTC instants in Delta; in SQL they are plain `TIMESTAMP`
 * (UTC wall clock, the session zone being UTC), so both `timestamp` and `timestamp_ntz` read as
 * `TIMESTAMP`, and a `TIMESTAMP` (or `TIMESTAMPTZ`) result becomes a Delta `timestamp`, as Spark SQL's
 * `CAST(x AS TIMESTAMP)` would.
 *
 * DuckDB result types without a Delta counterpart are mapped to the nearest exact one where there is
 * one (`HUGEINT` → `long`, as Spark's `SUM(int)` is a `bigint`; unsigned integers → the next wider
 * signed type; `UUID`/`ENUM` → `string`) and refused otherwise (`TIME`, `INTERVAL`, `UNION`, …) with
 * the column named, so the definition can cast them.
 */
import type { DuckDBType } from '@duckdb/node-api';
import { decimalParams, type DeltaStruct, type DeltaType } from '../delta/schema';
import { formatDate, formatDecimal } from '../delta/partitions';
import { quoteIdent, quoteLiteral } from './engine';

/**
 * The DuckDB type that holds a Delta type exactly.
 *
 * @param type a Delta type
 * @returns DuckDB type text, e.g. `DECIMAL(12,2)`, `STRUCT("a" INTEGER)`, `VARCHAR[]`
 */
export function duckType(type: DeltaType): string {
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return 'VARCHAR';
      case 'long':
        return 'BIGINT';
      case 'integer':
        return 'INTEGER';
      case 'short':
        return 'SMALLINT';
      case 'byte':
        return 'TINYINT';
      case 'float':
        return 'FLOAT';
      case 'double':
        return 'DOUBLE';
      case 'boolean':
        return 'BOOLEAN';
      case 'binary':
        return 'BLOB';
      case 'date':
        return 'DATE';
      case 'timestamp':
      case 'timestamp_ntz':
        return 'TIMESTAMP';
      case 'void':
        return 'VARCHAR';
    }
    const dec = decimalParams(type);
    if (dec) return `DECIMAL(${dec.precision},${dec.scale})`;
    throw new Error(`sql types: no DuckDB type for Delta type "${type}"`);
  }
  if (type.type === 'struct') return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${duckType(f.type)}`).join(', ')})`;
  if (type.type === 'array') return `${duckType(type.elementType)}[]`;
  return `MAP(${duckType(type.keyType)}, ${duckType(type.valueType)})`;
}

/** DuckDB type ids we map (numeric values of `DuckDBTypeId`, so this module loads without DuckDB). */
const ID = {
  BOOLEAN: 1,
  TINYINT: 2,
  SMALLINT: 3,
  INTEGER: 4,
  BIGINT: 5,
  UTINYINT: 6,
  USMALLINT: 7,
  UINTEGER: 8,
  UBIGINT: 9,
  FLOAT: 10,
  DOUBLE: 11,
  TIMESTAMP: 12,
  DATE: 13,
  HUGEINT: 16,
  VARCHAR: 17,
  BLOB: 18,
  DECIMAL: 19,
  TIMESTAMP_S: 20,
  TIMESTAMP_MS: 21,
  TIMESTAMP_NS: 22,
  ENUM: 23,
  LIST: 24,
  STRUCT: 25,
  MAP: 26,
  UUID: 27,
  TIMESTAMP_TZ: 31,
  UHUGEINT: 32,
  ARRAY: 33,
  SQLNULL: 36,
  STRING_LITERAL: 37,
  INTEGER_LITERAL: 38,
} as const;

/**
 * The Delta type a DuckDB result column is stored as.
 *
 * @param type the DuckDB type of the column
 * @param where column name (path for nested fields), for messages
 * @returns the Delta type
 * @throws Error naming the column when the type has no Delta counterpart
 */
export function deltaTypeOf(type: DuckDBType, where: string): DeltaType {
  const t = type as DuckDBType & {
    width?: number;
    scale?: number;
    valueType?: DuckDBType;
    keyType?: DuckDBType;
    entryNames?: readonly string[];
    entryTypes?: readonly DuckDBType[];
  };
  switch (type.typeId as number) {
    case ID.BOOLEAN:
      return 'boolean';
    case ID.TINYINT:
      return 'byte';
    case ID.SMALLINT:
    case ID.UTINYINT:
      return 'short';
    case ID.INTEGER:
    case ID.USMALLINT:
      return 'integer';
    case ID.BIGINT:
    case ID.UINTEGER:
    case ID.HUGEINT:
    case ID.INTEGER_LITERAL:
      return 'long';
    case ID.UBIGINT:
      return 'decimal(20,0)';
    case ID.UHUGEINT:
      return 'decimal(38,0)';
    case ID.FLOAT:
      return 'float';
    case ID.DOUBLE:
      return 'double';
    case ID.DECIMAL:
      return `decimal(${t.width},${t.scale})`;
    case ID.DATE:
      return 'date';
    case ID.TIMESTAMP:
    case ID.TIMESTAMP_S:
    case ID.TIMESTAMP_MS:
    case ID.TIMESTAMP_NS:
    case ID.TIMESTAMP_TZ:
      return 'timestamp';
    case ID.VARCHAR:
    case ID.UUID:
    case ID.ENUM:
    case ID.STRING_LITERAL:
    case ID.SQLNULL:
      return 'string';
    case ID.BLOB:
      return 'binary';
    case ID.LIST:
    case ID.ARRAY:
      return { type: 'array', elementType: deltaTypeOf(t.valueType!, `${where}[]`), containsNull: true };
    case ID.MAP:
      return { type: 'map', keyType: deltaTypeOf(t.keyType!, `${where}.key`), valueType: deltaTypeOf(t.valueType!, `${where}.value`), valueContainsNull: true };
    case ID.STRUCT:
      return {
        type: 'struct',
        fields: t.entryNames!.map((name, i) => ({ name, type: deltaTypeOf(t.entryTypes![i], `${where}.${name}`), nullable: true, metadata: {} })),
      };
  }
  throw new Error(
    `column "${where}" has SQL type ${type.toString()}, which a Delta table cannot store; CAST it (e.g. to VARCHAR, BIGINT or TIMESTAMP) in the SQL`,
  );
}

/**
 * A Delta table schema for query output columns (every column nullable).
 *
 * @param columns names and DuckDB types
 * @returns the schema
 */
export function deltaSchemaOf(columns: { name: string; type: DuckDBType }[]): DeltaStruct {
  return { type: 'struct', fields: columns.map((c) => ({ name: c.name, type: deltaTypeOf(c.type, c.name), nullable: true, metadata: {} })) };
}

/**
 * A Delta value (in Sluice's JS form, see shared/delta/values.ts) as a typed SQL literal.
 *
 * @param value the value
 * @param type its Delta type (primitive: this is for partition values)
 * @returns the literal, e.g. `CAST('12.30' AS DECIMAL(12,2))`, `NULL::DATE`
 */
export function sqlLiteral(value: unknown, type: DeltaType): string {
  const target = duckType(type);
  if (value === null || value === undefined) return `NULL::${target}`;
  if (typeof type !== 'string') throw new Error(`sql types: no literal form for nested type ${JSON.stringify(type)}`);
  switch (type) {
    case 'string':
      return `${quoteLiteral(String(value))}::VARCHAR`;
    case 'binary':
      return `from_hex(${quoteLiteral(Buffer.from(value as Uint8Array).toString('hex'))})`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'date':
      return `DATE ${quoteLiteral(formatDate(Number(value)))}`;
    case 'timestamp':
    case 'timestamp_ntz':
      return `make_timestamp(${BigInt(value as bigint)}::BIGINT)`;
    case 'float':
    case 'double': {
      const n = Number(value);
      return Number.isFinite(n) ? `${String(n)}::${target}` : `${quoteLiteral(String(n))}::${target}`;
    }
  }
  const dec = decimalParams(type);
  if (dec) return `CAST(${quoteLiteral(formatDecimal(BigInt(value as bigint), dec.scale))} AS ${target})`;
  return `${String(value)}::${target}`;
}
