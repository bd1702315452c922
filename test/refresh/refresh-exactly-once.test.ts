/**
 * Exactly once between bronze and silver/gold, on Azurite with real processes: a refresh killed with
 * SIGKILL after writing its data files but before committing leaves the table as it was (only orphan
 * files), one killed right after committing has applied its versions, and the next run applies nothing
 * twice; two refreshes racing on the same versions commit once. The tables end identical to a run
 * without faults on local disk.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { activeFiles, loadSnapshot } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { loadPipelineDefinition } from '../../shared/pipeline';
import { refreshTable, type LakeTables, type TableUpdateMetrics } from '../../shared/refresh';
import { appendCsv, azuriteLake, localLake, POS_PIPELINE, ROOT, rowsOf, SALES_SCHEMA } from '../support/refresh-helpers';

const DAY1 = Date.UTC(2026, 2, 1) / 86_400_000;
const NOW = new Date('2026-03-02T00:00:00Z');

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run one refresh in a child process, optionally killed at a fault point. */
function refreshInChild(root: string, table: string, killAt?: string): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', `${ROOT}/test/support/refresh-process.ts`, '--lake', root, '--pipeline', POS_PIPELINE, '--table', table],
    {
      env: { ...process.env, ...(killAt ? { SLUICE_FAULT_KILL_AT: killAt } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Rows of a table sorted by key, for comparing two lakes. */
async function sorted(lake: LakeTables, path: string, key: string): Promise<Record<string, JsonValue>[]> {
  return (await rowsOf(lake(path))).sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : 1));
}

/** Parquet files stored under a table (live or not). */
async function storedFiles(lake: LakeTables, path: string): Promise<number> {
  let n = 0;
  for await (const info of lake(path).list(''))
    if (info.path.endsWith('.parquet') && !info.path.startsWith('_delta_log/') && !info.path.startsWith('_sluice_changes/')) n++;
  return n;
}

describe('refresh exactly once (Azurite, SIGKILL)', () => {
  it('survives a crash before and after the commit, and a race, with the same tables as a clean run', async () => {
    const definition = await loadPipelineDefinition(POS_PIPELINE);
    const run = (lake: LakeTables, table: string) => refreshTable({ definition, table, lake, now: () => NOW, sql: { memoryLimit: '256MB', threads: 1 } });
    const azure = azuriteLake('refresh');
    const clean = localLake('refresh-clean');

    for (const { lake } of [azure, clean]) {
      await appendCsv(lake('bronze/pos_sales'), 'sales-2026-03-01.csv', SALES_SCHEMA, DAY1);
      expect((await run(lake, 'silver.sales')).status).toBe('updated');
      await appendCsv(lake('bronze/pos_sales'), 'sales-2026-03-02.csv', SALES_SCHEMA, DAY1 + 1);
    }
    const before = await loadSnapshot(azure.lake('silver/sales'));
    const quarantineBefore = (await loadSnapshot(azure.lake('silver/sales__quarantine'))).version;

    // Killed after writing the new files, before the commit: nothing changes but orphan files.
    const killed = await refreshInChild(azure.root, 'silver.sales', 'beforeCommit');
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const afterKill = await loadSnapshot(azure.lake('silver/sales'));
    expect(afterKill.version).toBe(before.version);
    expect(await storedFiles(azure.lake, 'silver/sales')).toBeGreaterThan(activeFiles(afterKill).length);

    // Killed right after its commit landed: the versions are applied.
    const landed = await refreshInChild(azure.root, 'silver.sales', 'afterCommit');
    expect(landed.signal, landed.stderr).toBe('SIGKILL');
    expect((await loadSnapshot(azure.lake('silver/sales'))).version).toBe(before.version + 1);

    // The next attempt finds them applied.
    const again = await refreshInChild(azure.root, 'silver.sales');
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as TableUpdateMetrics).status).toBe('unchanged');
    expect((await loadSnapshot(azure.lake('silver/sales'))).version).toBe(before.version + 1);
    expect((await loadSnapshot(azure.lake('silver/sales__quarantine'))).version).toBe(quarantineBefore);

    const cleanRun = await run(clean.lake, 'silver.sales');
    expect(cleanRun).toMatchObject({ status: 'updated', inserted: 3, updated: 2, duplicates: 1 });
    expect(await sorted(azure.lake, 'silver/sales', 'transaction_id')).toEqual(await sorted(clean.lake, 'silver/sales', 'transaction_id'));
    // Bronze file names differ between the lakes (fresh UUIDs); everything else is equal.
    const withoutFile = (rows: Record<string, JsonValue>[]) => rows.map(({ _source_file, ...rest }) => ({ ...rest, file: typeof _source_file }));
    expect(withoutFile(await sorted(azure.lake, 'silver/sales__quarantine', 'transaction_id'))).toEqual(
      withoutFile(await sorted(clean.lake, 'silver/sales__quarantine', 'transaction_id')),
    );

    // Two attempts racing on the same new version: one commit.
    for (const { lake } of [azure, clean]) await appendCsv(lake('bronze/pos_sales'), 'sales-2026-03-02.csv', SALES_SCHEMA, DAY1 + 2);
    const raced = await Promise.all([run(azure.lake, 'silver.sales'), run(azure.lake, 'silver.sales')]);
    expect(raced.map((m) => m.status).sort()).toEqual(expect.arrayContaining(['updated']));
    expect(raced.filter((m) => m.status === 'updated')).toHaveLength(1);
    await run(clean.lake, 'silver.sales');
    expect(await sorted(azure.lake, 'silver/sales', 'transaction_id')).toEqual(await sorted(clean.lake, 'silver/sales', 'transaction_id'));

    // Gold on Azurite equals gold on disk, and a repeat is a no-op there too.
    for (const { lake } of [azure, clean]) expect((await run(lake, 'gold.daily_store_sales')).status).toBe('updated');
    expect(await sorted(azure.lake, 'gold/daily_store_sales', 'day')).toEqual(await sorted(clean.lake, 'gold/daily_store_sales', 'day'));
    expect((await run(azure.lake, 'gold.daily_store_sales')).status).toBe('unchanged');
  });
});
