/**
 * Quarantine replay killed between its two commits, on Azurite: a child process replays the POS
 * sales quarantine after a fix to the quantity rule and SIGKILLs itself (`SLUICE_FAULT_KILL_AT=
 * afterCommit`) right after the table's commit, before the quarantine's. The next replay only finishes
 * the quarantine's commit from the record in the table's commit: no row is applied twice, every
 * quarantined row ends up exactly once (in the table or still in the quarantine), and the tables equal
 * those of a replay nobody interrupted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSnapshot, readCommitIfExists, txnVersion } from '../../shared/delta';
import { loadPipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import { refreshTable, replayAppId, replayQuarantine, type ReplayResult } from '../../shared/refresh';
import { azuriteBlobEndpoint } from '../support/azurite';
import { ingestExamples, POS_PIPELINE, posLake, ROOT, sortedRows, uniqueName, type RunLake } from '../support/run-lake';

const SQL = { memoryLimit: '256MB', threads: 1 };
/** The rule as shipped quarantines T-1005 (quantity 0); the fix accepts a zero quantity. */
const RULE = `valid_quantity: { check: "quantity <> 0 OR status = 'returned'", onViolation: quarantine }`;
const FIXED_RULE = `valid_quantity: { check: "quantity >= 0 OR status = 'returned'", onViolation: quarantine }`;

/** The POS pipeline with the fixed rule, as a file (the child process loads it). */
function fixedPipelineFile(): string {
  const text = readFileSync(POS_PIPELINE, 'utf8');
  expect(text).toContain(RULE);
  const file = nodePath.join(mkdtempSync(nodePath.join(tmpdir(), 'sluice-replay-')), 'pos.yaml');
  writeFileSync(file, text.replace(RULE, FIXED_RULE));
  return file;
}

/** A lake whose silver.sales was refreshed from day 1: T-1005 and T-1007 in its quarantine. */
async function quarantinedLake(label: string): Promise<RunLake> {
  const run = await posLake(label);
  await ingestExamples(run, [['pos_sales', 'sales-2026-03-01.csv']], uniqueName('Ledger'));
  const m = await refreshTable({ definition: run.definition, table: 'silver.sales', lake: run.lake, sql: SQL });
  expect(m).toMatchObject({ status: 'updated', quarantined: 2 });
  return run;
}

const ids = (rows: Record<string, unknown>[]) => rows.map((r) => String(r.transaction_id)).sort();
const state = async (run: RunLake) => ({
  table: await sortedRows(run.lake, 'silver/sales'),
  quarantine: await sortedRows(run.lake, 'silver/sales__quarantine', ['_quarantined_at', '_source_file']),
});

describe('quarantine replay interrupted between its two commits', () => {
  it('the next replay only finishes the quarantine commit; each quarantined row ends up exactly once', async () => {
    const file = fixedPipelineFile();
    const fixed: PipelineDefinition = await loadPipelineDefinition(file);

    // What an uninterrupted replay produces.
    const reference = await quarantinedLake('replay-ref');
    const uninterrupted = await replayQuarantine({ definition: fixed, table: 'silver.sales', lake: reference.lake, sql: SQL });
    expect(uninterrupted).toMatchObject({ rowsRead: 2, replayed: 1, remaining: 1, inserted: 1, resumed: false });
    const expected = await state(reference);
    expect(ids(expected.quarantine)).toEqual(['T-1007']);

    const run = await quarantinedLake('replay-kill');
    const before = await state(run);
    expect(ids(before.quarantine)).toEqual(['T-1005', 'T-1007']);
    expect(ids(before.table)).not.toContain('T-1005');
    const tableBefore = await loadSnapshot(run.lake('silver/sales'));
    const quarantineBefore = await loadSnapshot(run.lake('silver/sales__quarantine'));

    // The child dies right after its first commit (the table's).
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/test/support/run-replay-child.ts`], {
      cwd: ROOT,
      env: {
        ...process.env,
        AZURITE_BLOB_ENDPOINT: azuriteBlobEndpoint(),
        REPLAY_CONTAINER: run.container,
        REPLAY_PIPELINE: file,
        REPLAY_TABLE: 'silver.sales',
        SLUICE_FAULT_KILL_AT: 'afterCommit',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_, s) => resolve(s)));
    expect(signal, output).toBe('SIGKILL');
    expect(output).toBe('');

    // In between: the table has T-1005 (one commit, with the replay's txn); the quarantine still has it.
    const tableMid = await loadSnapshot(run.lake('silver/sales'));
    const quarantineMid = await loadSnapshot(run.lake('silver/sales__quarantine'));
    expect(tableMid.version).toBe(tableBefore.version + 1);
    expect(txnVersion(tableMid, replayAppId('silver/sales__quarantine'))).toBe(quarantineBefore.version);
    expect(quarantineMid.version).toBe(quarantineBefore.version);
    const mid = await state(run);
    expect(ids(mid.table)).toEqual([...ids(before.table), 'T-1005'].sort());
    expect(ids(mid.quarantine)).toEqual(['T-1005', 'T-1007']);

    // The next replay finishes the quarantine's commit only.
    const resumed: ReplayResult = await replayQuarantine({ definition: fixed, table: 'silver.sales', lake: run.lake, sql: SQL });
    expect(resumed).toMatchObject({
      resumed: true,
      replayed: 0,
      inserted: 0,
      updated: 0,
      targetVersion: tableMid.version,
      quarantineVersionAfter: quarantineBefore.version + 1,
    });
    expect((await loadSnapshot(run.lake('silver/sales'))).version).toBe(tableMid.version);
    const quarantineCommit = (await readCommitIfExists(run.lake('silver/sales__quarantine'), quarantineBefore.version + 1))!;
    expect(quarantineCommit.find((a) => 'txn' in a)).toMatchObject({ txn: { appId: 'sluice-replay', version: quarantineBefore.version } });

    // Each row once: T-1005 in the table only, T-1007 in the quarantine only, nothing else changed.
    const after = await state(run);
    expect(ids(after.table)).toEqual([...ids(before.table), 'T-1005'].sort());
    expect(ids(after.quarantine)).toEqual(['T-1007']);
    expect(after.table.filter((r) => r.transaction_id === 'T-1005')).toHaveLength(1);
    expect(after).toEqual(expected);

    // A further replay finds nothing that passes: no commit anywhere.
    const again = await replayQuarantine({ definition: fixed, table: 'silver.sales', lake: run.lake, sql: SQL });
    expect(again).toMatchObject({ resumed: false, rowsRead: 1, replayed: 0, remaining: 1 });
    expect((await loadSnapshot(run.lake('silver/sales'))).version).toBe(tableMid.version);
    expect((await loadSnapshot(run.lake('silver/sales__quarantine'))).version).toBe(quarantineBefore.version + 1);
  });
});
