/**
 * Column lineage from the SQL as DuckDB parses it: identity, expressions and aggregates traced to
 * the input tables' columns through subqueries, CTEs, UNION ALL and joins; `SELECT *` expanded with
 * the inputs' columns when known; and the cases the parse tree cannot settle answered with their
 * reason instead of a guess.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnLineage, type InputColumns, type TableColumnLineage } from '../../shared/lineage/columns';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { SqlEngine } from '../../shared/sql';

let engine: SqlEngine;
beforeAll(async () => {
  engine = await SqlEngine.open({ memoryLimit: '128MB', threads: 1 });
});
afterAll(async () => {
  await engine.close();
});

const COLUMNS: Record<string, string[]> = {
  orders: ['order_id', 'customer_id', 'amount', 'ordered_at'],
  customers: ['customer_id', 'name', 'country'],
  'silver.orders': ['order_id', 'customer_id', 'amount', 'ordered_at'],
  'silver.customers': ['customer_id', 'name', 'country'],
};
const known: InputColumns = async (input) => COLUMNS[input] ?? null;
const unknown: InputColumns = async () => null;

async function lineage(table: Record<string, unknown>, inputs: InputColumns = known, name = 'gold.t'): Promise<TableColumnLineage> {
  const yaml = JSON.stringify({
    name: 'shop',
    sources: { orders: { landing: 'orders/' }, customers: { landing: 'customers/' } },
    tables: {
      'silver.orders': { from: 'orders', sql: 'SELECT * FROM source' },
      'silver.customers': { from: 'customers', sql: 'SELECT * FROM source' },
      [name]: table,
    },
  });
  return columnLineage(engine, parsePipelineDefinition(yaml, 'shop.yaml'), name, inputs);
}

describe('column lineage from SQL', () => {
  it('traces identity, expressions and aggregates through a subquery, a CTE, UNION ALL and a join', async () => {
    const result = await lineage({
      from: ['silver.orders', 'silver.customers'],
      sql: `WITH big AS (SELECT order_id, customer_id, amount * 100 AS cents FROM silver_orders WHERE amount > 10)
            SELECT c.country, count(*) AS orders, SUM(b.cents) AS cents, max(c.name) AS any_name
            FROM big b JOIN silver_customers c USING (customer_id) GROUP BY ALL
            UNION ALL SELECT 'none', 0, 0, NULL`,
    });
    expect(result).toEqual({
      derived: 'sql',
      columns: [
        { name: 'country', derived: 'sql', inputs: [{ table: 'silver/customers', column: 'country' }], transformation: 'expression' },
        { name: 'orders', derived: 'sql', inputs: [], transformation: 'aggregate' },
        { name: 'cents', derived: 'sql', inputs: [{ table: 'silver/orders', column: 'amount' }], transformation: 'aggregate' },
        { name: 'any_name', derived: 'sql', inputs: [{ table: 'silver/customers', column: 'name' }], transformation: 'aggregate' },
      ],
    });
  });

  it('expands SELECT * with the input columns, marks PII columns, and joins on USING columns from both sides', async () => {
    const star = await lineage(
      { from: 'orders', sql: 'SELECT * EXCLUDE (ordered_at), upper(customer_id) AS cust FROM source', pii: { amount: 'mask' } },
      known,
      'silver.x',
    );
    expect(star).toEqual({
      derived: 'sql',
      columns: [
        { name: 'order_id', derived: 'sql', inputs: [{ table: 'bronze/orders', column: 'order_id' }], transformation: 'identity' },
        { name: 'customer_id', derived: 'sql', inputs: [{ table: 'bronze/orders', column: 'customer_id' }], transformation: 'identity' },
        { name: 'amount', derived: 'sql', inputs: [{ table: 'bronze/orders', column: 'amount' }], transformation: 'expression', pii: 'mask' },
        { name: 'cust', derived: 'sql', inputs: [{ table: 'bronze/orders', column: 'customer_id' }], transformation: 'expression' },
      ],
    });
    const join = await lineage({
      from: ['silver.orders', 'silver.customers'],
      sql: 'SELECT customer_id, name FROM silver_orders JOIN silver_customers USING (customer_id)',
    });
    expect(join.derived && join.columns[0]).toEqual({
      name: 'customer_id',
      derived: 'sql',
      inputs: [
        { table: 'silver/orders', column: 'customer_id' },
        { table: 'silver/customers', column: 'customer_id' },
      ],
      transformation: 'identity',
    });
  });

  it('gives the reason where the parse tree cannot tell', async () => {
    expect(await lineage({ from: 'orders', sql: 'SELECT * FROM source' }, unknown, 'silver.x')).toEqual({
      derived: false,
      reason: 'SELECT * over orders, whose columns are not known yet (it has no table)',
    });
    // One input with unknown columns: named columns still resolve to it.
    expect(await lineage({ from: 'orders', sql: 'SELECT order_id, amount + 1 AS a FROM source' }, unknown, 'silver.x')).toMatchObject({
      derived: 'sql',
      columns: [
        { name: 'order_id', inputs: [{ table: 'bronze/orders', column: 'order_id' }] },
        { name: 'a', transformation: 'expression' },
      ],
    });
    const ambiguous = await lineage({ from: ['silver.orders', 'silver.customers'], sql: 'SELECT customer_id, name FROM silver_orders, silver_customers' });
    expect(ambiguous).toMatchObject({
      derived: 'sql',
      columns: [
        { name: 'customer_id', derived: false, reason: 'customer_id may come from more than one input' },
        { name: 'name', derived: 'sql', inputs: [{ table: 'silver/customers', column: 'name' }] },
      ],
    });
    const sub = await lineage({ from: 'silver.orders', sql: 'SELECT order_id, (SELECT 1) AS one FROM source' });
    expect(sub).toMatchObject({
      columns: [
        { name: 'order_id', derived: 'sql' },
        { name: 'one', derived: false, reason: 'a subquery inside the expression is not traced' },
      ],
    });
    expect(await lineage({ from: 'silver.orders', sql: "SELECT * FROM read_csv('x.csv')" })).toEqual({
      derived: false,
      reason: 'the SQL reads from a table function, which is not traced',
    });
    expect(await lineage({ from: 'silver.orders', sql: 'SELECT * FROM source', hook: './hook.ts' })).toEqual({
      derived: false,
      reason: 'the hook ./hook.ts may change any column after the SQL',
    });
  });
});
