/**
 * The pipeline commands through `main` (what bin/sluice runs), on Azurite with the lake named by the
 * settings: `pipeline validate` (a valid definition with its refresh steps; every problem of a broken
 * one with its YAML path), `pipeline run` (bronze ingested by the ingest stage, the refresh run
 * in-process through the orchestration, per-table metrics as JSON and as text), and `quarantine
 * replay` after a fix to an expectation: the rows that now pass move to silver in a new table version,
 * the one that still fails stays, and a second replay moves nothing.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { loadSnapshot } from '../../shared/delta';
import type { ReplayResult } from '../../shared/refresh';
import type { RefreshOutput } from '../../shared/run';
import { connectionString, ingestExamples, POS_PIPELINE, posLake, sortedRows, uniqueName, type RunLake } from '../support/run-lake';

let run: RunLake;
const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-run-cli-'));

async function sluice(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  run = await posLake('run-cli');
  Object.assign(process.env, {
    SLUICE_LAKE: connectionString(),
    SLUICE_LAKE_CONTAINER: run.container,
    SLUICE_SQL_MEMORY_LIMIT: '256MB',
    SLUICE_SQL_THREADS: '1',
  });
  await ingestExamples(
    run,
    [
      ['pos_sales', 'sales-2026-03-01.csv'],
      ['pos_deliveries', 'deliveries-2026-03-01.csv'],
    ],
    uniqueName('Ledger'),
  );
});

describe('sluice pipeline / quarantine', () => {
  it('validate: a valid definition and its refresh steps; a broken one with every problem and its YAML path', async () => {
    const ok = await sluice('pipeline', 'validate', POS_PIPELINE);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/valid — pipeline pos, 5 sources, 4 tables/);
    expect(ok.out).toMatch(/refresh step 1: silver\.sales, silver\.deliveries\n {2}refresh step 2: gold\.daily_store_sales, gold\.store_stock/);

    const broken = readFileSync(POS_PIPELINE, 'utf8')
      .replace('keys: [transaction_id]            # upsert by key …', 'keys: [transaction_id]\n    color: blue')
      .replace('SUM(units) AS units_in_stock FROM (', 'SUM(units) AS units_in_stock FROMM (');
    const file = nodePath.join(dir, 'broken.yaml');
    writeFileSync(file, broken);
    const bad = await sluice('pipeline', 'validate', file);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/tables\.silver\.sales\.color \(line \d+\)/);
    const sqlProblem = await sluice('pipeline', 'validate', file, '--json');
    expect(sqlProblem.code).toBe(1);
    expect(JSON.parse(sqlProblem.out).problems.map((p: { path: string }) => p.path)).toContain('tables.silver.sales.color');

    const onlySql = nodePath.join(dir, 'bad-sql.yaml');
    writeFileSync(onlySql, readFileSync(POS_PIPELINE, 'utf8').replace('SUM(units) AS units_in_stock FROM (', 'SUM(units) AS units_in_stock FROMM ('));
    const sql = await sluice('pipeline', 'validate', onlySql, '--json');
    expect(sql.code).toBe(1);
    expect(JSON.parse(sql.out)).toMatchObject({ valid: false, problems: [{ path: 'tables.gold.store_stock.sql' }] });
    expect((await sluice('pipeline', 'validate')).code).toBe(2);
  });

  it('run: refreshes in-process and prints per-table metrics (JSON, then text on a second run that changes nothing)', async () => {
    const first = await sluice('pipeline', 'run', POS_PIPELINE, '--json');
    expect(first.code, first.err).toBe(0);
    // The progress line, one line per change on stderr (not a terminal here); stdout holds only the JSON.
    expect(first.err).toMatch(/^pos: refreshing, level [12]\/2, tables [0-3]\/4 done, [0-2] running, 0 failed/m);
    expect(first.err.trimEnd().split('\n').pop()).toBe('pos: completed, level 2/2, tables 4/4 done, 0 running, 0 failed');
    const output = JSON.parse(first.out) as RefreshOutput;
    expect(output.tables.map((m) => [m.table, m.status])).toEqual([
      ['silver.sales', 'updated'],
      ['silver.deliveries', 'updated'],
      ['gold.daily_store_sales', 'updated'],
      ['gold.store_stock', 'updated'],
    ]);
    expect(output.tables[0]).toMatchObject({ rowsRead: 11, inserted: 7, duplicates: 1, dropped: 1, quarantined: 2 });

    // What the update did, read back from the event log, down to the landing file the rows came from.
    // (Other tests of this Azurite record updates of a pipeline named pos too: the run id tells ours.)
    const recorded = await sluice('pipeline', 'updates', POS_PIPELINE, 'silver.sales', '--limit', '50');
    expect(recorded.code, recorded.err).toBe(0);
    const ours = recorded.out.slice(recorded.out.indexOf(`run ${output.runId}`));
    expect(ours.startsWith(`run ${output.runId}\n`)).toBe(true);
    expect(ours).toMatch(
      /^run \S+\n {2}silver\.sales\s+updated\s+v\d+[^\n]*\n\s+read 11: 7 inserted, 0 updated, 1 duplicates, 0 filtered by the SQL, 1 dropped, 2 quarantined/,
    );
    expect(ours).toMatch(/\n {4}from bronze pos_sales -1→\d+: \S*sales-2026-03-01\.csv \(11 rows\)\n/);
    const asJson = JSON.parse((await sluice('pipeline', 'updates', POS_PIPELINE, 'silver.sales', '--limit', '50', '--json')).out) as {
      runId: string;
      metrics: { inserted: number };
    }[];
    expect(asJson.find((e) => e.runId === output.runId)?.metrics.inserted).toBe(7);
    expect((await sluice('pipeline', 'updates', POS_PIPELINE, 'silver.nope')).code).toBe(2);
    expect((await sluice('pipeline', 'updates', POS_PIPELINE, 'silver.sales', '--limit', '0')).code).toBe(2);
    const second = await sluice('pipeline', 'run', POS_PIPELINE);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toMatch(/silver\.sales\s+unchanged/);
    expect(second.out).toMatch(/total: 4 tables \(0 updated, 4 unchanged\), 0 rows read/);
    expect((await sluice('pipeline', 'run', POS_PIPELINE, '--full-refresh', 'gold.nope')).code).toBe(2);
  });

  it('quarantine replay: after a fix the passing row moves to silver in one commit and gold follows at once; the failing one stays; again moves nothing', async () => {
    const salesBefore = (await loadSnapshot(run.lake('silver/sales'))).version;
    // The fix: a quantity of 0 is now acceptable (a price correction, say); an unparseable time is still not.
    const fixed = nodePath.join(dir, 'pos-fixed.yaml');
    writeFileSync(fixed, readFileSync(POS_PIPELINE, 'utf8').replace(`check: "quantity <> 0 OR status = 'returned'"`, 'check: "quantity >= 0"'));
    const replayed = await sluice('quarantine', 'replay', 'silver.sales', '--pipeline', fixed, '--json');
    expect(replayed.code, replayed.err).toBe(0);
    const result = JSON.parse(replayed.out) as ReplayResult & { refresh: RefreshOutput };
    expect(result).toMatchObject({
      table: 'silver.sales',
      rowsRead: 2,
      replayed: 1,
      remaining: 1,
      inserted: 1,
      updated: 0,
      targetVersion: salesBefore + 1,
      resumed: false,
    });
    // The replay's commit starts the refresh of the tables reading silver.sales, as a bronze commit does.
    expect(result.refresh.tables.find((m) => m.table === 'gold.daily_store_sales')).toMatchObject({
      status: 'updated',
      sources: [{ name: 'silver.sales', toVersion: salesBefore + 1 }],
    });
    expect(result.refresh.tables.find((m) => m.table === 'gold.store_stock')).toMatchObject({ status: 'updated' });
    expect(result.quarantineVersionAfter).toBe(result.quarantineVersion! + 1);
    const silver = await sortedRows(run.lake, 'silver/sales');
    expect(silver.find((r) => r.transaction_id === 'T-1005')).toMatchObject({ quantity: 0, card_number: '************1111' });
    expect(silver).toHaveLength(8);
    const quarantine = await sortedRows(run.lake, 'silver/sales__quarantine');
    expect(quarantine.map((r) => r.transaction_id)).toEqual(['T-1007']);
    expect(quarantine[0]).toMatchObject({ _failed_expectations: ['contract:event_time'], event_time: 'not recorded', _source_table: 'pos_sales' });

    const again = await sluice('quarantine', 'replay', 'silver.sales', '--pipeline', fixed);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/1 quarantined rows checked: 0 now pass .* 1 still fail and stay/);
    expect((await loadSnapshot(run.lake('silver/sales'))).version).toBe(salesBefore + 1);

    // Gold already follows the replayed row: the next run has nothing to do for it.
    const next = await sluice('pipeline', 'run', fixed, '--json');
    expect(next.code, next.err).toBe(0);
    const out = JSON.parse(next.out) as RefreshOutput;
    expect(out.tables.find((m) => m.table === 'gold.daily_store_sales')).toMatchObject({ status: 'unchanged' });
  });

  it('run: two runs of one pipeline at once each wait for their own run, not the other one with the same reason', async () => {
    // A name of its own, so no other test's CLI run shares the instance refresh-<name>.
    const name = uniqueName('posboth');
    const file = nodePath.join(dir, `${name}.yaml`);
    writeFileSync(file, readFileSync(POS_PIPELINE, 'utf8').replace('name: pos', `name: ${name}`));
    const [a, b] = await Promise.all([sluice('pipeline', 'run', file, '--json'), sluice('pipeline', 'run', file, '--json')]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const [ra, rb] = [JSON.parse(a.out) as RefreshOutput, JSON.parse(b.out) as RefreshOutput];
    // One instance: one ran first and the other caught up as its next run. Each reports its own run.
    expect([ra.runId, rb.runId].every((id) => id.startsWith(`refresh-${name}@`))).toBe(true);
    expect(ra.runId).not.toBe(rb.runId);
    expect([ra.tables.length, rb.tables.length]).toEqual([4, 4]);
  });
});
