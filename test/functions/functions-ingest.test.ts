/**
 * The ingestion functions called the way the host calls them — the handlers of FUNCTIONS with an
 * InvocationContext and real payloads — on Azurite, with the settings and a pipeline definition file
 * read through the real runtime: BlobCreated events (Event Grid and CloudEvents schema, duplicates,
 * other containers, unrouted folders), an Event Hubs batch with its trigger metadata arrays, and the
 * reconcile timer catching a file whose event never came. Then functions/index.ts is loaded in a child
 * process under a stand-in for the Functions worker's core API, so what it registers is what the
 * real @azure/functions library would send to the host.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { InvocationContext, Timer } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../shared/config';
import { batchToRows, loadSnapshot, scanTable } from '../../shared/delta';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { checkRefreshSettings, createRuntime, loadPipelines, readIngestTriggerSettings } from '../../shared/host';
import type { JsonValue } from '../../shared/delta/rows';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';
// Settings and pipelines are read on the first handler call, after beforeAll has set them.
import { FUNCTIONS } from '../../functions/definitions';
import { registerUnderStandInHost } from '../support/functions-host';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const root = nodePath.resolve(TEST_DIR, '..');
const landingContainer = uniqueContainer('fn-landing');
const lakeContainer = uniqueContainer('fn-lake');
const PIPELINE = `
name: fn-test
sources:
  sales:
    landing: pos/sales/
    format: csv
    schemaHints: { sku: string, qty: int }
  telemetry:
    eventHub: telemetry
`;

let pipelineFile = '';
let landing: ObjectStore;
const env: Record<string, string> = {};

/** A log line the handler wrote. */
interface Logged {
  level: string;
  text: string;
}

function context(name: string, extra: ConstructorParameters<typeof InvocationContext>[0] = {}): { context: InvocationContext; logs: Logged[] } {
  const logs: Logged[] = [];
  const ctx = new InvocationContext({
    functionName: name,
    invocationId: `test-${name}`,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
    ...extra,
  });
  return { context: ctx, logs };
}

function handler(name: string): (input: unknown, context: InvocationContext) => Promise<unknown> {
  const definition = FUNCTIONS.find((f) => f.name === name);
  if (!definition) throw new Error(`no function ${name} in FUNCTIONS`);
  return definition.handler as (input: unknown, context: InvocationContext) => Promise<unknown>;
}

/** A BlobCreated event as Event Grid delivers it (Event Grid schema). */
function blobCreated(container: string, path: string, etag: string, api = 'PutBlob'): Record<string, unknown> {
  return {
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sluice/providers/Microsoft.Storage/storageAccounts/stlaketest',
    subject: `/blobServices/default/containers/${container}/blobs/${path}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    id: `evt-${path}-${etag}`,
    eventTime: '2026-01-31T10:00:00.0000000Z',
    data: {
      api,
      clientRequestId: '6d79dbfb-0e37-4fc4-981f-442c9ca65760',
      requestId: '831e1650-001e-001b-66ab-eeb76e000000',
      eTag: etag,
      contentType: 'text/csv',
      contentLength: 100,
      blobType: 'BlockBlob',
      url: `https://stlaketest.blob.core.windows.net/${container}/${path.split('/').map(encodeURIComponent).join('/')}`,
      sequencer: '00000000000004420000000000028963',
      storageDiagnostics: { batchId: 'b68529f3-68cd-4744-baa4-3c0498ec19f0' },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

async function rows(tablePath: string): Promise<Record<string, JsonValue>[]> {
  const snapshot = await loadSnapshot(openStore(azuriteUri(lakeContainer, tablePath)));
  const out: Record<string, JsonValue>[] = [];
  for await (const batch of scanTable(snapshot)) {
    for (const row of batchToRows(batch, snapshot.schema)) {
      for (const [k, v] of Object.entries(row)) if (typeof v === 'bigint') row[k] = Number(v);
      out.push(row);
    }
  }
  return out;
}

async function tableVersion(tablePath: string): Promise<number> {
  return (await loadSnapshot(openStore(azuriteUri(lakeContainer, tablePath)))).version;
}

function csv(prefix: string, n: number): string {
  return ['sku,store,qty', ...Array.from({ length: n }, (_, i) => `00${i}${prefix},S${i % 3},${i + 1}`)].join('\r\n') + '\r\n';
}

beforeAll(() => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-fn-'));
  pipelineFile = nodePath.join(dir, 'test.yaml');
  writeFileSync(pipelineFile, PIPELINE);
  Object.assign(env, {
    SLUICE_LAKE: process.env.SLUICE_STORAGE_CONNECTION_STRING!,
    SLUICE_LAKE_CONTAINER: lakeContainer,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: pipelineFile,
    SLUICE_EVENTHUB: 'Endpoint=sb://evhns-test.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=bm90LWEta2V5',
    SLUICE_EVENTHUB_NAME: 'telemetry',
    SLUICE_EVENTHUB_CONSUMER_GROUP: 'sluice',
  });
  Object.assign(process.env, env);
  landing = openStore(azuriteUri(landingContainer));
});

describe('blobCreated (Event Grid trigger)', () => {
  it('lands the rows of a CSV dropped in the landing container, once however often the event comes', async () => {
    const info = await landing.write('pos/sales/day1.csv', csv('a', 5));
    const first = context('blobCreated');
    await handler('blobCreated')(blobCreated(landingContainer, 'pos/sales/day1.csv', info.etag), first.context);
    expect(first.logs.map((l) => l.text).join('\n')).toMatch(/pos\/sales\/day1\.csv .*committed \(version \d+\): 5 rows read, 5 written/);
    const landed = await rows('bronze/sales');
    expect(landed.map((r) => r.sku).sort()).toEqual(['000a', '001a', '002a', '003a', '004a']);
    expect(landed.every((r) => r._source_file === 'pos/sales/day1.csv' && typeof r._source_etag === 'string')).toBe(true);
    expect(landed.map((r) => r.qty).sort()).toEqual([1, 2, 3, 4, 5]);
    const version = await tableVersion('bronze/sales');

    // Event Grid delivers at least once: the same event again, and once more as a CloudEvent naming
    // the blob only by its URL.
    const again = context('blobCreated');
    await handler('blobCreated')(blobCreated(landingContainer, 'pos/sales/day1.csv', info.etag), again.context);
    expect(again.logs.map((l) => l.text).join('\n')).toMatch(/already ingested/);
    const cloud = blobCreated(landingContainer, 'pos/sales/day1.csv', info.etag);
    const cloudEvent = { specversion: '1.0', type: cloud.eventType, source: cloud.topic, id: 'cloud-1', time: cloud.eventTime, data: cloud.data };
    await handler('blobCreated')(cloudEvent, context('blobCreated').context);
    expect(await tableVersion('bronze/sales')).toBe(version);
    expect(await rows('bronze/sales')).toHaveLength(5);
  });

  it('ingests a CloudEvents-schema event and a file with spaces in its name', async () => {
    const path = 'pos/sales/store 7/day 2.csv';
    const info = await landing.write(path, csv('b', 3));
    const event = blobCreated(landingContainer, path, info.etag);
    const cloudEvent = {
      specversion: '1.0',
      type: event.eventType,
      source: event.topic,
      subject: event.subject,
      id: 'cloud-2',
      time: event.eventTime,
      data: event.data,
    };
    const { context: ctx, logs } = context('blobCreated');
    await handler('blobCreated')(cloudEvent, ctx);
    expect(logs.map((l) => l.text).join('\n')).toMatch(/committed/);
    expect((await rows('bronze/sales')).filter((r) => r._source_file === path)).toHaveLength(3);
  });

  it('ignores other containers, unrouted folders, other event types and empty DFS CreateFile events', async () => {
    const before = await tableVersion('bronze/sales');
    const other = openStore(azuriteUri(lakeContainer));
    const elsewhere = await other.write('pos/sales/not-landing.csv', csv('x', 2));
    const unrouted = await landing.write('hr/people.csv', csv('y', 2));
    const created = await landing.write('pos/sales/dfs.csv', csv('z', 2));
    const cases: [Record<string, unknown>, RegExp][] = [
      [blobCreated(lakeContainer, 'pos/sales/not-landing.csv', elsewhere.etag), /not in the landing container/],
      [blobCreated(landingContainer, 'hr/people.csv', unrouted.etag), /no source .* holding hr\/people\.csv/],
      [{ ...blobCreated(landingContainer, 'pos/sales/day1.csv', 'x'), eventType: 'Microsoft.Storage.BlobDeleted' }, /is not Microsoft\.Storage\.BlobCreated/],
      [blobCreated(landingContainer, 'pos/sales/dfs.csv', created.etag, 'CreateFile'), /CreateFile creates an empty file/],
    ];
    for (const [event, reason] of cases) {
      const { context: ctx, logs } = context('blobCreated');
      await handler('blobCreated')(event, ctx);
      expect(logs.map((l) => l.text).join('\n')).toMatch(reason);
      expect(logs.map((l) => l.text).join('\n')).toMatch(/ignored/);
    }
    expect(await tableVersion('bronze/sales')).toBe(before);
    expect((await rows('bronze/sales')).some((r) => ['pos/sales/not-landing.csv', 'hr/people.csv', 'pos/sales/dfs.csv'].includes(String(r._source_file)))).toBe(
      false,
    );
    // Reconcile would rightly ingest it (its FlushWithClose event never came); keep the later test exact.
    await landing.delete('pos/sales/dfs.csv');
  });
});

describe('eventHubIngest (Event Hubs trigger, cardinality many)', () => {
  /** Trigger metadata as the host sends it for one partition (numbers sometimes as strings). */
  function metadata(partitionId: string, first: number, n: number, hub = 'telemetry'): Record<string, unknown> {
    const seq = Array.from({ length: n }, (_, i) => first + i);
    return {
      partitionContext: { fullyQualifiedNamespace: 'evhns-test.servicebus.windows.net', eventHubName: hub, consumerGroup: 'sluice', partitionId },
      sequenceNumberArray: seq.map((s, i) => (i % 2 ? String(s) : s)),
      offsetArray: seq.map((s) => String(s * 512)),
      enqueuedTimeUtcArray: seq.map((s) => `2026-01-31T10:00:${String(s % 60).padStart(2, '0')}.250Z`),
      partitionKeyArray: seq.map((s) => (s % 2 ? `device-${s % 3}` : null)),
      propertiesArray: seq.map((s) => ({ source: 'test', n: s })),
      systemPropertiesArray: seq.map((s) => ({ sequenceNumber: s, offset: String(s * 512), partitionKey: null })),
    };
  }
  function bodies(first: number, n: number): unknown[] {
    return Array.from({ length: n }, (_, i) => ({ device: `device-${(first + i) % 3}`, reading: first + i, temperature: 20 + (first + i) / 10 }));
  }

  it('lands a batch with the _eh_* columns, and a redelivery with other boundaries adds only new events', async () => {
    const one = context('eventHubIngest', { triggerMetadata: metadata('1', 100, 6) });
    await handler('eventHubIngest')(bodies(100, 6), one.context);
    expect(one.logs.map((l) => l.text).join('\n')).toMatch(/telemetry\/sluice partition 1, sequence numbers 100–105 .*committed/);
    let landed = await rows('bronze/telemetry');
    expect(landed).toHaveLength(6);
    const first = landed.find((r) => r.reading === 101)!;
    expect(first).toMatchObject({ device: 'device-2', _eh_partition: '1', _eh_sequence_number: 101, _eh_offset: String(101 * 512) });
    expect(String(first._eh_enqueued_time)).toMatch(/^2026-01-31T10:00:41\.250/);

    // After a rebalance the batch comes again, with more events behind it.
    await handler('eventHubIngest')(bodies(103, 6), context('eventHubIngest', { triggerMetadata: metadata('1', 103, 6) }).context);
    landed = await rows('bronze/telemetry');
    expect(landed.map((r) => r._eh_sequence_number).sort((a, b) => Number(a) - Number(b))).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108]);
  });

  it('logs the partition and sequence range of a batch it cannot ingest, and rethrows it', async () => {
    const { context: ctx, logs } = context('eventHubIngest', { triggerMetadata: metadata('3', 7, 2, 'unknown-hub') });
    await expect(handler('eventHubIngest')(bodies(7, 2), ctx)).rejects.toThrow(/unknown-hub/);
    expect(logs.find((l) => l.level === 'error')?.text).toMatch(/batch of unknown-hub\/sluice partition 3, sequence numbers 7–8 not ingested/);

    const broken = { ...metadata('3', 7, 2), offsetArray: ['1'] };
    const second = context('eventHubIngest', { triggerMetadata: broken });
    await expect(handler('eventHubIngest')(bodies(7, 2), second.context)).rejects.toThrow(/offsetArray has 1 entries for 2 events/);
    expect(second.logs.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('reconcile (timer)', () => {
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

  it('ingests a file whose event never came; the next tick ingests nothing', async () => {
    await landing.write('pos/sales/missed.csv', csv('m', 4));
    const before = await tableVersion('bronze/sales');
    const tick = context('reconcile');
    await handler('reconcile')(timer, tick.context);
    expect(tick.logs.map((l) => l.text).join('\n')).toMatch(
      /reconcile: sales \(.*pos\/sales\/ → .*bronze\/sales\): \d+ listed, \d+ checked, \d+ already done, 1 ingested \(4 rows\), 0 dead-lettered, 0 in progress elsewhere, 0 failed/,
    );
    expect(tick.logs.map((l) => l.text)).toContainEqual(
      expect.stringMatching(
        /^reconcile: [\w-]+\/pos\/sales\/missed\.csv \(ETag .+\) → .*bronze\/sales: committed \(version \d+\): 4 rows read, 4 written \(0 with rescued values\), 0 dead-lettered$/,
      ),
    );
    expect((await rows('bronze/sales')).filter((r) => r._source_file === 'pos/sales/missed.csv')).toHaveLength(4);
    const after = await tableVersion('bronze/sales');
    expect(after).toBeGreaterThan(before);

    const next = context('reconcile');
    await handler('reconcile')(timer, next.context);
    expect(next.logs.map((l) => l.text).join('\n')).toMatch(/0 ingested \(0 rows\)/);
    expect(await tableVersion('bronze/sales')).toBe(after);
    expect((await rows('bronze/sales')).filter((r) => r._source_file === 'pos/sales/missed.csv')).toHaveLength(4);
  });
});

describe('functions/index.ts', () => {
  /** Load index.ts under a stand-in Functions worker (helpers/functions-host.ts). */
  const register = (extraEnv: Record<string, string | undefined>) =>
    registerUnderStandInHost([nodePath.join(root, 'functions', 'index.ts')], { ...process.env, ...env, ...extraEnv });

  it('registers every definition with its trigger, settings resolved with their defaults', () => {
    const { status, stderr, functions } = register({ SLUICE_RECONCILE_SCHEDULE: undefined });
    expect(status, stderr).toBe(0);
    expect(functions.map((f) => f.name).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
    const trigger = (name: string) => Object.values(functions.find((f) => f.name === name)!.bindings).find((b) => b.direction === 'in')!;
    expect(trigger('blobCreated')).toMatchObject({ type: 'eventGridTrigger' });
    expect(trigger('eventHubIngest')).toMatchObject({
      type: 'eventHubTrigger',
      connection: 'SLUICE_EVENTHUB',
      eventHubName: 'telemetry',
      consumerGroup: 'sluice',
      cardinality: 'many',
    });
    expect(functions.find((f) => f.name === 'eventHubIngest')!.retryOptions).toMatchObject({ retryStrategy: 'exponentialBackoff', maxRetryCount: -1 });
    expect(trigger('reconcile')).toMatchObject({ type: 'timerTrigger', schedule: '0 */5 * * * *' });
    expect(trigger('describeTable')).toMatchObject({ type: 'httpTrigger', route: 'tables/{layer}/{table}', authLevel: 'function' });
  });

  it('leaves eventHubIngest out, saying so, when no Event Hub is configured', () => {
    const { status, stderr, functions } = register({
      SLUICE_EVENTHUB: undefined,
      SLUICE_EVENTHUB_NAME: undefined,
      SLUICE_EVENTHUB_CONSUMER_GROUP: undefined,
      SLUICE_RECONCILE_SCHEDULE: '0 0 * * * *',
    });
    expect(status, stderr).toBe(0);
    expect(functions.map((f) => f.name)).not.toContain('eventHubIngest');
    expect(functions.map((f) => f.name)).toContain('blobCreated');
    expect(stderr).toMatch(/eventHubIngest not registered: no Event Hubs connection is set/);
    expect(stderr).toMatch(/sources\.telemetry of .* reads Event Hub telemetry, but no Event Hubs connection is set/);
    const reconcile = functions.find((f) => f.name === 'reconcile')!;
    expect(Object.values(reconcile.bindings)[0]).toMatchObject({ schedule: '0 0 * * * *' });
  });

  it('stops at start-up naming every bad setting', () => {
    const { status, stderr } = register({
      SLUICE_RECONCILE_SCHEDULE: 'every 5 minutes',
      SLUICE_EVENTHUB_CONSUMER_GROUP: 'bad group!',
      SLUICE_LAKE_CONTAINER: landingContainer,
    });
    expect(status).not.toBe(0);
    expect(stderr).toMatch(/SLUICE_RECONCILE_SCHEDULE must be an NCRONTAB schedule/);
    expect(stderr).toMatch(/SLUICE_EVENTHUB_CONSUMER_GROUP must be/);
    expect(stderr).toMatch(/SLUICE_LANDING_CONTAINER and SLUICE_LAKE_CONTAINER must name different containers/);
  });
});

describe('runtime configuration', () => {
  it('reads the Event Hub in identity form, and names each bad Event Hubs setting', () => {
    expect(
      readIngestTriggerSettings({
        SLUICE_EVENTHUB__fullyQualifiedNamespace: 'EVHNS-x.servicebus.windows.net',
        SLUICE_EVENTHUB__credential: 'managedidentity',
        SLUICE_EVENTHUB_NAME: 'telemetry',
      }),
    ).toEqual({
      eventHub: { connection: 'SLUICE_EVENTHUB', kind: 'identity', namespace: 'evhns-x.servicebus.windows.net', name: 'telemetry', consumerGroup: '$Default' },
      reconcileSchedule: '0 */5 * * * *',
      maintenanceSchedule: '0 0 2 * * *',
      metricsSchedule: '0 */5 * * * *',
    });
    const cases: [Record<string, string>, RegExp][] = [
      [{ SLUICE_EVENTHUB_NAME: 'telemetry' }, /SLUICE_EVENTHUB_NAME is set but the Event Hubs connection is not/],
      [
        { SLUICE_EVENTHUB: env.SLUICE_EVENTHUB, SLUICE_EVENTHUB__fullyQualifiedNamespace: 'x.servicebus.windows.net', SLUICE_EVENTHUB_NAME: 'telemetry' },
        /set only one form/,
      ],
      [
        { SLUICE_EVENTHUB__fullyQualifiedNamespace: 'sb://x.servicebus.windows.net/', SLUICE_EVENTHUB_NAME: 'telemetry' },
        /SLUICE_EVENTHUB__fullyQualifiedNamespace must be a host name/,
      ],
      [
        { SLUICE_EVENTHUB__fullyQualifiedNamespace: 'x.servicebus.windows.net', SLUICE_EVENTHUB__clientID: 'x', SLUICE_EVENTHUB_NAME: 'telemetry' },
        /did you mean SLUICE_EVENTHUB__clientId/,
      ],
      [{ SLUICE_EVENTHUB: `${env.SLUICE_EVENTHUB};EntityPath=other`, SLUICE_EVENTHUB_NAME: 'telemetry' }, /the EntityPath of SLUICE_EVENTHUB is "other"/],
      [{ SLUICE_EVENTHUB: 'Endpoint=sb://x.servicebus.windows.net/' }, /SharedAccessKey[\s\S]*SLUICE_EVENTHUB_NAME is not set/],
    ];
    for (const [values, message] of cases) expect(() => readIngestTriggerSettings(values), JSON.stringify(values)).toThrow(message);
  });

  it('rejects definition files that overlap each other, and a SLUICE_PIPELINES that matches nothing', () => {
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-pipelines-'));
    writeFileSync(nodePath.join(dir, 'a.yaml'), 'sources:\n  pos:\n    landing: pos/\n');
    writeFileSync(nodePath.join(dir, 'b.yaml'), 'sources:\n  sales:\n    landing: pos/sales/\n  hub_a:\n    eventHub: t\n  hub_b:\n    eventHub: T\n');
    expect(() => loadPipelines('*.yaml', dir, true)).toThrow(/landing "pos\/sales\/" of sources\.sales of b\.yaml overlaps "pos\/" of sources\.pos of a\.yaml/);
    expect(() => loadPipelines('*.yaml', dir, true)).toThrow(/Event Hub T is read by sources\.hub_b of b\.yaml and by sources\.hub_a of b\.yaml/);
    expect(() => loadPipelines('nothing/*.yaml', dir, true)).toThrow(/SLUICE_PIPELINES "nothing\/\*\.yaml" matches no file/);
    expect(loadPipelines('nothing/*.yaml', dir, false)).toEqual([]);
    expect(loadPipelines('**/a.yaml', dir, true).map((p) => p.file)).toEqual(['a.yaml']);
  });

  it('rejects two pipelines with one name, and a silver/gold table written by two pipelines, naming both files', () => {
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-pipelines-'));
    const table = (name: string, path: string, from: string) => `  ${name}:\n    from: ${from}\n    table: ${path}\n    sql: SELECT * FROM source\n`;
    writeFileSync(nodePath.join(dir, 'a.yaml'), `name: sales\nsources:\n  pos:\n    landing: pos/\ntables:\n${table('silver.sales', 'silver/sales', 'pos')}`);
    writeFileSync(
      nodePath.join(dir, 'b.yaml'),
      `name: sales\nsources:\n  shop:\n    landing: shop/\ntables:\n${table('silver.shop', 'silver/sales', 'shop')}${table('silver.raw', 'bronze/pos', 'shop')}`,
    );
    writeFileSync(nodePath.join(dir, 'c.yaml'), `name: other\nsources:\n  web:\n    landing: web/\ntables:\n${table('silver.web', 'silver/web', 'web')}`);
    const error = (() => {
      try {
        loadPipelines('*.yaml', dir, true);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(error).toMatch(/pipeline name "sales" of b\.yaml is already used by a\.yaml/);
    expect(error).toMatch(/table silver\/sales of tables\.silver\.shop of b\.yaml is already written by tables\.silver\.sales of a\.yaml/);
    expect(error).toMatch(/table bronze\/pos of tables\.silver\.raw of b\.yaml is already written by sources\.pos of a\.yaml/);
    expect(error).not.toMatch(/c\.yaml/);
    expect(loadPipelines('c.yaml', dir, true).map((p) => p.name)).toEqual(['other']);
  });

  it('checks the refresh settings at start-up: SQL engine limits, and the PII key a pipeline needs', () => {
    const hashing = parsePipelineDefinition(
      'sources:\n  sales:\n    landing: pos/sales/\ntables:\n  silver.sales:\n    from: sales\n    sql: SELECT card FROM source\n    pii: { card: hash }\n',
      'hashing.yaml',
    );
    expect(checkRefreshSettings({}, [])).toEqual([]);
    const problems = checkRefreshSettings({ SLUICE_SQL_THREADS: 'many', SLUICE_SQL_MEMORY_LIMIT: 'lots' }, [hashing]);
    expect(problems.join('\n')).toMatch(/SLUICE_SQL_MEMORY_LIMIT: expected a size/);
    expect(problems.join('\n')).toMatch(/hashing\.yaml: tables\.silver\.sales\.pii\.card: .*SLUICE_PII_KEY .* is not set/);
    expect(checkRefreshSettings({ SLUICE_PII_KEY: 'short' }, [hashing]).join('\n')).toMatch(/SLUICE_PII_KEY must be at least 16 characters/);
    expect(checkRefreshSettings({ SLUICE_PII_KEY: 'a-long-enough-test-key', SLUICE_SQL_THREADS: '2' }, [hashing])).toEqual([]);
  });

  it('reads landing files with the record-size limit of SLUICE_MAX_RECORD_MB', () => {
    const files = parsePipelineDefinition('sources:\n  sales:\n    landing: pos/sales/\n', 'files.yaml');
    const triggers = readIngestTriggerSettings({})!;
    const limited = createRuntime({
      settings: loadSettings({ SLUICE_LAKE: 'UseDevelopmentStorage=true', SLUICE_MAX_RECORD_MB: '2' }),
      triggers,
      pipelines: [files],
    });
    expect(limited.routeBlob('pos/sales/x.csv')?.ingest.maxRecordBytes).toBe(2 * 1024 * 1024);
    const byDefault = createRuntime({ settings: loadSettings({ SLUICE_LAKE: 'UseDevelopmentStorage=true' }), triggers, pipelines: [files] });
    expect(byDefault.routeBlob('pos/sales/x.csv')?.ingest.maxRecordBytes).toBe(16 * 1024 * 1024);
  });

  it('warns rather than reads a hub no source takes, and refuses a consumer group the source does not want', () => {
    const settings = loadSettings({ SLUICE_LAKE: 'UseDevelopmentStorage=true' });
    const triggers = readIngestTriggerSettings({ SLUICE_EVENTHUB: env.SLUICE_EVENTHUB, SLUICE_EVENTHUB_NAME: 'telemetry' })!;
    const files = parsePipelineDefinition('sources:\n  sales:\n    landing: pos/sales/\n', 'files.yaml');
    const unread = createRuntime({ settings, triggers, pipelines: [files] });
    expect(unread.eventHubRoute).toBeNull();
    expect(unread.warnings.join('\n')).toMatch(/Event Hub telemetry, but no source of the pipelines \(files\.yaml\) has eventHub: telemetry/);
    expect(unread.routeBlob('pos/sales/x.csv')?.tableKey).toBe('lake/bronze/sales');
    expect(unread.routeBlob('pos/salesx.csv')).toBeNull();
    const other = parsePipelineDefinition('sources:\n  t:\n    eventHub: { name: telemetry, consumerGroup: mine }\n', 'hub.yaml');
    expect(() => createRuntime({ settings, triggers, pipelines: [files, other] })).toThrow(
      /SLUICE_EVENTHUB_CONSUMER_GROUP is "\$Default", but sources\.t of hub\.yaml asks for consumer group "mine"/,
    );
  });
});
