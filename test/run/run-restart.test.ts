/**
 * Restarts in the middle of a refresh run, on Azurite: the tables end identical to those of a run
 * nobody interrupted, and the run's metrics still account for every row.
 * - In process: the engine halts (as a crash would: nothing more recorded) right after an activity
 *   committed its table but before its result was recorded; a new engine with the same host id
 *   takes over at once, runs the activity again (it finds its source versions applied and reports the
 *   metrics the first attempt recorded), and finishes the run.
 * - A child process running the engine is SIGKILLed while tables are being refreshed; a new process
 *   with the same host id finishes the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../shared/delta/rows';
import type { TableUpdateMetrics } from '../../shared/refresh';
import { EngineRunClient, orchestrationRegistry, TABLE_ACTIVITY, type RefreshOutput, type RefreshProgress, type TableActivityInput } from '../../shared/run';
import { connectionString, ingestExamples, posLake, posTables, ROOT, runEngine, uniqueName, type RunLake } from '../support/run-lake';
import type { OrchestrationEngine } from '../../shared/orchestration';

const DAY1: [string, string][] = [
  ['pos_sales', 'sales-2026-03-01.csv'],
  ['pos_deliveries', 'deliveries-2026-03-01.csv'],
];

let reference: { tables: Record<string, Record<string, JsonValue>[]>; output: RefreshOutput };

async function prepared(label: string): Promise<RunLake> {
  const run = await posLake(label);
  await ingestExamples(run, DAY1, uniqueName('Ledger'));
  return run;
}

/** Counts that must not depend on how the run went (durations and file names excluded). */
function counts(m: TableUpdateMetrics) {
  const { durationMs, targetVersion, quarantineVersion, ...rest } = m;
  void durationMs;
  void targetVersion;
  void quarantineVersion;
  return rest;
}

beforeAll(async () => {
  const run = await prepared('run-ref');
  const engine = runEngine(orchestrationRegistry(run.services));
  await new EngineRunClient(engine).startRun({ pipeline: 'pos' });
  await engine.runPending();
  const status = (await engine.getStatus('refresh-pos'))!;
  expect(status.runtimeStatus).toBe('Completed');
  reference = { tables: await posTables(run.lake), output: status.output as RefreshOutput };
}, 120_000);

describe('refresh run restarts', () => {
  it('an engine halted after an activity committed, before its result was recorded: a new engine with the same host id finishes identically', async () => {
    const run = await prepared('run-halt');
    const prefix = uniqueName('Halt');
    let first: OrchestrationEngine | undefined = undefined;
    let crashed!: () => void;
    const halted = new Promise<void>((r) => (crashed = r));
    const calls: string[] = [];
    const registry = orchestrationRegistry(run.services);
    const table = registry.activities[TABLE_ACTIVITY];
    registry.activities[TABLE_ACTIVITY] = async (input: TableActivityInput, context) => {
      calls.push(input.table);
      const result = await table(input, context);
      // The first engine dies the moment silver.sales is committed.
      if (input.table === 'silver.sales' && first) {
        first.halt();
        crashed();
      }
      return result;
    };
    first = runEngine(registry, { hostId: 'halt-host', tablePrefix: prefix });
    await new EngineRunClient(first).startRun({ pipeline: 'pos' });
    first.start();
    await halted;
    // The halted engine's loop ends and its running activities settle without recording anything.
    await first.stop();
    const stuck = await first.getStatus('refresh-pos');
    expect(stuck?.runtimeStatus).toBe('Running');
    expect((stuck?.customStatus as RefreshProgress).done).toBeLessThan(4);
    first = undefined;

    const second = runEngine(registry, { hostId: 'halt-host', tablePrefix: prefix });
    await second.runPending();
    const status = (await second.getStatus('refresh-pos'))!;
    expect(status.runtimeStatus).toBe('Completed');
    expect(calls.filter((t) => t === 'silver.sales')).toHaveLength(2);
    const output = status.output as RefreshOutput;
    // The retried activity found its versions applied and reported the first attempt's metrics.
    expect(output.tables.map(counts)).toEqual(reference.output.tables.map(counts));
    expect(output.totals.rowsRead).toBe(reference.output.totals.rowsRead);
    expect(await posTables(run.lake)).toEqual(reference.tables);
  });

  it('a SIGKILLed engine process mid-run: a new process with the same host id finishes identically', async () => {
    const run = await prepared('run-kill');
    const prefix = uniqueName('Kill');
    const env = {
      ...process.env,
      SLUICE_STORAGE_CONNECTION_STRING: connectionString(),
      RUN_CONTAINER: run.container,
      RUN_EVENTS_TABLE: run.eventsTable,
      RUN_PREFIX: prefix,
      RUN_SLOW_MS: '1500',
    };
    const child = (start: boolean): ChildProcess => {
      const c = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/test/support/run-child.ts`], {
        cwd: ROOT,
        env: { ...env, RUN_START: start ? '1' : '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      c.stderr!.on('data', (d) => process.stderr.write(`[run-child] ${d}`));
      return c;
    };
    const observer = runEngine(orchestrationRegistry(run.services), { tablePrefix: prefix });
    const until = async (what: string, check: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const progress = async () => (await observer.getStatus('refresh-pos'))?.customStatus as RefreshProgress | undefined;

    const first = child(true);
    const exited = new Promise((r) => first.once('exit', r));
    try {
      // Killed while the first level's tables are being refreshed.
      await until('the run to refresh silver', async () => (await progress())?.running === 2, 45_000);
      first.kill('SIGKILL');
      await exited;
    } finally {
      if (first.exitCode === null) first.kill('SIGKILL');
    }
    const mid = await progress();
    expect(mid?.done).toBeLessThan(4);

    const second = child(false);
    try {
      await until('the run to complete', async () => (await observer.getStatus('refresh-pos'))?.runtimeStatus === 'Completed', 60_000);
    } finally {
      second.kill('SIGKILL');
    }
    const output = (await observer.getStatus('refresh-pos'))!.output as RefreshOutput;
    expect(output.tables.map(counts)).toEqual(reference.output.tables.map(counts));
    expect(await posTables(run.lake)).toEqual(reference.tables);
  });
});
