/**
 * The lineage graph after the POS example's files were ingested by the ingest stage and refreshed by
 * the `refresh` orchestration on Azurite: table level from the definition (landing folders and Event
 * Hubs → bronze → silver → gold), version level from the event log and the bronze Delta logs down to
 * the landing files with their ETags; depth and direction honoured; the HTTP answer's errors; and
 * `sluice lineage` as text and JSON.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { main } from '../../cli/main';
import { lineageHttp } from '../../functions/lineage';
import { LocalStore } from '../../shared/storage';
import { EngineRunClient, lineageGraph, lineageResponse, orchestrationRegistry, type LineageGraph, type RefreshOutput } from '../../shared/run';
import { connectionString, EXAMPLES_DATA, ingestExamples, POS_PIPELINE, posLake, runEngine, uniqueName, type RunLake } from '../support/run-lake';
import type { IngestOutcome } from '../../shared/ingest';
import { ingestEvents } from '../../shared/ingest/events';

let run: RunLake;
let ingested: IngestOutcome[];
let output: RefreshOutput;

const ids = (g: LineageGraph) => g.nodes.map((n) => n.id).sort();
const has = (g: LineageGraph, from: string, to: string) => g.edges.some((e) => e.from === from && e.to === to);

beforeAll(async () => {
  run = await posLake('lineage');
  ingested = await ingestExamples(
    run,
    [
      ['pos_sales', 'sales-2026-03-01.csv'],
      ['pos_deliveries', 'deliveries-2026-03-01.csv'],
      ['pos_sales', 'sales-2026-03-02.csv'],
    ],
    uniqueName('Ledger'),
  );
  expect(ingested.map((o) => o.status)).toEqual(['committed', 'committed', 'committed']);
  const engine = runEngine(orchestrationRegistry(run.services));
  const started = await new EngineRunClient(engine).startRun({ pipeline: 'pos', reason: 'lineage test' });
  await engine.runPending();
  const status = await engine.getStatus(started.instanceId);
  expect(status?.runtimeStatus, JSON.stringify(status?.output)).toBe('Completed');
  output = status!.output as RefreshOutput;
});

describe('table-level lineage from the definitions', () => {
  it('downstream of bronze/pos_sales reaches both gold tables; upstream reaches its landing folder', async () => {
    const down = await lineageGraph({ pipelines: [run.definition], path: 'bronze/pos_sales', direction: 'down' });
    expect(ids(down)).toEqual(['table:bronze/pos_sales', 'table:gold/daily_store_sales', 'table:gold/store_stock', 'table:silver/sales']);
    expect(has(down, 'table:bronze/pos_sales', 'table:silver/sales')).toBe(true);
    expect(has(down, 'table:silver/sales', 'table:gold/daily_store_sales')).toBe(true);
    expect(has(down, 'table:silver/sales', 'table:gold/store_stock')).toBe(true);
    expect(down.nodes.find((n) => n.id === 'table:silver/sales')).toMatchObject({
      kind: 'table',
      layer: 'silver',
      name: 'silver.sales',
      pipeline: 'pos',
      refresh: 'incremental',
    });

    const both = await lineageGraph({ pipelines: [run.definition], path: 'bronze/pos_sales' });
    expect(ids(both)).toEqual([...ids(down), 'landing:pos/sales/'].sort());
    expect(both.nodes.find((n) => n.id === 'landing:pos/sales/')).toMatchObject({ kind: 'landing', folder: 'pos/sales/' });

    const up = await lineageGraph({ pipelines: [run.definition], path: 'gold/store_stock', direction: 'up' });
    expect(ids(up)).toEqual([
      'landing:pos/deliveries/',
      'landing:pos/sales/',
      'table:bronze/pos_deliveries',
      'table:bronze/pos_sales',
      'table:gold/store_stock',
      'table:silver/deliveries',
      'table:silver/sales',
    ]);
    // Upstream of gold never wanders down into the other gold table.
    expect(ids(up)).not.toContain('table:gold/daily_store_sales');
  });

  it('honours depth and shows Event Hubs as nodes', async () => {
    const one = await lineageGraph({ pipelines: [run.definition], path: 'bronze/pos_sales', direction: 'down', depth: 1 });
    expect(ids(one)).toEqual(['table:bronze/pos_sales', 'table:silver/sales']);
    const zero = await lineageGraph({ pipelines: [run.definition], path: 'silver/sales', depth: 0 });
    expect(zero).toEqual({ nodes: [expect.objectContaining({ id: 'table:silver/sales' })], edges: [] });
    const hub = await lineageGraph({ pipelines: [run.definition], path: 'bronze/network_events', direction: 'up' });
    expect(hub.nodes.find((n) => n.kind === 'eventHub')).toMatchObject({ id: 'eventHub:network-telemetry', name: 'network-telemetry' });
    expect(has(hub, 'eventHub:network-telemetry', 'table:bronze/network_events')).toBe(true);
  });
});

describe('version-level lineage from the event log', () => {
  it('upstream of a gold version reaches the silver and bronze versions and the landing files with their ETags', async () => {
    const gold = output.tables.find((m) => m.table === 'gold.daily_store_sales')!;
    const silver = output.tables.find((m) => m.table === 'silver.sales')!;
    const g = await lineageGraph({
      pipelines: [run.definition],
      path: 'gold/daily_store_sales',
      version: gold.targetVersion!,
      direction: 'up',
      events: run.events,
      lake: run.lake,
    });
    const start = `table:gold/daily_store_sales@${gold.targetVersion}`;
    expect(g.nodes[0]).toMatchObject({ id: start, version: gold.targetVersion, recorded: true, runId: output.runId });
    const silverId = `table:silver/sales@${silver.targetVersion}`;
    expect(g.edges).toContainEqual({ from: silverId, to: start, version: gold.targetVersion });
    const landing = new LocalStore(EXAMPLES_DATA);
    for (const [i, file] of [
      [0, 'pos/sales-2026-03-01.csv'],
      [2, 'pos/sales-2026-03-02.csv'],
    ] as const) {
      // Recorded as ingestion saw it, without the HTTP quotes.
      const etag = (await landing.properties(file)).etag.replace(/"/g, '');
      const bronzeId = `table:bronze/pos_sales@${ingested[i].version}`;
      expect(g.edges).toContainEqual({ from: bronzeId, to: silverId, version: silver.targetVersion });
      const fileNode = g.nodes.find((n) => n.kind === 'file' && n.path === file);
      expect(fileNode, `${file} in ${JSON.stringify(ids(g))}`).toMatchObject({ etag, id: `file:${file}@${etag}` });
      expect(g.edges).toContainEqual({ from: fileNode!.id, to: bronzeId, version: ingested[i].version });
    }
    // Deliveries feed the other gold table, not this one.
    expect(g.nodes.some((n) => n.path === 'pos/deliveries-2026-03-01.csv')).toBe(false);

    const shallow = await lineageGraph({
      pipelines: [run.definition],
      path: 'gold/daily_store_sales',
      version: gold.targetVersion!,
      direction: 'up',
      depth: 2,
      events: run.events,
      lake: run.lake,
    });
    expect(shallow.nodes.map((n) => n.kind)).not.toContain('file');
    expect(ids(shallow)).toContain(`table:bronze/pos_sales@${ingested[0].version}`);
  });

  it('upstream of an Event Hubs bronze version is the partition and sequence-number range it ingested', async () => {
    const events = Array.from({ length: 5 }, (_, i) => ({
      body: { device_id: `POS-${i}`, latency_ms: i },
      sequenceNumber: 40 + i,
      offset: String(i),
      enqueuedTime: new Date(Date.UTC(2026, 2, 1, 0, 0, i)),
      partitionKey: null,
      properties: {},
    }));
    const outcome = await ingestEvents({
      table: run.lake('bronze/network_events'),
      partition: { namespace: 'sluice-test.servicebus.windows.net', hub: 'network-telemetry', consumerGroup: '$Default', partitionId: '2' },
      events,
      deadLetter: { store: run.lake('_sluice/dead-letter'), prefix: 'bronze/network_events/' },
    });
    expect(outcome.rowsWritten).toBe(5);
    const g = await lineageGraph({
      pipelines: [run.definition],
      path: 'bronze/network_events',
      version: outcome.version!,
      direction: 'up',
      events: run.events,
      lake: run.lake,
    });
    const range = g.nodes.find((n) => n.kind === 'events');
    expect(range).toMatchObject({ eventHub: 'network-telemetry', partitionId: '2', firstSequenceNumber: 40, lastSequenceNumber: 44, rowsWritten: 5 });
    expect(g.edges).toEqual([{ from: range!.id, to: `table:bronze/network_events@${outcome.version}`, version: outcome.version }]);
  });

  it('downstream of a bronze version reaches the versions of both gold tables made from it', async () => {
    const g = await lineageGraph({
      pipelines: [run.definition],
      path: 'bronze/pos_sales',
      version: ingested[0].version!,
      direction: 'down',
      events: run.events,
      lake: run.lake,
    });
    const version = (t: string) => output.tables.find((m) => m.table === t)!.targetVersion;
    expect(ids(g)).toEqual(
      [
        `table:bronze/pos_sales@${ingested[0].version}`,
        `table:silver/sales@${version('silver.sales')}`,
        `table:gold/daily_store_sales@${version('gold.daily_store_sales')}`,
        `table:gold/store_stock@${version('gold.store_stock')}`,
      ].sort(),
    );
    expect(g.nodes.every((n) => n.kind === 'table')).toBe(true);
  });
});

describe('GET /api/lineage/{*path}', () => {
  const answer = (path: string, query = '') =>
    lineageResponse({ pipelines: [run.definition], events: run.events, lake: run.lake }, path, new URLSearchParams(query));

  it('answers the graph, 400 for bad parameters and 404 naming an unknown path or version', async () => {
    const ok = await answer('bronze/pos_sales', 'direction=down&depth=1&code=key');
    expect(ok.status).toBe(200);
    expect(ids(ok.body as LineageGraph)).toEqual(['table:bronze/pos_sales', 'table:silver/sales']);
    expect(await answer('bronze/pos_sales', 'direction=sideways')).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/direction must be up, down or both, not 'sideways'/) },
    });
    expect(await answer('bronze/pos_sales', 'depth=-1')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/depth must be a whole number/) } });
    expect(await answer('bronze/pos_sales', 'version=x')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/version must be/) } });
    expect(await answer('bronze/pos_sales', 'deep=2')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown parameter deep/) } });
    // Table-level answers carry column lineage derived from each silver/gold table's SQL.
    const gold = ((await answer('gold/daily_store_sales', 'direction=up&depth=0')).body as LineageGraph).nodes[0];
    expect(gold.columnLineage).toEqual({
      derived: 'sql',
      columns: [
        { name: 'store_id', derived: 'sql', inputs: [{ table: 'silver/sales', column: 'store_id' }], transformation: 'identity' },
        { name: 'day', derived: 'sql', inputs: [{ table: 'silver/sales', column: 'event_time' }], transformation: 'expression' },
        { name: 'currency', derived: 'sql', inputs: [{ table: 'silver/sales', column: 'currency' }], transformation: 'identity' },
        {
          name: 'revenue',
          derived: 'sql',
          inputs: ['status', 'quantity', 'unit_price'].map((column) => ({ table: 'silver/sales', column })),
          transformation: 'aggregate',
        },
        { name: 'units', derived: 'sql', inputs: ['status', 'quantity'].map((column) => ({ table: 'silver/sales', column })), transformation: 'aggregate' },
      ],
    });
    const silver = ((await answer('silver/sales', 'depth=0')).body as LineageGraph).nodes[0];
    expect(silver.columnLineage).toMatchObject({
      derived: 'sql',
      columns: expect.arrayContaining([
        { name: 'card_number', derived: 'sql', inputs: [{ table: 'bronze/pos_sales', column: 'card_number' }], transformation: 'expression', pii: 'mask' },
      ]),
    });
    const unknown = await answer('bronze/nothing_here');
    expect(unknown).toMatchObject({ status: 404, body: { error: expect.stringMatching(/no table at "bronze\/nothing_here".*bronze\/pos_sales/) } });
    expect(await answer('bronze/pos_sales', 'version=999')).toMatchObject({
      status: 404,
      body: { error: expect.stringMatching(/bronze\/pos_sales has no version 999/) },
    });
  });
});

describe('the lineage function, called as the Functions host calls it', () => {
  it("answers from the app's pipelines and lake settings", async () => {
    Object.assign(process.env, { SLUICE_LAKE: connectionString(), SLUICE_LAKE_CONTAINER: run.container, SLUICE_PIPELINES: POS_PIPELINE });
    const call = (path: string, query = '') =>
      lineageHttp(new HttpRequest({ method: 'GET', url: `http://localhost:7071/api/lineage/${path}${query}`, params: { path } }), new InvocationContext());
    const down = await call('bronze/pos_sales', '?direction=down&depth=2');
    expect(down.status).toBe(200);
    expect(ids(down.jsonBody as LineageGraph)).toEqual([
      'table:bronze/pos_sales',
      'table:gold/daily_store_sales',
      'table:gold/store_stock',
      'table:silver/sales',
    ]);
    expect(await call('silver/nope')).toMatchObject({ status: 404, jsonBody: { error: expect.stringMatching(/no table at "silver\/nope"/) } });
    expect(await call('silver/sales', '?depth=all')).toMatchObject({ status: 400 });
  });
});

describe('sluice lineage', () => {
  async function sluice(...argv: string[]) {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('prints the tree, the JSON graph and a bronze version down to its file', async () => {
    Object.assign(process.env, { SLUICE_LAKE: connectionString(), SLUICE_LAKE_CONTAINER: run.container });
    const text = await sluice('lineage', 'silver/sales', '--pipeline', POS_PIPELINE);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(
      /^silver\/sales \[silver\.sales, incremental, pipeline pos\]\nupstream \(what it came from\):\n {2}← bronze\/pos_sales \[pos_sales, pipeline pos\]\n {4}← landing folder pos\/sales\/\ndownstream \(what it feeds\):\n/,
    );
    expect(text.out).toMatch(/→ gold\/daily_store_sales/);
    expect(text.out).toMatch(/→ gold\/store_stock/);
    const columns = await sluice('lineage', 'gold/store_stock', '--pipeline', POS_PIPELINE, '--depth', '0', '--columns');
    expect(columns.out).toContain(
      'columns of gold/store_stock [gold.store_stock] (derived from its SQL):\n  store_id ← silver/deliveries.store_id, silver/sales.store_id (identity)\n',
    );
    expect(columns.out).toContain('  units_in_stock ← silver/deliveries.quantity, silver/sales.quantity (aggregate)\n');

    const json = await sluice('lineage', 'bronze/pos_sales', '--pipeline', POS_PIPELINE, '--direction', 'down', '--depth', '2', '--json');
    expect(json.code, json.err).toBe(0);
    expect(ids(JSON.parse(json.out) as LineageGraph)).toEqual([
      'table:bronze/pos_sales',
      'table:gold/daily_store_sales',
      'table:gold/store_stock',
      'table:silver/sales',
    ]);

    const version = await sluice('lineage', 'bronze/pos_sales', '--pipeline', POS_PIPELINE, '--version', String(ingested[0].version), '--direction', 'up');
    expect(version.code, version.err).toBe(0);
    const etag = (await new LocalStore(EXAMPLES_DATA).properties('pos/sales-2026-03-01.csv')).etag.replace(/"/g, '');
    expect(version.out).toContain(`← file pos/sales-2026-03-01.csv ETag ${etag} (11 rows)`);

    const bad = await sluice('lineage', 'bronze/nope', '--pipeline', POS_PIPELINE);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/no table at "bronze\/nope"/);
    expect((await sluice('lineage', 'bronze/pos_sales', '--pipeline', POS_PIPELINE, '--direction', 'left')).err).toMatch(
      /--direction must be up, down or both/,
    );
  });
});
