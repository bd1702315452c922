/**
 * How a run ends when a table cannot be refreshed, and the Azure catch-up path, on the local engine
 * over Azurite:
 * - a `fail` expectation stops its table (terminal: tried once, not retried), the tables that do not
 *   read it still run, the ones that do are held back, and the run fails naming the table and why;
 *   the failure is in the event log;
 * - the catch-up event (what the Durable client in Azure and the local engine both use): a `catchUp` event raised during the
 *   run makes the instance continue as new and apply the bronze versions that arrived meanwhile.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../shared/delta';
import { parsePipelineDefinition } from '../../shared/pipeline';
import {
  CATCH_UP_EVENT,
  orchestrationRegistry,
  REFRESH_ORCHESTRATOR,
  TABLE_ACTIVITY,
  type RefreshOutput,
  type RefreshProgress,
  type TableActivityInput,
} from '../../shared/run';
import { ingestExamples, POS_PIPELINE, posLake, runEngine, sortedRows, uniqueName } from '../support/run-lake';

describe('refresh run outcomes', () => {
  it('a failing table fails the run with its reason; tables not reading it still run, tables reading it are held back', async () => {
    const run = await posLake('run-fail');
    // The same pipeline, but a delivery with quantity 0 now stops the update instead of quarantining it.
    const text = readFileSync(POS_PIPELINE, 'utf8').replace(
      'delivered_units: { check: "quantity > 0", onViolation: quarantine }',
      'delivered_units: { check: "quantity > 0", onViolation: fail }',
    );
    const definition = parsePipelineDefinition(text, 'pos-strict.yaml');
    expect(definition.tables['silver.deliveries'].expectations[0].onViolation).toBe('fail');
    await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      uniqueName('Ledger'),
    );
    const registry = orchestrationRegistry({ ...run.services, pipelines: () => [definition] });
    const calls: string[] = [];
    const table = registry.activities[TABLE_ACTIVITY];
    registry.activities[TABLE_ACTIVITY] = (input: TableActivityInput, context) => {
      calls.push(input.table);
      return table(input, context);
    };
    const engine = runEngine(registry);
    await engine.startNew(REFRESH_ORCHESTRATOR, { instanceId: 'refresh-pos', input: { pipeline: 'pos' } });
    engine.start();
    let status;
    try {
      status = await engine.waitForCompletion('refresh-pos', 90_000);
    } finally {
      await engine.stop();
    }
    expect(status?.runtimeStatus).toBe('Failed');
    expect(String(status?.output)).toMatch(
      /refresh of pipeline pos .*failed: silver\.deliveries: .*expectation "delivered_units" \(quantity > 0\) failed for 1 row.*D-509.*not run because they read a failed table: gold\.store_stock/,
    );
    const progress = status!.customStatus as RefreshProgress;
    expect(progress).toMatchObject({ stage: 'failed', done: 2, failed: 1 });
    expect(progress.tables).toMatchObject({
      'silver.sales': { state: 'updated', inserted: 7 },
      'silver.deliveries': { state: 'failed' },
      'gold.daily_store_sales': { state: 'updated' },
      'gold.store_stock': { state: 'blocked' },
    });
    // Terminal: one attempt, although the RetryOptions allow five.
    expect(calls.filter((t) => t === 'silver.deliveries')).toHaveLength(1);
    expect(calls).not.toContain('gold.store_stock');
    const events = await run.events.runEvents(progress.runId);
    expect(events.find((e) => e.table === 'silver.deliveries')).toMatchObject({ status: 'failed', error: expect.stringMatching(/delivered_units/) });
    expect(events.find((e) => e.table === 'silver.sales')?.metrics?.inserted).toBe(7);
    // Nothing was committed for the failed table: it does not exist.
    await expect(loadSnapshot(run.lake('silver/deliveries'))).rejects.toMatchObject({ name: 'NotATableError' });
  });

  it('a catchUp event raised during the run continues the instance as new, which applies the newer bronze versions', async () => {
    const run = await posLake('run-event');
    const ledger = uniqueName('Ledger');
    await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      ledger,
    );
    // The engine hands the activities' context.log lines to its log, as the Functions host does in Azure.
    const lines: string[] = [];
    const engine = runEngine(orchestrationRegistry(run.services), { log: (line) => lines.push(line) });
    await engine.startNew(REFRESH_ORCHESTRATOR, { instanceId: 'refresh-pos', input: { pipeline: 'pos', reason: 'first' } });
    // The first episode plans; then day 2 lands and its trigger raises the event, as DurableRunClient does.
    await engine.tick();
    await ingestExamples(run, [['pos_sales', 'sales-2026-03-02.csv']], ledger);
    await engine.raiseEvent('refresh-pos', CATCH_UP_EVENT, { reason: 'bronze pos_sales version 2' });
    engine.start();
    let status;
    try {
      const deadline = Date.now() + 90_000;
      do {
        status = await engine.getStatus('refresh-pos');
        if (status?.runtimeStatus === 'Completed' || status?.runtimeStatus === 'Failed') break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
    } finally {
      await engine.stop();
    }
    expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
    expect(status?.input).toMatchObject({ pipeline: 'pos', reason: 'bronze pos_sales version 2' });
    const updates = await run.events.tableUpdates('pos', 'silver.sales');
    // Two executions of one instance, newest first; together they read every sales row once.
    expect(updates).toHaveLength(2);
    expect(updates[0].runId).toBe((status!.output as RefreshOutput).runId);
    expect(updates.reduce((n, u) => n + u.metrics!.rowsRead, 0)).toBe(17);
    expect(await sortedRows(run.lake, 'silver/sales')).toHaveLength(10);
    // refreshTable logs one line per table update itself, so Azure's log has it too, not only the local host's.
    const logged = lines.filter((l) => /^\[refreshTable\] information: refreshTable: silver\.sales /.test(l));
    expect(logged).toHaveLength(2);
    expect(logged).toContainEqual(
      expect.stringMatching(
        /silver\.sales updated(?: \(full\))? → version \d+ \(pos_sales [\d→]+\): \d+ rows read, \d+ inserted, \d+ updated, \d+ duplicates, \d+ filtered by the SQL, \d+ dropped, \d+ quarantined.* \(\d+ ms\)$/,
      ),
    );
  });
});
