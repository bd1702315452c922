/**
 * OpenLineage events of table updates, end to end on Azurite: the POS example ingested and refreshed
 * through the `refresh` orchestration with a reporter sending to an HTTP server started here and to a
 * blob container. Every update emits START and COMPLETE (a failing one START and FAIL) with one run id,
 * every event and each of its facets validates against the OpenLineage JSON Schemas copied from the
 * spec (test/fixtures/openlineage), and a destination that refuses the events does not fail the run.
 * Then the settings that turn it on, and their errors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as nodePath from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings } from '../../shared/config/settings';
import {
  BlobEventSink,
  HttpEventSink,
  nameUuid,
  OpenLineageEmitter,
  OpenLineageReporter,
  openLineageReporter,
  type OpenLineageRunEvent,
} from '../../shared/lineage';
import { parsePipelineDefinition } from '../../shared/pipeline';
import { EngineRunClient, orchestrationRegistry, type RefreshOutput } from '../../shared/run';
import { openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { connectionString, EXAMPLES_DATA, ingestExamples, POS_PIPELINE, posLake, runEngine, uniqueName, type RunLake } from '../support/run-lake';
import { ingestRoutedBlob, loadRuntime } from '../../shared/host';

const FIXTURES = nodePath.join(__dirname, '..', 'fixtures', 'openlineage');

/** The spec's schemas: the core one and each facet schema by the facet key it defines. */
function schemas() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const core = JSON.parse(readFileSync(nodePath.join(FIXTURES, 'OpenLineage.json'), 'utf8')) as { $id: string };
  ajv.addSchema(core);
  const facets = new Map<string, { id: string; validate: ReturnType<typeof ajv.compile> }>();
  for (const file of readdirSync(nodePath.join(FIXTURES, 'facets'))) {
    const schema = JSON.parse(readFileSync(nodePath.join(FIXTURES, 'facets', file), 'utf8')) as { $id: string; properties: Record<string, unknown> };
    ajv.addSchema(schema);
    const validate = ajv.getSchema(schema.$id)!;
    for (const key of Object.keys(schema.properties)) facets.set(key, { id: schema.$id, validate });
  }
  return { event: ajv.getSchema(core.$id)!, facets, errors: (v: { errors?: unknown }) => JSON.stringify(v.errors, null, 1) };
}

/** Every problem of an event: the core schema, then each facet against its own schema (none unknown). */
function problems(event: OpenLineageRunEvent): string[] {
  const { event: validate, facets, errors } = schemas();
  const out: string[] = [];
  if (!validate(event)) out.push(`event: ${errors(validate)}`);
  const groups: [string, Record<string, { _schemaURL: string }> | undefined][] = [
    ['run', event.run.facets],
    ['job', event.job.facets],
    ...[...event.inputs, ...event.outputs].flatMap((d): [string, Record<string, { _schemaURL: string }> | undefined][] => [
      [`${d.name} facets`, d.facets],
      [`${d.name} outputFacets`, d.outputFacets],
    ]),
  ];
  for (const [where, group] of groups) {
    for (const [key, value] of Object.entries(group ?? {})) {
      const schema = facets.get(key);
      if (!schema) out.push(`${where}: facet ${key} has no schema here`);
      else if (!schema.validate({ [key]: value })) out.push(`${where}.${key}: ${errors(schema.validate)}`);
      else if (value._schemaURL.split('#')[0] !== schema.id) out.push(`${where}.${key}: _schemaURL ${value._schemaURL} is not ${schema.id}`);
    }
  }
  return out;
}

let server: Server;
let url: string;
const received: OpenLineageRunEvent[] = [];
let refuse = false;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      if (refuse || request.headers['content-type'] !== 'application/json') {
        response.writeHead(503).end('not now');
        return;
      }
      received.push(JSON.parse(body) as OpenLineageRunEvent);
      response.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/lineage`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function refresh(run: RunLake, definition = run.definition, reporter: OpenLineageReporter): Promise<{ status: string; output: RefreshOutput | string }> {
  const engine = runEngine(orchestrationRegistry({ ...run.services, pipelines: () => [definition], tableRuns: reporter }));
  const started = await new EngineRunClient(engine).startRun({ pipeline: 'pos', reason: 'openlineage test' });
  await engine.runPending();
  const status = (await engine.getStatus(started.instanceId))!;
  return { status: status.runtimeStatus, output: status.output as RefreshOutput | string };
}

describe('OpenLineage events of table updates', () => {
  it('START and COMPLETE per update, FAIL for a failing one, valid against the spec, over HTTP and as blobs', async () => {
    const run = await posLake('openlineage');
    const [ingested] = await ingestExamples(
      run,
      [
        ['pos_sales', 'sales-2026-03-01.csv'],
        ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ],
      uniqueName('Ledger'),
    );
    // A delivery with quantity 0 now fails its update (terminal), as in run-outcomes.test.ts.
    const strict = parsePipelineDefinition(
      readFileSync(POS_PIPELINE, 'utf8').replace(
        'delivered_units: { check: "quantity > 0", onViolation: quarantine }',
        'delivered_units: { check: "quantity > 0", onViolation: fail }',
      ),
      'pos-strict.yaml',
    );
    const container = uniqueContainer('openlineage');
    const blobs = openStore(azuriteUri(container, ''));
    const emitter = new OpenLineageEmitter([new HttpEventSink(url), new BlobEventSink(blobs)]);
    const reporter = new OpenLineageReporter(emitter, 'sluice-test', { memoryLimit: '128MB', threads: 1 });
    received.length = 0;
    const result = await refresh(run, strict, reporter);
    expect(result.status).toBe('Failed');

    const byTable = (table: string) => received.filter((e) => e.job.name === `pos.${table}`).map((e) => e.eventType);
    expect(byTable('silver.sales')).toEqual(['START', 'COMPLETE']);
    expect(byTable('gold.daily_store_sales')).toEqual(['START', 'COMPLETE']);
    expect(byTable('silver.deliveries')).toEqual(['START', 'FAIL']);
    // Held back behind the failed table: never started.
    expect(byTable('gold.store_stock')).toEqual([]);
    expect(received).toHaveLength(6);
    for (const event of received) expect(problems(event), `${event.eventType} ${event.job.name}`).toEqual([]);
    // The checks can fail: a run id that is not a UUID, a facet without its required field, an unknown facet.
    const sample = received.find((e) => e.eventType === 'COMPLETE' && e.job.name === 'pos.silver.sales')!;
    expect(problems({ ...sample, run: { ...sample.run, runId: 'run-1' } })).toEqual([expect.stringMatching(/^event: .*format/s)]);
    const broken = structuredClone(sample);
    delete (broken.outputs[0].facets!.version as Record<string, unknown>).datasetVersion;
    broken.outputs[0].facets!.madeUp = { _producer: 'urn:x', _schemaURL: 'urn:y' };
    expect(problems(broken)).toEqual([expect.stringMatching(/version: .*datasetVersion/s), expect.stringMatching(/facet madeUp has no schema/)]);
    expect(emitter.stats()).toEqual({ sent: 12, failed: 0 });

    // One run id per update; the pipeline run is the parent.
    const sales = received.filter((e) => e.job.name === 'pos.silver.sales');
    expect(new Set(sales.map((e) => e.run.runId)).size).toBe(1);
    const complete = sales[1];
    expect(complete.run.facets?.parent).toMatchObject({ job: { namespace: 'sluice-test', name: 'pos' } });
    expect(complete.job).toMatchObject({ namespace: 'sluice-test', facets: { sql: { query: strict.tables['silver.sales'].sql } } });
    // Datasets: the Azurite container as namespace, the table path as name, schema and Delta version.
    const lakeRoot = run.lake('bronze/pos_sales').url.replace(/\/bronze\/pos_sales$/, '');
    expect(complete.inputs).toEqual([
      expect.objectContaining({
        namespace: lakeRoot,
        name: 'bronze/pos_sales',
        facets: expect.objectContaining({ version: expect.objectContaining({ datasetVersion: String(ingested.version) }) }),
      }),
    ]);
    const output = complete.outputs[0];
    expect(output).toMatchObject({ namespace: lakeRoot, name: 'silver/sales' });
    const fields = (output.facets!.schema as unknown as { fields: { name: string }[] }).fields.map((f) => f.name);
    expect(fields).toEqual(expect.arrayContaining(['transaction_id', 'store_id', 'card_number', 'event_time']));
    // Row counts and expectations (10 pass, 1 fails each).
    expect(output.outputFacets?.outputStatistics).toMatchObject({ rowCount: 7, fileCount: expect.any(Number) });
    const assertions = (output.facets!.dataQualityAssertions as unknown as { assertions: { name: string; success: boolean; severity: string }[] }).assertions;
    expect(assertions.map((a) => [a.name, a.success, a.severity])).toEqual([
      ['valid_quantity', false, 'warn'],
      ['known_currency', false, 'warn'],
      ['positive_price', false, 'warn'],
    ]);
    // Column lineage from the SQL: card_number copied from bronze, masked.
    expect((output.facets!.columnLineage as unknown as { fields: Record<string, unknown> }).fields.card_number).toEqual({
      inputFields: [
        {
          namespace: lakeRoot,
          name: 'bronze/pos_sales',
          field: 'card_number',
          transformations: [{ type: 'DIRECT', subtype: 'TRANSFORMATION', masking: true }],
        },
      ],
    });
    const fail = received.find((e) => e.eventType === 'FAIL')!;
    expect(fail.run.facets?.errorMessage).toMatchObject({ message: expect.stringMatching(/delivered_units/), programmingLanguage: 'TypeScript' });
    expect(fail.run.runId).toBe(received.find((e) => e.job.name === 'pos.silver.deliveries' && e.eventType === 'START')!.run.runId);
    // Run ids are derived from the Sluice run id (recorded in the event log) and the table.
    const [recorded] = await run.events.tableUpdates('pos', 'silver.deliveries');
    expect(recorded.status).toBe('failed');
    expect(fail.run.runId).toBe(nameUuid(`${recorded.runId}|silver.deliveries`));
    expect(new Set(received.map((e) => (e.run.facets!.parent as unknown as { run: { runId: string } }).run.runId))).toEqual(
      new Set([nameUuid(recorded.runId)]),
    );

    // The same events as blobs, one per event.
    const stored: OpenLineageRunEvent[] = [];
    for await (const info of blobs.list('')) stored.push(JSON.parse(new TextDecoder().decode(await blobs.read(info.path))) as OpenLineageRunEvent);
    const key = (e: OpenLineageRunEvent) => `${e.job.name} ${e.eventType}`;
    expect(stored.map(key).sort()).toEqual(received.map(key).sort());
    expect(stored.find((e) => key(e) === key(complete))).toEqual(complete);
  });

  it('a destination refusing the events does not fail the run: each failure is counted', async () => {
    const run = await posLake('openlineage-refused');
    await ingestExamples(run, [['pos_sales', 'sales-2026-03-01.csv']], uniqueName('Ledger'));
    const emitter = new OpenLineageEmitter([new HttpEventSink(url)]);
    refuse = true;
    try {
      const result = await refresh(run, run.definition, new OpenLineageReporter(emitter, 'sluice-test', { memoryLimit: '128MB', threads: 1 }));
      expect(result.status, JSON.stringify(result.output)).toBe('Completed');
      expect((result.output as RefreshOutput).tables.find((t) => t.table === 'silver.sales')).toMatchObject({ status: 'updated', inserted: 7 });
    } finally {
      refuse = false;
    }
    // Four tables (two of them with nothing to read yet), START and COMPLETE each.
    expect(emitter.stats()).toEqual({ sent: 0, failed: 8 });
  });
});

describe('OpenLineage events of bronze ingestion', () => {
  it('a landing file committed by the event path is reported START and COMPLETE, with its ETag as the input version', async () => {
    const run = await posLake('openlineage-ingest');
    const landingContainer = uniqueContainer('ol-landing');
    const runtime = loadRuntime({
      SLUICE_LAKE: connectionString(),
      SLUICE_LAKE_CONTAINER: run.container,
      SLUICE_LANDING_CONTAINER: landingContainer,
      SLUICE_PIPELINES: POS_PIPELINE,
      SLUICE_OPENLINEAGE_URL: url,
      SLUICE_OPENLINEAGE_NAMESPACE: 'sluice-ingest',
    });
    const path = 'pos/sales/2026/03/sales-2026-03-01.csv';
    const written = await runtime.landing.write(path, readFileSync(nodePath.join(EXAMPLES_DATA, 'pos', 'sales-2026-03-01.csv')));
    received.length = 0;
    const log: string[] = [];
    const outcome = await ingestRoutedBlob(
      runtime,
      { status: 'routed', blob: { kind: 'blob', container: landingContainer, path }, route: runtime.routeBlob(path)! },
      (l) => log.push(l),
    );
    expect(outcome).toMatchObject({ status: 'committed', rowsWritten: 11 });
    expect(log).toEqual([]);
    expect(received.map((e) => [e.eventType, e.job.name])).toEqual([
      ['START', 'pos.pos_sales'],
      ['COMPLETE', 'pos.pos_sales'],
    ]);
    for (const event of received) expect(problems(event)).toEqual([]);
    const [, complete] = received;
    expect(complete.inputs).toEqual([
      expect.objectContaining({
        name: path,
        namespace: runtime.landing.url,
        facets: { version: expect.objectContaining({ datasetVersion: written.etag.replace(/"/g, '') }) },
      }),
    ]);
    expect(complete.outputs[0]).toMatchObject({
      name: 'bronze/pos_sales',
      facets: { version: { datasetVersion: String(outcome.version) } },
      outputFacets: { outputStatistics: { rowCount: 11, fileCount: 1 } },
    });
    // The same file again is a duplicate: nothing new to report.
    await ingestRoutedBlob(runtime, { status: 'routed', blob: { kind: 'blob', container: landingContainer, path }, route: runtime.routeBlob(path)! });
    expect(received).toHaveLength(2);
  });
});

describe('OpenLineage settings', () => {
  const base = { SLUICE_LAKE: 'UseDevelopmentStorage=true' };

  it('are off by default, and name the bad setting', () => {
    const off = loadSettings(base);
    expect(off.openLineage).toBeUndefined();
    expect(openLineageReporter(off)).toBeUndefined();
    const on = loadSettings({ ...base, SLUICE_OPENLINEAGE_URL: 'https://marquez.example.com/api/v1/lineage', SLUICE_OPENLINEAGE_CONTAINER: 'lineage' });
    expect(on.openLineage).toEqual({ url: 'https://marquez.example.com/api/v1/lineage', container: 'lineage', namespace: 'sluice' });
    expect(openLineageReporter(on)?.emitter.sinks.map((s) => s.target)).toEqual([
      'https://marquez.example.com/api/v1/lineage',
      expect.stringMatching(/\/lineage$/),
    ]);
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadSettings({ ...base, ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problemsOf({ SLUICE_OPENLINEAGE_URL: 'http://marquez.example.com/api/v1/lineage' })).toEqual([
      expect.stringMatching(/^SLUICE_OPENLINEAGE_URL must be an https:\/\/ URL/),
    ]);
    expect(problemsOf({ SLUICE_OPENLINEAGE_URL: 'not a url' })).toEqual([expect.stringMatching(/^SLUICE_OPENLINEAGE_URL/)]);
    expect(problemsOf({ SLUICE_OPENLINEAGE_CONTAINER: 'landing' })).toEqual([
      expect.stringMatching(/^SLUICE_OPENLINEAGE_CONTAINER must name a container of its own/),
    ]);
    expect(problemsOf({ SLUICE_OPENLINEAGE_CONTAINER: 'Bad_Name' })).toEqual([
      expect.stringMatching(/^SLUICE_OPENLINEAGE_CONTAINER must be a blob container name/),
    ]);
    expect(problemsOf({ SLUICE_OPENLINEAGE_URL: 'http://127.0.0.1:5000/api/v1/lineage', SLUICE_OPENLINEAGE_NAMESPACE: 'my space' })).toEqual([
      expect.stringMatching(/^SLUICE_OPENLINEAGE_NAMESPACE/),
    ]);
  });
});
