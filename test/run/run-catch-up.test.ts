/**
 * One instance per pipeline, and no request lost to another:
 * - DurableRunClient's contract with the `durable-functions` client, against a stand-in for the few
 *   DurableClient methods it calls (status, start, raise event) that behaves as the extension does
 *   with `overridableExistingInstanceStates: NonRunningStates`: a start of a running id is refused.
 *   Two triggers that both read "not running" give one start and one `catchUp` event.
 * - host.json sets that option.
 * - The gap of the event path is closed: an event raised as the run finishes (the extension drops
 *   it silently, the engine refuses it) ends in a new run started by the one who raised it, with
 *   the stand-in and on the local engine; a request's event that such a run dropped while another
 *   trigger started the next run is raised again on that run.
 * - Requests merge instead of the last one winning: the `catchUp` events raised during a run, through
 *   EngineRunClient as through the Durable client (the real orchestrator on the local engine,
 *   Azurite): a full refresh asked once survives later plain requests, table lists are united, and
 *   every reason and request id is carried.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { DurableClient } from 'durable-functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import {
  CATCH_UP_EVENT,
  DurableRunClient,
  EngineRunClient,
  mergeCatchUp,
  orchestrationRegistry,
  REFRESH_ORCHESTRATOR,
  type RefreshInput,
  type RunServices,
} from '../../shared/run';
import { openStore } from '../../shared/storage';
import type { OrchestrationEngine } from '../../shared/orchestration';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { ROOT, runEngine } from '../support/run-lake';

/** What the extension keeps of one instance, as far as the client sees it. */
interface FakeInstance {
  runtimeStatus: string;
  input: unknown;
  events: { name: string; data: unknown }[];
  customStatus?: unknown;
  createdTime?: Date;
}

/** The DurableClient methods DurableRunClient uses, over an in-memory instance table. */
function durableClientStandIn(
  instances: Map<string, FakeInstance>,
  hooks: { beforeStart?: () => void; onStatus?: (i: FakeInstance) => void } = {},
): DurableClient {
  const client = {
    async getStatus(instanceId: string) {
      // The hook may change the instance, or replace it, before this read sees it.
      const before = instances.get(instanceId);
      if (before) hooks.onStatus?.(before);
      const i = instances.get(instanceId);
      // durable-functions 3 throws for the extension's 404.
      if (!i) throw new Error('DurableClient error: Durable Functions extension replied with HTTP 404 response.');
      return {
        instanceId,
        name: REFRESH_ORCHESTRATOR,
        runtimeStatus: i.runtimeStatus,
        input: i.input,
        customStatus: i.customStatus ?? null,
        output: null,
        createdTime: i.createdTime ?? new Date(0),
        lastUpdatedTime: new Date(0),
      };
    },
    async startNew(name: string, options: { instanceId: string; input: unknown }) {
      hooks.beforeStart?.();
      const existing = instances.get(options.instanceId);
      // NonRunningStates: only a missing, completed, failed or terminated instance may be replaced.
      if (existing && ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'].includes(existing.runtimeStatus)) {
        throw new Error(
          `The operation failed with an unexpected status code: 400. Details: "An Orchestration instance with the ID '${options.instanceId}' already exists."`,
        );
      }
      instances.set(options.instanceId, { runtimeStatus: 'Pending', input: options.input, events: [] });
      return options.instanceId;
    },
    async raiseEvent(instanceId: string, name: string, data: unknown) {
      const i = instances.get(instanceId);
      if (!i) throw new Error(`No instance with ID '${instanceId}' found.`);
      // The extension answers 410 for a finished instance and the client returns as if delivered.
      if (['Completed', 'Failed', 'Terminated'].includes(i.runtimeStatus)) return;
      i.events.push({ name, data });
    },
  };
  return client as unknown as DurableClient;
}

describe('DurableRunClient (client contract)', () => {
  it('starts a pipeline that is not running, and makes a running one catch up', async () => {
    const instances = new Map<string, FakeInstance>();
    const runs = new DurableRunClient(durableClientStandIn(instances));
    expect(await runs.startRun({ pipeline: 'pos', reason: 'first', requests: ['r1'] })).toEqual({
      instanceId: 'refresh-pos',
      created: true,
      queued: false,
      runtimeStatus: 'Pending',
    });
    expect(instances.get('refresh-pos')?.input).toEqual({ pipeline: 'pos', reason: 'first', requests: ['r1'] });
    instances.get('refresh-pos')!.runtimeStatus = 'Running';
    expect(await runs.startRun({ pipeline: 'pos', fullRefresh: ['silver.sales'], reason: 'second', requests: ['r2'] })).toEqual({
      instanceId: 'refresh-pos',
      created: false,
      queued: true,
      runtimeStatus: 'Running',
    });
    expect(instances.get('refresh-pos')?.events).toEqual([
      { name: CATCH_UP_EVENT, data: { fullRefresh: ['silver.sales'], reason: 'second', requests: ['r2'] } },
    ]);
    // A finished instance is replaced by a new run.
    instances.get('refresh-pos')!.runtimeStatus = 'Completed';
    expect((await runs.startRun({ pipeline: 'pos' })).created).toBe(true);
  });

  it('two triggers that both saw it finished: one starts it, the refused one raises catchUp', async () => {
    const instances = new Map<string, FakeInstance>([['refresh-pos', { runtimeStatus: 'Completed', input: {}, events: [] }]]);
    const runs = new DurableRunClient(durableClientStandIn(instances));
    // Both read "Completed" before either starts: the interleaving that let both overwrite the id.
    const statuses = await Promise.all([runs.status('refresh-pos'), runs.status('refresh-pos')]);
    expect(statuses.map((s) => s?.runtimeStatus)).toEqual(['Completed', 'Completed']);
    const starts = await Promise.all([runs.startRun({ pipeline: 'pos', reason: 'a' }), runs.startRun({ pipeline: 'pos', reason: 'b' })]);
    expect(starts.map((s) => [s.created, s.queued])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(instances.get('refresh-pos')?.input).toMatchObject({ reason: 'a' });
    expect(instances.get('refresh-pos')?.events).toEqual([{ name: CATCH_UP_EVENT, data: { fullRefresh: false, reason: 'b' } }]);
  });

  it("an event raised at the run's last look, which it ends without reading, ends in a new run started by the raiser", async () => {
    const instances = new Map<string, FakeInstance>([
      ['refresh-pos', { runtimeStatus: 'Running', input: { pipeline: 'pos', reason: 'first' }, events: [], customStatus: { stage: 'catching-up' } }],
    ]);
    let reads = 0;
    // The run has looked at its events already: two reads later it has completed, the event unread.
    const onStatus = (i: FakeInstance) => {
      if (++reads === 3 && i.runtimeStatus === 'Running') Object.assign(i, { runtimeStatus: 'Completed', customStatus: { stage: 'completed' } });
    };
    const runs = new DurableRunClient(durableClientStandIn(instances, { onStatus }));
    const start = await runs.startRun({ pipeline: 'pos', reason: 'late', requests: ['r9'] });
    expect(start).toEqual({ instanceId: 'refresh-pos', created: true, queued: false, runtimeStatus: 'Pending' });
    expect(instances.get('refresh-pos')?.input).toEqual({ pipeline: 'pos', reason: 'late', requests: ['r9'] });

    // Raised on a finished instance (the client's 410 passes silently): the raiser starts the run too.
    instances.set('refresh-pos', { runtimeStatus: 'Running', input: { pipeline: 'pos' }, events: [], customStatus: { stage: 'completed' } });
    reads = 0;
    expect((await runs.startRun({ pipeline: 'pos', reason: 'later' })).created).toBe(true);

    // A run still refreshing takes the event at its last look: no wait, no second run.
    instances.set('refresh-pos', { runtimeStatus: 'Running', input: { pipeline: 'pos' }, events: [], customStatus: { stage: 'refreshing' } });
    reads = 10;
    expect(await runs.startRun({ pipeline: 'pos', reason: 'during' })).toMatchObject({ created: false, queued: true });
    expect(instances.get('refresh-pos')?.events).toHaveLength(1);
  });

  it("a request's event dropped by a run at its last look is raised again on the run another trigger started meanwhile", async () => {
    const first = {
      runtimeStatus: 'Running',
      input: { pipeline: 'pos' },
      events: [],
      customStatus: { stage: 'catching-up', runId: 'r@1' },
      createdTime: new Date(1),
    };
    const instances = new Map<string, FakeInstance>([['refresh-pos', first]]);
    // Between two reads of the raiser: the run ends without reading the event and a bronze trigger starts the next one.
    const onStatus = (i: FakeInstance) => {
      if (i === first && first.events.length === 1) {
        first.runtimeStatus = 'Completed';
        instances.set('refresh-pos', {
          runtimeStatus: 'Pending',
          input: { pipeline: 'pos', reason: 'bronze a version 7' },
          events: [],
          createdTime: new Date(2),
        });
      }
    };
    const runs = new DurableRunClient(durableClientStandIn(instances, { onStatus }));
    const start = await runs.startRun({ pipeline: 'pos', reason: 'asked', requests: ['r7'] });
    expect(start).toMatchObject({ created: false, queued: true });
    // The next run has the request's event, so its continuation serves the request.
    expect(instances.get('refresh-pos')?.events).toEqual([{ name: CATCH_UP_EVENT, data: { fullRefresh: false, reason: 'asked', requests: ['r7'] } }]);

    // Raised on a run before its last look, which goes on to its next stage: taken, raised once.
    const second = {
      runtimeStatus: 'Running',
      input: { pipeline: 'pos' },
      events: [],
      customStatus: { stage: 'refreshing', runId: 'r@3' },
      createdTime: new Date(3),
    };
    instances.set('refresh-pos', second);
    expect(await runs.startRun({ pipeline: 'pos', reason: 'during', requests: ['r8'] })).toMatchObject({ created: false, queued: true });
    expect(second.events).toHaveLength(1);
  });

  it('a start refused although nothing runs is an error, not a silent catch-up', async () => {
    const instances = new Map<string, FakeInstance>();
    const refusing = durableClientStandIn(instances, {
      beforeStart: () => {
        throw new Error('The operation failed with an unexpected status code: 500. Details: "storage unavailable"');
      },
    });
    await expect(new DurableRunClient(refusing).startRun({ pipeline: 'pos' })).rejects.toThrow(/status code: 500/);
    expect(instances.size).toBe(0);
  });

  it('host.json lets the extension replace only a finished instance', () => {
    const host = JSON.parse(readFileSync(nodePath.join(ROOT, 'host.json'), 'utf8'));
    expect(host.extensions.durableTask.overridableExistingInstanceStates).toBe('NonRunningStates');
  });
});

describe('merged requests', () => {
  let definition: PipelineDefinition;
  let services: RunServices;
  beforeAll(() => {
    definition = parsePipelineDefinition(
      'name: merge\nsources:\n  a:\n    landing: a/\n  b:\n    landing: b/\ntables:\n  silver.a:\n    from: a\n    sql: SELECT * FROM source\n  silver.b:\n    from: b\n    sql: SELECT * FROM source\n',
      'merge.yaml',
    );
    const container = uniqueContainer('merge-lake');
    services = {
      pipelines: () => [definition],
      lake: (path) => openStore(azuriteUri(container, path)),
      events: null,
      sql: { memoryLimit: '256MB', threads: 1 },
    };
  });

  async function finished(engine: OrchestrationEngine, instanceId: string, timeoutMs = 60_000) {
    engine.start();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await engine.getStatus(instanceId);
        if ((status && ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) || Date.now() > deadline) return status;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await engine.stop();
    }
  }

  it('merges fullRefresh (true wins, lists united), reasons and request ids', () => {
    expect(mergeCatchUp({ fullRefresh: ['silver.a'], reason: 'x', requests: ['1'] }, { fullRefresh: false, reason: 'y', requests: ['2'] })).toEqual({
      fullRefresh: ['silver.a'],
      reason: 'x; y',
      requests: ['1', '2'],
    });
    expect(mergeCatchUp({ fullRefresh: ['silver.a'] }, { fullRefresh: ['silver.b', 'silver.a'] }).fullRefresh).toEqual(['silver.a', 'silver.b']);
    expect(mergeCatchUp({ fullRefresh: true }, { fullRefresh: ['silver.b'] }).fullRefresh).toBe(true);
    expect(mergeCatchUp({ fullRefresh: false, reason: 'x' }, { reason: 'x' })).toEqual({ fullRefresh: false, reason: 'x' });
    const many = Array.from({ length: 20 }, (_, i) => `r${i}`).reduce<{ reason?: string }>((m, r) => mergeCatchUp(m, { reason: r }), {});
    expect(many.reason!.split('; ')).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', '…', 'r19']);
  });

  it('local engine: triggers during a run raise catchUp events, merged into one continuation, so a full refresh asked is not replaced', async () => {
    const engine = runEngine(orchestrationRegistry(services));
    const runs = new EngineRunClient(engine);
    expect((await runs.startRun({ pipeline: 'merge', reason: 'running', requests: ['r0'] })).created).toBe(true);
    // Three triggers while it runs, concurrently: a full refresh of one table, of everything, a plain one.
    const caughtUp = await Promise.all([
      runs.startRun({ pipeline: 'merge', fullRefresh: ['silver.a'], reason: 'rebuild a', requests: ['r1'] }),
      runs.startRun({ pipeline: 'merge', fullRefresh: true, reason: 'rebuild all', requests: ['r2'] }),
      runs.startRun({ pipeline: 'merge', reason: 'bronze a version 3', requests: ['r3'] }),
    ]);
    expect(caughtUp.every((q) => q.queued && !q.created)).toBe(true);
    await engine.runPending();
    const next = await engine.getStatus('refresh-merge');
    expect(next?.runtimeStatus).toBe('Completed');
    const input = next?.input as RefreshInput;
    expect(input.fullRefresh).toBe(true);
    expect([...input.requests!].sort()).toEqual(['r1', 'r2', 'r3']);
    expect(input.reason!.split('; ').sort()).toEqual(['bronze a version 3', 'rebuild a', 'rebuild all']);

    // A list and a plain request: the list survives.
    await runs.startRun({ pipeline: 'merge', reason: 'go' });
    await runs.startRun({ pipeline: 'merge', fullRefresh: ['silver.b'], reason: 'rebuild b', requests: ['r4'] });
    await runs.startRun({ pipeline: 'merge', reason: 'plain', requests: ['r5'] });
    await engine.runPending();
    expect((await engine.getStatus('refresh-merge'))?.input).toMatchObject({ fullRefresh: ['silver.b'], reason: 'rebuild b; plain', requests: ['r4', 'r5'] });
  });

  it('raised directly: every catchUp event buffered during the run is merged into the one continuation', async () => {
    const engine = runEngine(orchestrationRegistry(services));
    await engine.startNew(REFRESH_ORCHESTRATOR, { instanceId: 'refresh-merge', input: { pipeline: 'merge', reason: 'first' } satisfies RefreshInput });
    await engine.tick();
    await engine.raiseEvent('refresh-merge', CATCH_UP_EVENT, { fullRefresh: ['silver.a'], reason: 'rebuild a', requests: ['r1'] });
    await engine.raiseEvent('refresh-merge', CATCH_UP_EVENT, { fullRefresh: false, reason: 'bronze b version 2', requests: ['r2'] });
    await engine.raiseEvent('refresh-merge', CATCH_UP_EVENT, { fullRefresh: ['silver.b'], reason: 'rebuild b', requests: ['r3'] });
    const status = await finished(engine, 'refresh-merge');
    expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
    // One continuation served all three; it then found no further event and completed.
    expect(status?.input).toEqual({
      pipeline: 'merge',
      fullRefresh: ['silver.a', 'silver.b'],
      reason: 'rebuild a; bronze b version 2; rebuild b',
      requests: ['r1', 'r2', 'r3'],
    });
  });

  it('local engine: an event raised as the run finishes, which the engine refuses, ends in a new run of the request', async () => {
    const engine = runEngine(orchestrationRegistry(services));
    let raised = 0;
    // The run reaches its end between the starter's status read and its raise.
    const racing = new Proxy(engine, {
      get(target, property) {
        if (property === 'raiseEvent') {
          return async (...args: Parameters<OrchestrationEngine['raiseEvent']>) => {
            raised++;
            await target.runPending();
            return target.raiseEvent(...args);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const runs = new EngineRunClient(racing);
    expect((await runs.startRun({ pipeline: 'merge', reason: 'first', requests: ['r0'] })).created).toBe(true);
    await engine.tick();
    expect((await engine.getStatus('refresh-merge'))?.runtimeStatus).toBe('Running');
    const late = await runs.startRun({ pipeline: 'merge', fullRefresh: ['silver.b'], reason: 'late', requests: ['r1'] });
    expect(raised).toBe(1);
    expect(late).toMatchObject({ created: true, queued: false });
    const status = await finished(engine, 'refresh-merge');
    expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
    expect(status?.input).toEqual({ pipeline: 'merge', fullRefresh: ['silver.b'], reason: 'late', requests: ['r1'] });
  });
});
