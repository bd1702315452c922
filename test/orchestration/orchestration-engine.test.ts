/**
 * The local orchestration engine on Azurite, driving real orchestrator generators through the
 * durable-functions package's replay code over history persisted in Table Storage: fan-out/fan-in,
 * empty fan-outs, RetryOptions (backoff, cap, terminal and non-retriable failures), sequence
 * numbering when a retry and a resumed orchestrator meet in one episode, sub-orchestrations, custom
 * status, replay determinism, restarts in the middle (graceful stop, in-process crash, a SIGKILLed
 * engine process, and a crash at each point of an episode), terminate/purge, the Durable HTTP API
 * routes, timers, external events, singletons, continue-as-new, large payloads,
 * non-determinism and unknown activities. Activity call counts are kept per input so every test can
 * tell an activity that ran twice from one that ran once.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { describe, expect, inject, it } from 'vitest';
import { durableWebhook, EngineOptions, EventType, OrchestrationEngine, OrchestrationRegistry, WireEvent } from '../../shared/orchestration';
import { openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const connectionString = () => process.env.SLUICE_STORAGE_CONNECTION_STRING || inject('azuriteConnectionString');
const tablePrefix = () => `T${randomBytes(6).toString('hex')}`;

function newEngine(registry: OrchestrationRegistry, options: Partial<EngineOptions> = {}): OrchestrationEngine {
  return new OrchestrationEngine(registry, {
    connectionString: connectionString(),
    tablePrefix: tablePrefix(),
    maxConcurrentActivities: 4,
    leaseMs: 10_000,
    pollMs: 20,
    ...options,
  });
}

/** Calls per key, and the most activities seen running at once. */
class Calls {
  readonly counts = new Map<string, number>();
  active = 0;
  maxActive = 0;
  async enter<T>(key: unknown, body: () => Promise<T> | T): Promise<T> {
    this.counts.set(String(key), (this.counts.get(String(key)) ?? 0) + 1);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      // Long enough for the engine to start the other activities it has slots for.
      await new Promise((r) => setTimeout(r, 25));
      return await body();
    } finally {
      this.active--;
    }
  }
  of(key: unknown): number {
    return this.counts.get(String(key)) ?? 0;
  }
}

/** An engine process (plain JS through tsx) running fanOut with slow activities that log each call. */
const CHILD_ENGINE = `
const { OrchestrationEngine } = require(process.env.ENGINE_MODULE);
const { appendFileSync } = require('node:fs');
const fanOut = function* (context) {
  const { items } = context.df.getInput();
  context.df.setCustomStatus({ stage: 'fan-out', total: items.length });
  const tasks = items.map((n) => context.df.callActivity('square', n));
  const results = tasks.length ? yield context.df.Task.all(tasks) : [];
  return results.reduce((a, b) => a + b, 0);
};
const square = async (n) => {
  appendFileSync(process.env.CALLS_FILE, n + '\\n');
  await new Promise((r) => setTimeout(r, 40));
  return n * n;
};
const engine = new OrchestrationEngine({ orchestrators: { fanOut }, activities: { square } }, {
  connectionString: process.env.CS, tablePrefix: process.env.PREFIX, hostId: 'sigkill-host', maxConcurrentActivities: 2, pollMs: 20, leaseMs: 60000,
});
engine.start();
`;

const ofType = (history: WireEvent[], type: number) => history.filter((e) => e.EventType === type);

/** Every completion points at a scheduled task, at most once; OrchestratorStarted times never go back. */
function expectLinkedHistory(history: WireEvent[]): void {
  const scheduled = new Set(
    [
      ...ofType(history, EventType.TaskScheduled),
      ...ofType(history, EventType.TimerCreated),
      ...ofType(history, EventType.SubOrchestrationInstanceCreated),
    ].map((e) => e.EventId),
  );
  const completions = history.filter((e) => e.TaskScheduledId !== undefined || e.TimerId !== undefined).map((e) => Number(e.TaskScheduledId ?? e.TimerId));
  for (const id of completions) expect(scheduled.has(id), `completion of task ${id} has a scheduling event`).toBe(true);
  expect(new Set(completions).size, 'one completion per task').toBe(completions.length);
  const started = ofType(history, EventType.OrchestratorStarted).map((e) => Date.parse(e.Timestamp));
  expect(started).toEqual([...started].sort((a, b) => a - b));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function fanOutRegistry(calls: Calls, replays: { count: number }): OrchestrationRegistry {
  const fanOut: OrchestrationHandler = function* (context: OrchestrationContext) {
    replays.count++;
    const { items } = context.df.getInput() as { items: number[] };
    context.df.setCustomStatus({ stage: 'fan-out', total: items.length });
    const tasks = items.map((n) => context.df.callActivity('square', n));
    // Task.all([]) throws in durable-functions: an empty fan-out is skipped.
    const results: number[] = tasks.length ? yield context.df.Task.all(tasks) : [];
    context.df.setCustomStatus({ stage: 'done', total: items.length });
    return results.reduce((a, b) => a + b, 0);
  };
  const unguarded: OrchestrationHandler = function* (context: OrchestrationContext) {
    return yield context.df.Task.all([]);
  };
  return { orchestrators: { fanOut, unguarded }, activities: { square: (n: number) => calls.enter(n, () => n * n) } };
}

describe('local orchestration engine', () => {
  it('fans out and in through replays, each activity once, concurrency bounded, status visible mid-run', async () => {
    const calls = new Calls();
    const replays = { count: 0 };
    const engine = newEngine(fanOutRegistry(calls, replays));
    const items = Array.from({ length: 24 }, (_, i) => i + 1);
    const { instanceId, created } = await engine.startNew('fanOut', { input: { items } });
    expect(created).toBe(true);
    expect((await engine.getStatus(instanceId))?.runtimeStatus).toBe('Pending');

    const first = await engine.tick();
    expect(first).toEqual({ episodes: 1, activities: 4 });
    const mid = await engine.getStatus(instanceId);
    expect(mid).toMatchObject({ name: 'fanOut', runtimeStatus: 'Running', customStatus: { stage: 'fan-out', total: 24 }, input: { items }, output: null });

    await engine.runPending();
    const done = await engine.getStatus(instanceId, { showHistory: true, showHistoryOutput: true });
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: items.reduce((a, n) => a + n * n, 0), customStatus: { stage: 'done', total: 24 } });
    for (const n of items) expect(calls.of(n), `square(${n}) calls`).toBe(1);
    expect(calls.maxActive).toBeLessThanOrEqual(4);
    expect(calls.maxActive).toBeGreaterThan(1);
    // Many episodes, each replaying the generator from the start over the stored history.
    expect(replays.count).toBeGreaterThanOrEqual(6);

    const history = await engine.getHistory(instanceId);
    expect(ofType(history, EventType.TaskScheduled).map((e) => e.EventId)).toEqual(items.map((_, i) => i));
    expect(ofType(history, EventType.TaskCompleted)).toHaveLength(24);
    expectLinkedHistory(history);
    expect(ofType(history, EventType.ExecutionCompleted)[0]).toMatchObject({ OrchestrationStatus: 'Completed', Result: JSON.stringify(done!.output) });
    expect(done!.historyEvents!.filter((e) => e.EventType === 'TaskCompleted')[0]).toMatchObject({ FunctionName: 'square', Result: 1 });
  });

  it('an empty fan-out completes when guarded; unguarded, Task.all([]) fails the instance with the library message', async () => {
    const calls = new Calls();
    const engine = newEngine(fanOutRegistry(calls, { count: 0 }));
    const empty = await engine.startNew('fanOut', { input: { items: [] } });
    const unguarded = await engine.startNew('unguarded');
    await engine.runPending();
    expect(await engine.getStatus(empty.instanceId)).toMatchObject({ runtimeStatus: 'Completed', output: 0 });
    expect(ofType(await engine.getHistory(empty.instanceId), EventType.TaskScheduled)).toHaveLength(0);
    const failed = await engine.getStatus(unguarded.instanceId);
    expect(failed?.runtimeStatus).toBe('Failed');
    expect(failed?.output).toMatch(/^Orchestrator function 'unguarded' failed: .*you must specify at least one Task/);
    expect(calls.counts.size).toBe(0);
  });

  it('retries with backoff until attempt 3 succeeds; a terminal failure fails the instance with its message', async () => {
    const calls = new Calls();
    const retry = new df.RetryOptions(30, 3);
    retry.backoffCoefficient = 2;
    retry.maxRetryIntervalInMilliseconds = 50;
    const twice = new df.RetryOptions(20, 2);
    const registry: OrchestrationRegistry = {
      orchestrators: {
        flaky: function* (context) {
          return yield context.df.callActivityWithRetry('flaky', retry, 'x');
        },
        doomed: function* (context) {
          return yield context.df.callActivityWithRetry('broken', twice, 'y');
        },
        fatal: function* (context) {
          return yield context.df.callActivityWithRetry('fatal', new df.RetryOptions(20, 5), 'z');
        },
      },
      activities: {
        flaky: (input: string) =>
          calls.enter(input, () => {
            if (calls.of(input) < 3) throw new Error(`flaky failure ${calls.of(input)}`);
            return `ok after ${calls.of(input)}`;
          }),
        broken: (input: string) =>
          calls.enter(input, () => {
            throw new Error('disk on fire: table lake/silver/sales');
          }),
        fatal: (input: string) =>
          calls.enter(input, () => {
            throw Object.assign(new Error('schema contract broken: column amount'), { nonRetriable: true });
          }),
      },
    };
    const engine = newEngine(registry);
    const ids = await Promise.all(['flaky', 'doomed', 'fatal'].map(async (name) => (await engine.startNew(name)).instanceId));
    engine.start();
    try {
      for (const id of ids) await engine.waitForCompletion(id, 30_000);
    } finally {
      await engine.stop();
    }
    const [flaky, doomed, fatal] = await Promise.all(ids.map((id) => engine.getStatus(id)));
    expect(flaky).toMatchObject({ runtimeStatus: 'Completed', output: 'ok after 3' });
    expect(calls.of('x')).toBe(3);
    const h = await engine.getHistory(ids[0]);
    expect(ofType(h, EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 2, 4]);
    expect(ofType(h, EventType.TaskFailed).map((e) => e.TaskScheduledId)).toEqual([0, 2]);
    // Retry timers: 30 ms, then 30 × 2 capped at 50 ms, counted from the episode that saw the failure.
    const timers = ofType(h, EventType.TimerCreated);
    expect(timers.map((e) => e.EventId)).toEqual([1, 3]);
    expect(timers.map((e) => Date.parse(String(e.FireAt)) - Date.parse(e.Timestamp))).toEqual([30, 50]);
    expect(ofType(h, EventType.TimerFired).map((e) => e.TimerId)).toEqual([1, 3]);
    expectLinkedHistory(h);

    expect(doomed?.runtimeStatus).toBe('Failed');
    expect(doomed?.output).toContain('disk on fire: table lake/silver/sales');
    expect(calls.of('y')).toBe(2);
    expect(ofType(await engine.getHistory(ids[1]), EventType.TaskScheduled).map((e) => e.EventId)).toEqual([0, 2]);

    // Flagged non-retriable: one run, the other four attempts recorded as failed without running.
    expect(fatal?.runtimeStatus).toBe('Failed');
    expect(fatal?.output).toContain('schema contract broken: column amount');
    expect(calls.of('z')).toBe(1);
    const fh = await engine.getHistory(ids[2]);
    expect(ofType(fh, EventType.TaskScheduled).filter((e) => e.Sluice?.skipped)).toHaveLength(4);
    expectLinkedHistory(fh);
  });

  it('numbers a retry timer before the task a resumed orchestrator schedules in the same episode', async () => {
    const calls = new Calls();
    const registry: OrchestrationRegistry = {
      orchestrators: {
        race: function* (context) {
          const slow = context.df.callActivityWithRetry('sometimesFails', new df.RetryOptions(20, 2), 'a');
          const fast = context.df.callActivity('echo', 'b');
          const winner: df.Task = yield context.df.Task.any([slow, fast]);
          const next: string = yield context.df.callActivity('echo', 'c');
          const late: string = yield slow;
          return [winner.result, next, late];
        },
      },
      activities: {
        echo: (s: string) => calls.enter(s, () => s),
        sometimesFails: (s: string) =>
          calls.enter(s, () => {
            if (calls.of(s) === 1) throw new Error('first attempt fails');
            return `${s} on attempt ${calls.of(s)}`;
          }),
      },
    };
    const engine = newEngine(registry, { maxConcurrentActivities: 2 });
    const { instanceId } = await engine.startNew('race');
    // Both first activities run in one tick, so the failure and the completion reach one episode.
    expect(await engine.tick()).toEqual({ episodes: 1, activities: 2 });
    await engine.tick();
    const h = await engine.getHistory(instanceId);
    expect(ofType(h, EventType.TimerCreated).map((e) => e.EventId)).toEqual([2]);
    expect(ofType(h, EventType.TaskScheduled).map((e) => [e.EventId, e.Name])).toEqual([
      [0, 'sometimesFails'],
      [1, 'echo'],
      [3, 'echo'],
    ]);
    engine.start();
    try {
      expect(await engine.waitForCompletion(instanceId, 20_000)).toMatchObject({ runtimeStatus: 'Completed', output: ['b', 'c', 'a on attempt 2'] });
    } finally {
      await engine.stop();
    }
    expectLinkedHistory(await engine.getHistory(instanceId));
  });

  it('runs sub-orchestrations with default and given ids and reports a failing child to its parent', async () => {
    const calls = new Calls();
    const registry: OrchestrationRegistry = {
      orchestrators: {
        parent: function* (context) {
          const parts: number[] = yield context.df.Task.all([
            context.df.callSubOrchestrator('child', { n: 2 }),
            context.df.callSubOrchestrator('child', { n: 3 }, `${context.df.instanceId}-three`),
          ]);
          let caught = '';
          try {
            yield context.df.callSubOrchestrator('badChild', {});
          } catch (err) {
            caught = (err as Error).message;
          }
          return { sum: parts[0] + parts[1], caught };
        },
        child: function* (context) {
          const { n } = context.df.getInput() as { n: number };
          context.df.setCustomStatus(`child of ${context.df.parentInstanceId}`);
          return yield context.df.callActivity('square', n);
        },
        // eslint-disable-next-line require-yield -- an orchestrator that fails before its first yield
        badChild: function* () {
          throw new Error('child cannot go on');
        },
      },
      activities: { square: (n: number) => calls.enter(n, () => n * n) },
    };
    const engine = newEngine(registry);
    const { instanceId } = await engine.startNew('parent', { instanceId: 'family' });
    await engine.runPending();
    const status = await engine.getStatus(instanceId);
    expect(status?.runtimeStatus).toBe('Completed');
    expect(status?.output).toMatchObject({ sum: 13 });
    expect((status?.output as { caught: string }).caught).toContain("Orchestrator function 'badChild' failed: child cannot go on");
    expect(await engine.getStatus('family:0')).toMatchObject({
      name: 'child',
      runtimeStatus: 'Completed',
      output: 4,
      customStatus: 'child of family',
      input: { n: 2 },
    });
    expect(await engine.getStatus('family-three')).toMatchObject({ runtimeStatus: 'Completed', output: 9 });
    expect(await engine.getStatus('family:2')).toMatchObject({ name: 'badChild', runtimeStatus: 'Failed' });
    expect([calls.of(2), calls.of(3)]).toEqual([1, 1]);
    expectLinkedHistory(await engine.getHistory(instanceId));
    expect((await engine.listInstances({ name: 'child' })).map((s) => s.instanceId).sort()).toEqual(['family-three', 'family:0']);
  });

  it('resumes on a new engine after a graceful stop: in-flight activities finish, none runs again', async () => {
    const calls = new Calls();
    const replays = { count: 0 };
    const prefix = tablePrefix();
    const items = Array.from({ length: 10 }, (_, i) => i + 1);
    const a = newEngine(fanOutRegistry(calls, replays), { tablePrefix: prefix, maxConcurrentActivities: 2 });
    const { instanceId } = await a.startNew('fanOut', { input: { items } });
    a.start();
    await until('three activities to start', async () => calls.counts.size >= 3);
    await a.stop();
    const ranInA = calls.counts.size;
    expect(ranInA).toBeLessThan(items.length);
    const replaysInA = replays.count;

    // A different host: it can only proceed because engine A recorded every result before stopping
    // (a leased, unfinished item would wait out its 10 s lease and runPending would stop short).
    const b = newEngine(fanOutRegistry(calls, replays), { tablePrefix: prefix });
    await b.runPending();
    expect(await b.getStatus(instanceId)).toMatchObject({ runtimeStatus: 'Completed', output: items.reduce((s, n) => s + n * n, 0) });
    for (const n of items) expect(calls.of(n), `square(${n}) calls`).toBe(1);
    expect(replays.count).toBeGreaterThan(replaysInA);
    expectLinkedHistory(await b.getHistory(instanceId));
  });

  it('resumes after a crash: an activity running when the host died runs again, recorded ones do not', async () => {
    const calls = new Calls();
    let crashed = false;
    const hang = new Promise<never>(() => {});
    const registry = (): OrchestrationRegistry => ({
      orchestrators: fanOutRegistry(calls, { count: 0 }).orchestrators,
      activities: { square: (n: number) => calls.enter(n, async () => (n === 7 && !crashed ? hang : n * n)) },
    });
    const prefix = tablePrefix();
    const items = Array.from({ length: 12 }, (_, i) => i + 1);
    const a = newEngine(registry(), { tablePrefix: prefix, hostId: 'crash-host', leaseMs: 60_000 });
    const { instanceId } = await a.startNew('fanOut', { input: { items } });
    a.start();
    await until('11 results in the history', async () => ofType(await a.getHistory(instanceId), EventType.TaskCompleted).length === 11);
    a.halt();
    crashed = true;
    expect(calls.of(7)).toBe(1);

    // Same host id: the new process takes over the dead one's lease at once instead of waiting a minute.
    const b = newEngine(registry(), { tablePrefix: prefix, hostId: 'crash-host', leaseMs: 60_000 });
    b.start();
    try {
      expect(await b.waitForCompletion(instanceId, 30_000)).toMatchObject({ runtimeStatus: 'Completed', output: items.reduce((s, n) => s + n * n, 0) });
    } finally {
      await b.stop();
    }
    expect(calls.of(7)).toBe(2);
    for (const n of items.filter((n) => n !== 7)) expect(calls.of(n), `square(${n}) calls`).toBe(1);
    expectLinkedHistory(await b.getHistory(instanceId));
  });

  it('resumes after the engine process is SIGKILLed mid-run: activities recorded before the kill ran once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-orch-'));
    const callsFile = join(dir, 'calls.log');
    const prefix = tablePrefix();
    const items = Array.from({ length: 12 }, (_, i) => i + 1);
    // The child runs the same orchestrator (deterministic replay needs the same calls) with slow activities.
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', CHILD_ENGINE], {
      cwd: join(TEST_DIR, '..'),
      env: { ...process.env, ENGINE_MODULE: join(TEST_DIR, '../shared/orchestration/index.ts'), CS: connectionString(), PREFIX: prefix, CALLS_FILE: callsFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const calls = new Calls();
    const observer = newEngine(fanOutRegistry(calls, { count: 0 }), { tablePrefix: prefix });
    const { instanceId } = await observer.startNew('fanOut', { input: { items } });
    await until(
      `4 results recorded by the child (stderr: ${stderr})`,
      async () => ofType(await observer.getHistory(instanceId), EventType.TaskCompleted).length >= 4,
    );
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = await observer.getHistory(instanceId);
    const inputOf = new Map(ofType(before, EventType.TaskScheduled).map((e) => [e.EventId, JSON.parse(String(e.Input)) as number]));
    const recorded = ofType(before, EventType.TaskCompleted).map((e) => inputOf.get(Number(e.TaskScheduledId))!);
    expect((await observer.getStatus(instanceId))?.runtimeStatus).toBe('Running');

    const b = newEngine(fanOutRegistry(calls, { count: 0 }), { tablePrefix: prefix, hostId: 'sigkill-host', leaseMs: 60_000 });
    b.start();
    try {
      expect(await b.waitForCompletion(instanceId, 30_000)).toMatchObject({ runtimeStatus: 'Completed', output: items.reduce((s, n) => s + n * n, 0) });
    } finally {
      await b.stop();
    }
    const inChild = new Map<number, number>();
    for (const line of (await readFile(callsFile, 'utf8')).split('\n').filter(Boolean)) inChild.set(Number(line), (inChild.get(Number(line)) ?? 0) + 1);
    for (const n of recorded) expect((inChild.get(n) ?? 0) + calls.of(n), `square(${n}), recorded before the kill`).toBe(1);
    for (const n of items) expect((inChild.get(n) ?? 0) + calls.of(n), `square(${n}) ran`).toBeGreaterThanOrEqual(1);
    expect(calls.counts.size, 'the new engine ran what was left').toBeGreaterThan(0);
    expectLinkedHistory(await b.getHistory(instanceId));
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['afterAppend', 'afterCommit', 'afterOutbox'] as const)(
    'an episode that crashes %s is finished by the next engine, every activity once',
    async (point) => {
      const calls = new Calls();
      const prefix = tablePrefix();
      const items = [1, 2, 3, 4, 5, 6];
      let episodes = 0;
      // Engine A crashes in its first episode (the one scheduling every activity), engine B in the
      // first of its episodes that reaches the point; engine C has to finish from what they left.
      const crashOn = new Set([1, 2]);
      const fault = (at: string) => {
        if (at === point && crashOn.has(++episodes)) throw new Error(`simulated crash ${point}`);
      };
      const a = newEngine(fanOutRegistry(calls, { count: 0 }), { tablePrefix: prefix, hostId: `fault-${point}`, maxConcurrentActivities: 3, fault });
      const { instanceId } = await a.startNew('fanOut', { input: { items } });
      await expect(a.tick()).rejects.toThrow(`simulated crash ${point}`);
      a.halt();
      const b = newEngine(fanOutRegistry(calls, { count: 0 }), { tablePrefix: prefix, hostId: `fault-${point}`, maxConcurrentActivities: 3, fault });
      await expect(b.runPending()).rejects.toThrow(`simulated crash ${point}`);
      b.halt();
      const c = newEngine(fanOutRegistry(calls, { count: 0 }), { tablePrefix: prefix, hostId: `fault-${point}`, maxConcurrentActivities: 3 });
      await c.runPending();
      expect(await c.getStatus(instanceId)).toMatchObject({ runtimeStatus: 'Completed', output: 91 });
      for (const n of items) expect(calls.of(n), `square(${n}) calls`).toBe(1);
      const history = await c.getHistory(instanceId);
      expect(ofType(history, EventType.TaskScheduled)).toHaveLength(6);
      expectLinkedHistory(history);
    },
  );

  it('restarting a finished instance keeps an event raised for the new execution by a racing starter', async () => {
    const registry: OrchestrationRegistry = {
      orchestrators: {
        adder: function* (context) {
          const step: number = yield context.df.waitForExternalEvent('add');
          return (context.df.getInput() as number) + step;
        },
      },
      activities: {},
    };
    const engine = newEngine(registry);
    await engine.startNew('adder', { instanceId: 'restarted', input: 1 });
    await engine.raiseEvent('restarted', 'add', 1);
    engine.start();
    try {
      expect(await engine.waitForCompletion('restarted', 20_000)).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
    } finally {
      await engine.stop();
    }
    // Two starters race on the finished instance: one replaces it and raises its event on the new
    // execution; the other read the instance before that replace and restarts it too. The second
    // start is what reaches the engine here, with the first starter's event already queued.
    const queue = (engine as unknown as { queue: { send(m: object): Promise<void> } }).queue;
    await queue.send({ instanceId: 'restarted', kind: 'event', id: 'event!race', name: 'add', dueAt: 0, createdAt: Date.now(), payloadText: '40' });
    expect(await engine.startNew('adder', { instanceId: 'restarted', input: 2 })).toMatchObject({ created: true });
    engine.start();
    try {
      expect(await engine.waitForCompletion('restarted', 20_000)).toMatchObject({ runtimeStatus: 'Completed', output: 42 });
    } finally {
      await engine.stop();
    }
  });

  it('terminates a waiting instance, refuses events afterwards, purges it; running instances cannot be purged', async () => {
    const registry: OrchestrationRegistry = {
      orchestrators: {
        approval: function* (context) {
          context.df.setCustomStatus('waiting for approval');
          return yield context.df.waitForExternalEvent('approve');
        },
      },
      activities: {},
    };
    const engine = newEngine(registry, { payloads: openStore(azuriteUri(uniqueContainer('orch'))) });
    const { instanceId } = await engine.startNew('approval', { input: { request: 42 } });
    await engine.runPending();
    expect(await engine.getStatus(instanceId)).toMatchObject({ runtimeStatus: 'Running', customStatus: 'waiting for approval' });
    await engine.raiseEvent(instanceId, 'something-else', 1);
    await expect(engine.purge(instanceId)).rejects.toMatchObject({ statusCode: 409 });
    await engine.terminate(instanceId, 'operator said stop');
    await engine.runPending();
    expect(await engine.getStatus(instanceId)).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator said stop' });
    await expect(engine.raiseEvent(instanceId, 'approve', true)).rejects.toMatchObject({ statusCode: 410 });
    await expect(engine.terminate(instanceId, 'again')).rejects.toMatchObject({ statusCode: 410 });
    expect(ofType(await engine.getHistory(instanceId), EventType.ExecutionTerminated)).toHaveLength(1);

    expect(await engine.purge(instanceId)).toEqual({ instancesDeleted: 1 });
    expect(await engine.getStatus(instanceId)).toBeUndefined();
    expect(await engine.getHistory(instanceId)).toEqual([]);
    expect(await engine.purge(instanceId)).toEqual({ instancesDeleted: 0 });
    await expect(engine.raiseEvent(instanceId, 'approve')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('serves the Durable HTTP API routes with their status codes', async () => {
    const registry: OrchestrationRegistry = {
      orchestrators: {
        approval: function* (context) {
          return yield context.df.waitForExternalEvent('approve');
        },
      },
      activities: {},
    };
    const engine = newEngine(registry);
    const call = (method: string, path: string, query = '', body?: unknown) =>
      durableWebhook(engine, { method, path, query: new URLSearchParams(query), body, baseUrl: 'http://127.0.0.1:7071' });
    const started = await call('POST', 'orchestrators/approval/web-1', '', { amount: 5 });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      id: 'web-1',
      statusQueryGetUri: 'http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/web-1',
      sendEventPostUri: 'http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/web-1/raiseEvent/{eventName}',
    });
    expect((await call('POST', 'orchestrators/approval/web-1')).status).toBe(409);
    expect((await call('POST', 'orchestrators/nosuch')).status).toBe(400);
    await engine.runPending();
    const running = await call('GET', 'instances/web-1');
    expect(running).toMatchObject({
      status: 202,
      body: { runtimeStatus: 'Running', input: { amount: 5 } },
      headers: { Location: expect.stringContaining('/instances/web-1') },
    });
    expect((await call('POST', 'instances/web-1/raiseEvent/approve', '', { by: 'ana' })).status).toBe(202);
    await engine.runPending();
    const done = await call('GET', 'instances/web-1', 'showHistory=true&showHistoryOutput=true');
    expect(done).toMatchObject({ status: 200, body: { runtimeStatus: 'Completed', output: { by: 'ana' } } });
    expect((done.body as { historyEvents: { EventType: string }[] }).historyEvents.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'EventRaised',
      'ExecutionCompleted',
    ]);
    expect((await call('GET', 'instances', 'runtimeStatus=Completed')).body).toEqual([expect.objectContaining({ instanceId: 'web-1' })]);
    expect((await call('POST', 'instances/web-1/terminate', 'reason=late')).status).toBe(410);
    expect(await call('DELETE', 'instances/web-1')).toEqual({ status: 200, body: { instancesDeleted: 1 } });
    expect((await call('GET', 'instances/web-1')).status).toBe(404);
    expect((await call('POST', 'instances/web-1/raiseEvent/approve')).status).toBe(404);
  });

  it('fires a durable timer, buffers external events, keeps one instance per id and continues as new', async () => {
    const registry: OrchestrationRegistry = {
      orchestrators: {
        nap: function* (context) {
          const fireAt = new Date(context.df.currentUtcDateTime.getTime() + 250);
          yield context.df.createTimer(fireAt);
          return { fireAt: fireAt.toISOString(), after: context.df.currentUtcDateTime.toISOString() };
        },
        counter: function* (context) {
          const total = context.df.getInput() as number;
          const step: number = yield context.df.waitForExternalEvent('add');
          if (total + step >= 3) return total + step;
          context.df.continueAsNew(total + step);
          return undefined;
        },
      },
      activities: {},
    };
    const engine = newEngine(registry);
    const nap = await engine.startNew('nap');
    const counter = await engine.startNew('counter', { instanceId: 'the-counter', input: 0 });
    expect(await engine.startNew('counter', { instanceId: 'the-counter', input: 100 })).toEqual({
      instanceId: 'the-counter',
      created: false,
      runtimeStatus: 'Pending',
    });
    await expect(engine.startNew('counter', { instanceId: 'the-counter', ifRunning: 'throw' })).rejects.toMatchObject({ statusCode: 409 });
    // Raised before the instance waits (even before it starts): buffered, then delivered in order.
    await engine.raiseEvent(counter.instanceId, 'add', 1);
    engine.start();
    try {
      const napped = await engine.waitForCompletion(nap.instanceId, 20_000);
      const output = napped?.output as { fireAt: string; after: string };
      expect(napped?.runtimeStatus).toBe('Completed');
      expect(Date.parse(output.after)).toBeGreaterThanOrEqual(Date.parse(output.fireAt));
      const h = await engine.getHistory(nap.instanceId);
      const [created] = ofType(h, EventType.TimerCreated);
      expect(Date.parse(String(created.FireAt)) - Date.parse(created.Timestamp)).toBe(250);
      expect(ofType(h, EventType.TimerFired)[0]).toMatchObject({ TimerId: created.EventId, FireAt: created.FireAt });

      await until('the counter to continue as new', async () =>
        (await engine.getHistory('the-counter')).some((e) => e.EventType === EventType.ExecutionStarted && e.Input === '1'),
      );
      await engine.raiseEvent('the-counter', 'add', 1);
      await until('the second execution', async () =>
        (await engine.getHistory('the-counter')).some((e) => e.EventType === EventType.ExecutionStarted && e.Input === '2'),
      );
      await engine.raiseEvent('the-counter', 'add', 5);
      expect(await engine.waitForCompletion('the-counter', 20_000)).toMatchObject({ runtimeStatus: 'Completed', output: 7, input: 2 });
    } finally {
      await engine.stop();
    }
    // Only the last execution's history is kept.
    expect(ofType(await engine.getHistory('the-counter'), EventType.ExecutionStarted).map((e) => e.Input)).toEqual(['2']);
    // A finished id starts afresh.
    expect(await engine.startNew('counter', { instanceId: 'the-counter', input: 0 })).toMatchObject({ created: true });
    expect((await engine.getStatus('the-counter'))?.runtimeStatus).toBe('Pending');
  });

  it('stores payloads over the Table Storage limits in parts and in blobs', async () => {
    const payloads = openStore(azuriteUri(uniqueContainer('orch-payloads')));
    const registry: OrchestrationRegistry = {
      orchestrators: {
        big: function* (context) {
          const input = context.df.getInput() as string;
          const medium: string = yield context.df.callActivity('make', { ch: 'm', n: 100_000 });
          const large: string = yield context.df.callActivity('make', { ch: 'l', n: 700_000 });
          return `${input.length}:${medium.length}:${large}`;
        },
      },
      activities: { make: ({ ch, n }: { ch: string; n: number }) => ch.repeat(n) },
    };
    const engine = newEngine(registry, { payloads });
    const { instanceId } = await engine.startNew('big', { input: 'i'.repeat(200_000) });
    await engine.runPending();
    const status = await engine.getStatus(instanceId);
    expect(status?.runtimeStatus).toBe('Completed');
    expect(status?.output).toBe(`200000:100000:${'l'.repeat(700_000)}`);
    expect((status?.input as string).length).toBe(200_000);
    const blobs: string[] = [];
    for await (const info of payloads.list('')) blobs.push(info.path);
    expect(blobs.some((p) => p.endsWith('/output.json'))).toBe(true);
    expect(blobs.some((p) => /history-\d+\.json$/.test(p))).toBe(true);

    // Without a payload store the too-large result fails its task with a message naming the option.
    const withoutStore = newEngine(registry);
    const id2 = (await withoutStore.startNew('big', { input: 'i' })).instanceId;
    await withoutStore.runPending();
    const failed = await withoutStore.getStatus(id2);
    expect(failed?.runtimeStatus).toBe('Failed');
    expect(failed?.output).toMatch(/the result of activity 'make' \(task 1 of instance "\w+"\) is 700002 characters .*option "payloads"/);
  });

  it('fails an instance whose orchestrator schedules something else on replay, or calls an unknown activity', async () => {
    let runs = 0;
    const registry: OrchestrationRegistry = {
      orchestrators: {
        fickle: function* (context) {
          runs++;
          // Reads state outside the history: forbidden in orchestrators, caught on replay.
          yield context.df.callActivity(runs === 1 ? 'first' : 'second');
          return 'unreachable';
        },
        typo: function* (context) {
          return yield context.df.callActivityWithRetry('frist', new df.RetryOptions(10, 3));
        },
      },
      activities: { first: () => 1, second: () => 2 },
    };
    const engine = newEngine(registry);
    const { instanceId } = await engine.startNew('fickle');
    await engine.runPending();
    const status = await engine.getStatus(instanceId);
    expect(status?.runtimeStatus).toBe('Failed');
    expect(status?.output).toContain('Non-deterministic workflow detected: action 0 was activity:first when first scheduled and is now activity:second');

    const typo = await engine.startNew('typo');
    await engine.runPending();
    const failed = await engine.getStatus(typo.instanceId);
    expect(failed?.runtimeStatus).toBe('Failed');
    expect(failed?.output).toContain("The function 'frist' doesn't exist, is disabled, or is not an activity function (registered activities: first, second)");
    // Not retried: the other attempts are recorded as failed without running.
    expect(ofType(await engine.getHistory(typo.instanceId), EventType.TaskScheduled).filter((e) => e.Sluice?.skipped)).toHaveLength(2);
  });
});
