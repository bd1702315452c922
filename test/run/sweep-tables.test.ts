/**
 * The schedule timer's sweep sees silver versions committed outside a run: after `quarantine replay`
 * moves a row into silver.sales (library call, no run), the gold tables reading it are behind, and the
 * sweep reports it so that the app starts the run a replay's own refresh may not have done; a run
 * created after the replay's commit counts as having seen it. On Azurite, with the POS example.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../shared/delta';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { refreshTable, replayQuarantine } from '../../shared/refresh';
import { SWEEP_SKEW_MS, unappliedSources, type RunStatus } from '../../shared/run';
import { ingestExamples, POS_PIPELINE, posLake, uniqueName } from '../support/run-lake';

const SQL = { memoryLimit: '256MB', threads: 1 };

describe('sweep of unapplied versions', () => {
  it('counts a silver table changed by a replay as unapplied by the gold tables reading it', async () => {
    const run = await posLake('sweep-tables');
    await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      uniqueName('Ledger'),
    );
    for (const table of ['silver.sales', 'silver.deliveries', 'gold.daily_store_sales', 'gold.store_stock'])
      await refreshTable({ definition: run.definition, table, lake: run.lake, sql: SQL });
    expect(await unappliedSources(run.definition, run.lake, undefined)).toEqual([]);

    const fixed = parsePipelineDefinition(
      readFileSync(POS_PIPELINE, 'utf8').replace(`check: "quantity <> 0 OR status = 'returned'"`, 'check: "quantity >= 0"'),
      POS_PIPELINE,
    );
    const before = new Date(Date.now() - 60_000).toISOString();
    expect(await replayQuarantine({ definition: fixed, table: 'silver.sales', lake: run.lake, sql: SQL })).toMatchObject({ replayed: 1 });
    const silver = await loadSnapshot(run.lake('silver/sales'));

    const last = (createdTime: string) =>
      ({ instanceId: 'refresh-pos', name: 'refresh', runtimeStatus: 'Completed', createdTime, lastUpdatedTime: createdTime }) as RunStatus;
    const unapplied = await unappliedSources(run.definition, run.lake, last(before));
    expect(unapplied).toHaveLength(1);
    expect(unapplied[0]).toMatchObject({ source: 'silver.sales', version: silver.version });
    expect(unapplied[0].behind.map((b) => b.table).sort()).toEqual(['gold.daily_store_sales', 'gold.store_stock']);
    // A run created after the replay's commit saw it: nothing to start.
    expect(await unappliedSources(run.definition, run.lake, last(new Date(Date.now() + SWEEP_SKEW_MS + 1_000).toISOString()))).toEqual([]);
  });
});
