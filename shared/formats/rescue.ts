/**
 * Rescue: a value that does not convert exactly to its column's type never fails the read. The
 * column gets null and the value goes to `_rescued_data` as a member of one JSON object per row,
 * `{"qty":"abc","when":"13/31/2020"}`. Text values are rescued as JSON strings; JSON values as their
 * JSON text (numbers stay numbers, nested values stay as written). Every reader rescues the same way,
 * so it lives apart from any one reader.
 */
import type * as arrow from 'apache-arrow';
import { createWriter } from './column-writers';

/** Values rescued in one batch: per row, the JSON members `"column":value`. */
export class Rescue {
  private readonly rows = new Map<number, string[]>();

  /**
   * Record a value that did not fit.
   *
   * @param row row index in the batch
   * @param column output column name
   * @param fragment the value as JSON text
   */
  add(row: number, column: string, fragment: string): void {
    const member = `${JSON.stringify(column)}:${fragment}`;
    const list = this.rows.get(row);
    if (list) list.push(member);
    else this.rows.set(row, [member]);
  }

  /** Rows with at least one rescued value. */
  get rowCount(): number {
    return this.rows.size;
  }

  /**
   * The `_rescued_data` column: one JSON object per row with rescued values, null elsewhere.
   *
   * @param length rows in the batch
   * @returns string column data
   */
  toData(length: number): arrow.Data {
    const writer = createWriter('string', length);
    // Rows were rescued in column order, not row order; the writer needs rows ascending.
    const rows = [...this.rows.keys()].sort((a, b) => a - b);
    for (const row of rows) writer.value(row, `{${this.rows.get(row)!.join(',')}}`);
    return writer.finish();
  }
}
