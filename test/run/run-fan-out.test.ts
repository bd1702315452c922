/**
 * Large fan-outs on the local engine over Azurite: a level with more tables than the fan-out limit
 * runs as `refreshTables` sub-orchestrations with ids derived from the run, level and chunk; every
 * table is refreshed exactly once and the parent's output, custom status and failure rules are those
 * of an unsplit run. An engine halted while children are in flight is replaced by one with the same
 * host id, and the tables end identical to those of an uninterrupted run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EventType, type OrchestrationEngine, type WireEvent } from '../../shared/orchestration';
import type { TableUpdateMetrics } from '../../shared/refresh';
import {
  chunkTables,
  EngineRunClient,
  fanOutLimit,
  MAX_FAN_OUT,
  orchestrationRegistry,
  REFRESH_TABLES_ORCHESTRATOR,
  TABLE_ACTIVITY,
  type RefreshOutput,
  type RefreshProgress,
  type RefreshTablesInput,
  type TableActivityInput,
} from '../../shared/run';
import { runEngine, uniqueName } from '../support/run-lake';
import { READING_WITHOUT_AMOUNT, READINGS, wideLake, widePipeline, wideTableNames, wideTables, type WideLake } from '../support/run-wide';

const TABLES = 20;

/** A registry whose table activity records each call. */
function countingRegistry(run: WideLake, calls: string[], after?: (input: TableActivityInput) => void) {
  const registry = orchestrationRegistry(run.services);
  const table = registry.activities[TABLE_ACTIVITY];
  registry.activities[TABLE_ACTIVITY] = async (input: TableActivityInput, context) => {
    calls.push(input.table);
    const result = await table(input, context);
    after?.(input);
    return result;
  };
  return registry;
}

const ofType = (history: WireEvent[], type: number) => history.filter((e) => e.EventType === type);

/** Counts that do not depend on how the run went. */
function counts(m: TableUpdateMetrics) {
  const { durationMs, ...rest } = m;
  void durationMs;
  return rest;
}

let reference: { run: WideLake; output: RefreshOutput; progress: RefreshProgress; calls: string[]; engine: OrchestrationEngine };

beforeAll(async () => {
  const run = await wideLake('run-wide', TABLES);
  const calls: string[] = [];
  const engine = runEngine(countingRegistry(run, calls));
  await new EngineRunClient(engine).startRun({ pipeline: 'wide', maxFanOut: 8 });
  await engine.runPending();
  const status = (await engine.getStatus('refresh-wide'))!;
  expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
  reference = { run, output: status.output as RefreshOutput, progress: status.customStatus as RefreshProgress, calls, engine };
}, 120_000);

describe('large fan-outs', () => {
  it('splits a level into chunks of near-equal size, at most the limit of them, and checks the limit', () => {
    const names = wideTableNames(TABLES);
    expect(chunkTables(names, 8).map((c) => c.length)).toEqual([7, 7, 6]);
    expect(chunkTables(names, 8).flat()).toEqual(names);
    expect(chunkTables(names, 20)).toEqual([names]);
    const huge = Array.from({ length: 1000 }, (_, i) => i);
    // 16 children of 62-63 tables, each of which splits again: no instance holds more than 16 tasks.
    expect(chunkTables(huge, 16).map((c) => c.length)).toEqual([...Array(8).fill(63), ...Array(8).fill(62)]);
    expect(fanOutLimit(undefined)).toBe(MAX_FAN_OUT);
    expect(() => fanOutLimit(1)).toThrow(/maxFanOut must be an integer of at least 2; got 1/);
    expect(() => fanOutLimit(2.5)).toThrow(/maxFanOut/);
  });

  it('runs 20 tables with limit 8 as three sub-orchestrations, each table refreshed once, metrics complete', async () => {
    const { run, output, progress, calls, engine } = reference;
    const names = wideTableNames(TABLES);
    // The parent scheduled the plan activity and three children, no table activity of its own.
    const history = await engine.getHistory('refresh-wide');
    expect(ofType(history, EventType.TaskScheduled).map((e) => e.Name)).toEqual(['refreshPlan']);
    const children = ofType(history, EventType.SubOrchestrationInstanceCreated);
    expect(children.map((e) => [e.Name, e.InstanceId])).toEqual([0, 1, 2].map((c) => [REFRESH_TABLES_ORCHESTRATOR, `refresh-wide:L1:C${c}`]));
    expect(ofType(history, EventType.SubOrchestrationInstanceCompleted)).toHaveLength(3);
    const chunks: string[][] = [];
    for (let c = 0; c < 3; c++) {
      const child = (await engine.getStatus(`refresh-wide:L1:C${c}`))!;
      expect(child).toMatchObject({ name: REFRESH_TABLES_ORCHESTRATOR, runtimeStatus: 'Completed' });
      const tables = (child.input as RefreshTablesInput).tables.map((t) => t.table);
      chunks.push(tables);
      expect(child.customStatus).toEqual({ total: tables.length, done: tables.length, failed: 0, running: 0 });
      const scheduled = ofType(await engine.getHistory(`refresh-wide:L1:C${c}`), EventType.TaskScheduled);
      expect(scheduled.map((e) => JSON.parse(String(e.Input)).table)).toEqual(tables);
    }
    expect(chunks.map((c) => c.length)).toEqual([7, 7, 6]);
    expect(chunks.flat()).toEqual(names);
    expect([...calls].sort()).toEqual(names);

    // The parent's output and status are those of an unsplit run: every table, in plan order.
    expect(output.tables.map((m) => m.table)).toEqual(names);
    for (const m of output.tables) {
      expect(m).toMatchObject({ status: 'updated', rowsRead: READINGS, inserted: READINGS - 1, quarantined: 1, targetVersion: 1 });
      expect(m.inserted + m.updated + m.duplicates + m.filteredBySql + m.dropped + m.quarantined, m.table).toBe(m.rowsRead);
      expect(m.expectations).toEqual([{ name: 'amount_present', check: 'amount IS NOT NULL', onViolation: 'quarantine', passed: READINGS - 1, failed: 1 }]);
    }
    expect(output.totals).toMatchObject({ tables: TABLES, tablesUpdated: TABLES, rowsRead: TABLES * READINGS, quarantined: TABLES });
    expect(progress).toMatchObject({ stage: 'completed', levels: 1, total: TABLES, done: TABLES, failed: 0, running: 0 });
    expect(Object.values(progress.tables).map((t) => t.state)).toEqual(Array(TABLES).fill('updated'));
    // One event per table, with the metrics of the output.
    const events = await run.events.runEvents(output.runId);
    expect(events.map((e) => e.table).sort()).toEqual(names);
    for (const e of events) expect(e.metrics).toEqual(output.tables.find((m) => m.table === e.table));

    // Each table holds its own shift of the readings in one commit after its creation (version 0); the
    // missing amount is in quarantine.
    const tables = await wideTables(run.lake, TABLES);
    names.forEach((name, i) => {
      const path = name.replace('.', '/');
      expect(tables[path].version).toBe(1);
      const expected = Array.from({ length: READINGS }, (_, r) => r + 1)
        .filter((id) => id !== READING_WITHOUT_AMOUNT)
        .map((id) => ({ id, amount: id + i + 1 }));
      expect(tables[path].rows.map((r) => ({ id: (r as { id: number }).id, amount: (r as { amount: number }).amount })).sort((a, b) => a.id - b.id)).toEqual(
        expected,
      );
      expect(tables[`${path}__quarantine`].rows).toHaveLength(1);
      expect(tables[`${path}__quarantine`].rows[0]).toMatchObject({ id: String(READING_WITHOUT_AMOUNT), _failed_expectations: ['amount_present'] });
    });
  });

  it('an engine halted with nested sub-orchestrations in flight: a new engine with the same host id finishes with identical tables', async () => {
    const run = await wideLake('run-wide-halt', TABLES);
    const prefix = uniqueName('Wide');
    let first: OrchestrationEngine | undefined;
    let crashed!: () => void;
    const halted = new Promise<void>((r) => (crashed = r));
    const calls: string[] = [];
    // The first engine dies when the sixth table has committed.
    const registry = countingRegistry(run, calls, () => {
      if (calls.length >= 6 && first) {
        first.halt();
        crashed();
      }
    });
    first = runEngine(registry, { hostId: 'wide-host', tablePrefix: prefix });
    // Limit 4: four children of five tables, each splitting into children of three and two.
    await new EngineRunClient(first).startRun({ pipeline: 'wide', maxFanOut: 4 });
    first.start();
    await halted;
    await first.stop();
    const stuck = (await first.getStatus('refresh-wide'))!;
    expect(stuck.runtimeStatus).toBe('Running');
    expect((stuck.customStatus as RefreshProgress).done).toBeLessThan(TABLES);
    const inFlight = (await first.listInstances({ name: REFRESH_TABLES_ORCHESTRATOR, runtimeStatus: ['Pending', 'Running'] })).map((s) => s.instanceId);
    expect(inFlight.length).toBeGreaterThan(0);
    first = undefined;

    const second = runEngine(registry, { hostId: 'wide-host', tablePrefix: prefix });
    await second.runPending();
    const status = (await second.getStatus('refresh-wide'))!;
    expect(status.runtimeStatus, JSON.stringify(status.output)).toBe('Completed');
    const all = (await second.listInstances({ name: REFRESH_TABLES_ORCHESTRATOR })).map((s) => [s.instanceId, s.runtimeStatus]);
    const ids = [0, 1, 2, 3].flatMap((c) => [`refresh-wide:L1:C${c}`, `refresh-wide:L1:C${c}:C0`, `refresh-wide:L1:C${c}:C1`]);
    expect(all.sort()).toEqual(ids.sort().map((id) => [id, 'Completed']));
    // Activities run at least once; a table is committed once whatever the number of attempts.
    const names = wideTableNames(TABLES);
    expect([...new Set(calls)].sort()).toEqual(names);
    const output = status.output as RefreshOutput;
    expect(output.tables.map(counts)).toEqual(reference.output.tables.map(counts));
    expect(await wideTables(run.lake, TABLES)).toEqual(await wideTables(reference.run.lake, TABLES));
  });

  it('a table failing inside a sub-orchestration fails the run with its reason; the other tables run, its readers are held back', async () => {
    // Five silver tables (limit 2: children of t01-t03, split again, and t04-t05), t02 failing; a gold table reading t02 and one reading t01.
    const definition = widePipeline(
      5,
      (text) =>
        text.replace(/(silver\.t02:[\s\S]*?onViolation: )quarantine/, '$1fail') +
        '  gold.from_t01: { from: silver.t01, sql: "SELECT id, amount FROM source" }\n  gold.from_t02: { from: silver.t02, sql: "SELECT id, amount FROM source" }\n',
    );
    expect(definition.tables['silver.t02'].expectations[0].onViolation).toBe('fail');
    const run = await wideLake('run-wide-fail', 5, definition);
    const calls: string[] = [];
    const engine = runEngine(countingRegistry(run, calls));
    await new EngineRunClient(engine).startRun({ pipeline: 'wide', maxFanOut: 2 });
    await engine.runPending();
    const status = (await engine.getStatus('refresh-wide'))!;
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(
      /refresh of pipeline wide .*failed: silver\.t02: .*expectation "amount_present" \(amount IS NOT NULL\) failed for 1 row.*not run because they read a failed table: gold\.from_t02$/,
    );
    const progress = status.customStatus as RefreshProgress;
    expect(progress).toMatchObject({ stage: 'failed', total: 7, done: 5, failed: 1, running: 0 });
    expect(progress.tables).toMatchObject({
      'silver.t02': { state: 'failed' },
      'gold.from_t02': { state: 'blocked' },
      'gold.from_t01': { state: 'updated' },
      'silver.t05': { state: 'updated' },
    });
    // The child holding t02 completed and reported the failure as an outcome; terminal, so tried once.
    expect(await engine.getStatus('refresh-wide:L1:C0')).toMatchObject({ runtimeStatus: 'Completed', customStatus: { total: 3, done: 2, failed: 1 } });
    expect(await engine.getStatus('refresh-wide:L1:C0:C0')).toMatchObject({ runtimeStatus: 'Completed', customStatus: { total: 2, done: 1, failed: 1 } });
    expect(calls.filter((t) => t === 'silver.t02')).toHaveLength(1);
    expect(calls).not.toContain('gold.from_t02');
    expect((await run.events.runEvents(progress.runId)).find((e) => e.table === 'silver.t02')).toMatchObject({ status: 'failed' });
  });
});
