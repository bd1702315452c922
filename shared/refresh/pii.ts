/**
 * PII protection of tagged columns, applied before any row is stored (the table, its quarantine, its
 * change records, error samples):
 *
 * - `hash`: HMAC-SHA256 of the value's text under a secret key (setting `SLUICE_PII_KEY`), as 64 hex
 *   digits. Keyed, so the hashes cannot be reversed by hashing guesses without the key, yet equal values
 *   still hash equally (joins and distinct counts keep working). The key never appears in SQL text: the
 *   hash runs in a function registered with DuckDB.
 * - `mask`: every character but the last four becomes `*` (values of four characters or fewer are
 *   masked entirely), e.g. `************1234`.
 *
 * Protected columns are stored as strings.
 */
import { createHmac } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbApi } from '../duckdb';
import type { PiiAction } from '../pipeline';
import { quoteIdent } from '../sql/engine';

/** Name of the SQL function that hashes a value. */
export const PII_HASH_FUNCTION = 'sluice_pii_hash';

/** Shortest accepted key (characters). */
const MIN_KEY_LENGTH = 16;

/**
 * Check a PII key setting.
 *
 * @param key the key, or undefined when not set
 * @param table the table needing it, for the message
 * @returns the key
 * @throws Error naming the setting when it is missing or too short
 */
export function requirePiiKey(key: string | undefined, table: string): string {
  if (!key) throw new Error(`refresh ${table}: columns are tagged pii: hash, but the setting SLUICE_PII_KEY (the HMAC key) is not set`);
  if (key.length < MIN_KEY_LENGTH) throw new Error(`refresh ${table}: the setting SLUICE_PII_KEY must be at least ${MIN_KEY_LENGTH} characters`);
  return key;
}

/**
 * Register the hash function on a connection (before the engine locks its configuration).
 *
 * @param connection the DuckDB connection
 * @param key the HMAC key
 */
export async function registerPiiHash(connection: DuckDBConnection, key: string): Promise<void> {
  const { DuckDBScalarFunction, VARCHAR } = duckdbApi();
  connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: PII_HASH_FUNCTION,
      returnType: VARCHAR,
      parameterTypes: [VARCHAR],
      mainFunction: (_info, input, output) => {
        const values = input.getColumnVector(0);
        for (let i = 0; i < input.rowCount; i++) {
          const value = values.getItem(i) as string | null;
          output.setItem(i, value === null ? null : createHmac('sha256', key).update(value, 'utf8').digest('hex'));
        }
        output.flush();
      },
    }),
  );
}

/**
 * HMAC-SHA256 hex of a value's text, as the SQL function computes it (for tests and replays).
 *
 * @param key the HMAC key
 * @param text the value's text
 * @returns 64 hex digits
 */
export function piiHash(key: string, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * The SQL expression protecting a value.
 *
 * @param expression SQL of the value (any type)
 * @param action hash or mask
 * @returns SQL of the protected VARCHAR value
 */
export function piiExpression(expression: string, action: PiiAction): string {
  const text = `CAST(${expression} AS VARCHAR)`;
  if (action === 'hash') return `${PII_HASH_FUNCTION}(${text})`;
  return `CASE WHEN length(${text}) <= 4 THEN repeat('*', length(${text})) ELSE repeat('*', length(${text}) - 4) || right(${text}, 4) END`;
}

/**
 * A column's PII tag. Column names come from the data, so they are looked up as own keys: a column
 * named `constructor` must not find Object's.
 *
 * @param pii the table's tags
 * @param column column name
 * @returns the protection, or undefined when the column is not tagged
 */
export function piiActionOf(pii: Record<string, PiiAction>, column: string): PiiAction | undefined {
  return Object.hasOwn(pii, column) ? pii[column] : undefined;
}

/**
 * The SQL for a column, protected when tagged.
 *
 * @param column column name
 * @param pii the table's tags
 * @param qualifier optional table alias
 * @returns SQL of the value to store
 */
export function protectedColumn(column: string, pii: Record<string, PiiAction>, qualifier?: string): string {
  const ref = `${qualifier ? `${qualifier}.` : ''}${quoteIdent(column)}`;
  const action = piiActionOf(pii, column);
  return action ? piiExpression(ref, action) : ref;
}
