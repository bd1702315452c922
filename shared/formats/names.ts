/**
 * Column names a Delta table can store, from whatever names an input carries.
 *
 * Without column mapping (which Sluice does not write, and many readers do not support), Delta and
 * Spark refuse column names containing any of ` ,;{}()\n\t=`; real CSV headers are full of them
 * ("Product Code", "ASIN/ISBN (Product Code)"). Every input name is therefore sanitised the way data
 * engineers already do it by hand for Auto Loader:
 *
 * - each run of those characters (and `\r`) becomes one `_`: `Order Date` → `Order_Date`,
 *   `ASIN/ISBN (Product Code)` → `ASIN/ISBN_Product_Code_`;
 * - an empty name becomes `_c<index>` (0-based position), as Spark names headerless columns;
 * - names that then collide, case-insensitively (Delta names are case-insensitive), or that collide
 *   with a reserved name (`_rescued_data`, the caller's metadata columns) get `_1`, `_2`… appended;
 *   so does `__proto__`, which as a key of the JavaScript objects rows pass through would set their
 *   prototype instead of holding the value.
 *
 * The original → stored mapping of every renamed column is reported in the read's inference under
 * `#columns` (a JSON object), so it is recorded with the ingestion; schema hints may name a column
 * either way.
 */

/** Characters Delta refuses in column names without column mapping, plus CR. */
const INVALID_RUN = /[ ,;{}()\n\r\t=]+/g;

/** Key of the rename record in `ReadResult.inference`. */
export const COLUMNS_INFERENCE_KEY = '#columns';

/** The storable names of an input's columns. */
export interface ColumnNames {
  /** One storable, unique name per input column, in input order. */
  names: string[];
  /** Original → storable name, for the columns whose name changed (a repeated original: `<name> (column <n>)`). */
  renamed: Record<string, string>;
}

/**
 * Sanitise one name (no de-duplication).
 *
 * @param raw the name as the input has it
 * @param index its 0-based position, for an empty name
 * @returns a name Delta can store
 */
export function storableName(raw: string, index: number): string {
  return raw === '' ? `_c${index}` : raw.replace(INVALID_RUN, '_');
}

/**
 * Storable, unique names for an input's columns.
 *
 * @param raw the names as the input has them
 * @param reserved names the output already uses (compared case-insensitively)
 * @returns the names and the renames
 */
export function columnNames(raw: readonly string[], reserved: Iterable<string> = []): ColumnNames {
  const taken = new Set<string>(['__proto__']);
  for (const name of reserved) taken.add(name.toLowerCase());
  // Keyed by input names, `__proto__` included.
  const renamed = Object.create(null) as Record<string, string>;
  const names = raw.map((original, i) => {
    const base = storableName(original, i);
    let name = base;
    for (let n = 1; taken.has(name.toLowerCase()); n++) name = `${base}_${n}`;
    taken.add(name.toLowerCase());
    // A repeated original name is keyed by its position too, so no rename hides another.
    if (name !== original) renamed[original in renamed ? `${original} (column ${i + 1})`.trimStart() : original] = name;
    return name;
  });
  return { names, renamed };
}

/**
 * Whether a name can be stored as is (for checks of finished tables).
 *
 * @param name a column name
 * @returns true when it has none of the refused characters and is not empty
 */
export function isStorableName(name: string): boolean {
  return name !== '' && !/[ ,;{}()\n\r\t=]/.test(name);
}
