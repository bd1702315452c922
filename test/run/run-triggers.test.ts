/**
 * What starts a run without a person, called the way the host calls it — the handlers of FUNCTIONS
 * with an InvocationContext and a RunClient over the local engine — on Azurite, through the real
 * runtime (settings and a definition file):
 * - an Event Hubs batch that lands rows starts the afterBronze run; a start that fails is logged and
 *   the batch still succeeds (the trigger's retries are unbounded: a failing start must not stall
 *   the partition);
 * - the every-minute `pipelineSchedule` timer sweeps: a bronze commit whose trigger was lost is
 *   picked up by one tick, and once a run applied it the next tick starts nothing;
 * - scheduled pipelines: the window is `(scheduleStatus.last, tick]`, bounded to a day, and one
 *   pipeline whose start fails does not keep the others from starting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { InvocationContext, type Timer } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/definitions';
import { loadSnapshot } from '../../shared/delta';
import { parsePipelineDefinition, type PipelineDefinition } from '../../shared/pipeline';
import type { LakeTables } from '../../shared/refresh';
import {
  duePipelines,
  EngineRunClient,
  orchestrationRegistry,
  ScheduledStartError,
  scheduleSince,
  startScheduledRuns,
  type RefreshOutput,
  type RunClient,
  type RunServices,
} from '../../shared/run';
import { openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { connectionString, runEngine, sortedRows } from '../support/run-lake';

const PIPELINE = `
name: trig
sources:
  readings:
    eventHub: telemetry
  sales:
    landing: sales/
    format: csv
    schemaHints: { sku: string, qty: int }
tables:
  silver.readings:
    from: readings
    sql: SELECT device, reading FROM source
  silver.sales:
    from: sales
    sql: SELECT sku, qty FROM source
`;

const lakeContainer = uniqueContainer('trig-lake');
const landingContainer = uniqueContainer('trig-landing');
const lake: LakeTables = (path) => openStore(azuriteUri(lakeContainer, path));
let definition: PipelineDefinition;
let services: RunServices;

type Handler = (input: unknown, context: InvocationContext, runs?: RunClient) => Promise<unknown>;

function handler(name: string): Handler {
  const f = FUNCTIONS.find((d) => d.name === name);
  if (!f) throw new Error(`no function ${name}`);
  return f.handler as Handler;
}

function invocation(
  name: string,
  extra: ConstructorParameters<typeof InvocationContext>[0] = {},
): { context: InvocationContext; logs: { level: string; text: string }[] } {
  const logs: { level: string; text: string }[] = [];
  const context = new InvocationContext({
    functionName: name,
    invocationId: `test-${name}`,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
    ...extra,
  });
  return { context, logs };
}

/** Trigger metadata of one partition's batch, as the host sends it. */
function hubMetadata(first: number, n: number): Record<string, unknown> {
  const seq = Array.from({ length: n }, (_, i) => first + i);
  return {
    partitionContext: { fullyQualifiedNamespace: 'evhns-test.servicebus.windows.net', eventHubName: 'telemetry', consumerGroup: '$Default', partitionId: '0' },
    sequenceNumberArray: seq,
    offsetArray: seq.map((s) => String(s * 100)),
    enqueuedTimeUtcArray: seq.map(() => '2026-03-01T10:00:00Z'),
    partitionKeyArray: seq.map(() => null),
    propertiesArray: seq.map(() => ({})),
    systemPropertiesArray: seq.map((s) => ({ sequenceNumber: s, offset: String(s * 100) })),
  };
}

function timer(last: string): Timer {
  return { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last, next: '', lastUpdated: '' } };
}

async function tableVersion(path: string): Promise<number> {
  return (await loadSnapshot(lake(path))).version;
}

beforeAll(() => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-trig-'));
  const file = nodePath.join(dir, 'trig.yaml');
  writeFileSync(file, PIPELINE);
  Object.assign(process.env, {
    SLUICE_LAKE: connectionString(),
    SLUICE_LAKE_CONTAINER: lakeContainer,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: file,
    SLUICE_EVENTHUB: 'Endpoint=sb://evhns-test.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=bm90LWEta2V5',
    SLUICE_EVENTHUB_NAME: 'telemetry',
  });
  definition = parsePipelineDefinition(PIPELINE, 'trig.yaml');
  services = { pipelines: () => [definition], lake, events: null, sql: { memoryLimit: '256MB', threads: 1 } };
});

describe('eventHubIngest starts the afterBronze run', () => {
  it('starts the run after a batch that wrote rows; a start that fails is logged and the batch still succeeds', async () => {
    const engine = runEngine(orchestrationRegistry(services));
    const runs = new EngineRunClient(engine);
    const first = invocation('eventHubIngest', { triggerMetadata: hubMetadata(10, 3) });
    await handler('eventHubIngest')(
      [10, 11, 12].map((r) => ({ device: 'd1', reading: r })),
      first.context,
      runs,
    );
    const text = first.logs.map((l) => l.text).join('\n');
    expect(text).toMatch(/committed \(version 1\): 3 events/);
    expect(text).toMatch(/eventHubIngest: refresh refresh-trig started for readings version 1/);
    const status = await engine.getStatus('refresh-trig');
    expect(status?.input).toMatchObject({ pipeline: 'trig', reason: 'bronze readings version 1' });
    await engine.runPending();
    expect((await sortedRows(lake, 'silver/readings')).map((r) => r.reading)).toEqual([10, 11, 12]);

    // A run client whose start always fails (no refresh orchestrator registered): logged, not thrown.
    const broken = new EngineRunClient(runEngine({ orchestrators: {}, activities: {} }));
    const second = invocation('eventHubIngest', { triggerMetadata: hubMetadata(13, 2) });
    await expect(
      handler('eventHubIngest')(
        [13, 14].map((r) => ({ device: 'd1', reading: r })),
        second.context,
        broken,
      ),
    ).resolves.toBeUndefined();
    const errors = second.logs
      .filter((l) => l.level === 'error')
      .map((l) => l.text)
      .join('\n');
    expect(errors).toMatch(/the refresh after readings version 2 could not be started: .*no orchestrator function named 'refresh'/);
    expect(second.logs.some((l) => l.level === 'warning' && /the batch is in bronze/.test(l.text))).toBe(true);
    expect(await tableVersion('bronze/readings')).toBe(2);
  });
});

describe('pipelineSchedule sweeps for bronze versions no run applied', () => {
  it('a bronze commit whose trigger was lost is picked up by one tick; the next tick starts nothing', async () => {
    const landing = openStore(azuriteUri(landingContainer));
    const info = await landing.write('sales/day1.csv', 'sku,qty\nA,1\nB,2\nC,3\n');
    // The BlobCreated delivery that lands it has no run client: its start is lost.
    const lost = invocation('blobCreated');
    await handler('blobCreated')(
      {
        subject: `/blobServices/default/containers/${landingContainer}/blobs/sales/day1.csv`,
        eventType: 'Microsoft.Storage.BlobCreated',
        id: 'e1',
        data: { api: 'PutBlob', eTag: info.etag, url: azuriteUri(landingContainer, 'sales/day1.csv') },
      },
      lost.context,
    );
    expect(lost.logs.map((l) => l.text).join('\n')).toMatch(/committed \(version 1\): 3 rows read/);
    const engine = runEngine(orchestrationRegistry(services));
    const runs = new EngineRunClient(engine);
    const tick = invocation('pipelineSchedule');
    await handler('pipelineSchedule')(timer(''), tick.context, runs);
    expect(tick.logs.map((l) => l.text).join('\n')).toMatch(
      /pipelineSchedule: trig: run refresh-trig started for bronze versions no run applied: .*sales version 1/,
    );
    const started = await engine.getStatus('refresh-trig');
    expect(started?.input).toMatchObject({ pipeline: 'trig', reason: expect.stringMatching(/^sweep: .*bronze sales version 1 not applied by silver\.sales/) });
    await engine.runPending();
    const done = await engine.getStatus('refresh-trig');
    expect(done?.runtimeStatus).toBe('Completed');
    expect((done?.output as RefreshOutput).tables.find((m) => m.table === 'silver.sales')).toMatchObject({ status: 'updated', inserted: 3 });
    expect((await sortedRows(lake, 'silver/sales')).map((r) => r.sku)).toEqual(['A', 'B', 'C']);

    const next = invocation('pipelineSchedule');
    await handler('pipelineSchedule')(timer(''), next.context, runs);
    expect(next.logs.filter((l) => /no run applied/.test(l.text))).toEqual([]);
    expect((await engine.getStatus('refresh-trig'))?.createdTime).toBe(done?.createdTime);
  });
});

describe('a redelivered BlobCreated event', () => {
  it('starts the run a failed start lost, and no run for a version already applied', async () => {
    const landing = openStore(azuriteUri(landingContainer));
    const info = await landing.write('sales/redelivered.csv', 'sku,qty\nR1,7\nR2,8\n');
    const event = {
      subject: `/blobServices/default/containers/${landingContainer}/blobs/sales/redelivered.csv`,
      eventType: 'Microsoft.Storage.BlobCreated',
      id: 'e-r',
      data: { api: 'PutBlob', eTag: info.etag, url: azuriteUri(landingContainer, 'sales/redelivered.csv') },
    };
    // The first delivery lands the file, but its start fails (no refresh orchestrator): rethrown, so Event Grid delivers again.
    const broken = new EngineRunClient(runEngine({ orchestrators: {}, activities: {} }));
    await expect(handler('blobCreated')(event, invocation('blobCreated').context, broken)).rejects.toThrow(/no orchestrator function named 'refresh'/);
    const version = await tableVersion('bronze/sales');

    const engine = runEngine(orchestrationRegistry(services));
    const runs = new EngineRunClient(engine);
    const again = invocation('blobCreated');
    await handler('blobCreated')(event, again.context, runs);
    const text = again.logs.map((l) => l.text).join('\n');
    expect(text).toMatch(/already ingested/);
    expect(text).toMatch(new RegExp(`refresh refresh-trig started for sales version ${version}`));
    await engine.runPending();
    const done = await engine.getStatus('refresh-trig');
    expect(done?.runtimeStatus).toBe('Completed');
    expect((await sortedRows(lake, 'silver/sales')).map((r) => r.sku)).toContain('R2');

    // Once more, long after the run applied it: nothing to do, no run.
    const late = invocation('blobCreated');
    await handler('blobCreated')(event, late.context, runs);
    expect(late.logs.map((l) => l.text).join('\n')).toMatch(new RegExp(`version ${version} of sales is already applied or seen by a run; no run started`));
    expect(late.logs.filter((l) => /refresh refresh-trig (started|asked to catch up)/.test(l.text))).toEqual([]);
    expect((await engine.getStatus('refresh-trig'))?.createdTime).toBe(done?.createdTime);
  });
});

describe('scheduled pipelines', () => {
  const scheduled = (name: string, schedule: string) =>
    parsePipelineDefinition(`name: ${name}\nschedule: "${schedule}"\nsources:\n  s:\n    landing: ${name}/\n`, `${name}.yaml`);

  it('runs every occurrence since the timer last fired, at most a day back; a first tick looks back one minute', () => {
    const tick = new Date('2026-03-02T10:16:00Z');
    const hourly = scheduled('hourly', '0 5 * * * *');
    // The host was down from 09:58 to 10:16: the 10:05 occurrence is caught up, once.
    expect(duePipelines([hourly], tick, scheduleSince('2026-03-02T09:58:00Z', tick))).toEqual(['hourly']);
    expect(duePipelines([hourly], new Date('2026-03-02T10:17:00Z'), scheduleSince('2026-03-02T10:16:00Z', new Date('2026-03-02T10:17:00Z')))).toEqual([]);
    // Without a recorded occurrence (1970 from the local host, year 1 from Azure): one minute.
    expect(duePipelines([hourly], tick, scheduleSince(new Date(0).toISOString(), tick))).toEqual([]);
    expect(duePipelines([hourly], tick, scheduleSince('0001-01-01T00:00:00', tick))).toEqual([]);
    expect(scheduleSince(undefined, tick).toISOString()).toBe('2026-03-02T10:15:00.000Z');
    // Down for a week: one day back.
    expect(scheduleSince('2026-02-23T10:16:00Z', tick).toISOString()).toBe('2026-03-01T10:16:00.000Z');
    expect(duePipelines([scheduled('weekly', '0 0 9 * * MON')], tick, scheduleSince('2026-02-23T10:16:00Z', tick))).toEqual(['weekly']);
    expect(duePipelines([scheduled('weekly', '0 0 9 * * MON')], tick, scheduleSince('2026-03-02T10:00:00Z', tick))).toEqual([]);
  });

  it('tries every due pipeline and names the ones that could not start', async () => {
    const engine = runEngine(orchestrationRegistry(services));
    const real = new EngineRunClient(engine);
    // Starting `first` fails (say its instance's storage refused); `second` must still start.
    const runs: RunClient = Object.assign(Object.create(real) as RunClient, {
      startRun: async (input: { pipeline: string }) => {
        if (input.pipeline === 'first') throw new Error('storage said no');
        return real.startRun(input);
      },
    });
    const pipelines = [scheduled('first', '0 */5 * * * *'), scheduled('second', '0 */5 * * * *')];
    const tick = new Date('2026-03-02T10:15:00Z');
    const error = await startScheduledRuns(pipelines, runs, tick).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScheduledStartError);
    expect((error as ScheduledStartError).message).toMatch(/could not start 1 scheduled pipeline: first: storage said no/);
    expect((error as ScheduledStartError).started.map((s) => s.pipeline)).toEqual(['second']);
    expect((await engine.getStatus('refresh-second'))?.input).toMatchObject({ pipeline: 'second', reason: 'schedule at 2026-03-02T10:15:00.000Z' });
    expect(await engine.getStatus('refresh-first')).toBeUndefined();
  });
});
