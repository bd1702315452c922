/**
 * Monitoring on the local host, as `npm start` runs it: the POS example (with objectives added to its
 * YAML) fed through the landing container and the Event Hubs feed, refreshed by its run; then the
 * metrics timer run through `POST /admin/functions/metrics`, and the metrics API checked against the
 * lake itself (describe), the event log's counts and the input. Then time is moved on for the timer
 * (its clock is injected): input stopped for two hours breaches the freshness objectives, and forty
 * days later the retention removes the first rows. OpenTelemetry is checked with in-memory exporters
 * registered as the global providers: spans per file, per batch and per table update, the timer's
 * gauges and breach counter, log records with structured attributes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { metrics, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../dev/host';
import { runMetricsTimer, runtimeMetricsInputs, type MetricSeries } from '../../shared/monitoring';
import { runtimeServices } from '../../shared/run';
import { runMetricsCommand } from '../../cli/metrics';
import { openContainerStore } from '../../shared/storage/lake';
import { exportLogsThroughOpenTelemetry } from '../../shared/telemetry';
import { POS_DATA, POS_PIPELINE } from '../support/refresh-helpers';
import { startTestLocalHost, type TestLocalHost } from '../support/local-host';

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const logRecords = new InMemoryLogRecordExporter();

/** The POS example (its objectives: freshness of bronze/pos_sales and silver/sales), and one on the returns' dead letters. */
function posWithObjectives(): string {
  const text = readFileSync(POS_PIPELINE, 'utf8');
  expect(text).toMatch(/objectives: \{ freshness: 1h, minPassRate: 0\.8 \}/);
  return text.replace('  pos_returns:\n', (m) => `${m}    objectives: { maxDeadLetteredRows: 0 }\n`);
}

let host: LocalHost;
let api: TestLocalHost['api'];
let until: TestLocalHost['until'];
let started: Date;

const seriesOf = (all: MetricSeries[], table: string, metric: string) => all.find((s) => s.table === table && s.metric === metric);
const last = (s: MetricSeries | undefined) => s?.points[s.points.length - 1]?.[1];

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [metricReader] }));
  logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logRecords })] }));
  exportLogsThroughOpenTelemetry(true);

  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-metrics-'));
  writeFileSync(nodePath.join(dir, 'pos.yaml'), posWithObjectives());
  started = new Date();
  ({ host, api, until } = await startTestLocalHost({ pipeline: nodePath.join(dir, 'pos.yaml'), watchIntervalMs: 200 }));
  const landing = openContainerStore(host.runtime.settings.lake, host.runtime.settings.landingContainer, '');
  await landing.write('pos/sales/sales-2026-03-01.csv', readFileSync(nodePath.join(POS_DATA, 'sales-2026-03-01.csv')));
  await landing.write('pos/deliveries/deliveries-2026-03-01.csv', readFileSync(nodePath.join(POS_DATA, 'deliveries-2026-03-01.csv')));
  // The second return's quote never closes: the rest of the file is dead-lettered.
  await landing.write('pos/returns/returns-2026-03-01.csv', 'return_id;amount\nR-1;10.50\n"R-2;5.00\nR-3;7.25\n');
  const events = readFileSync(nodePath.join(POS_DATA, 'network-events.ndjson'), 'utf8');
  const posted = await api('/api/dev/eventhubs/network-telemetry', { method: 'POST', body: events, headers: { 'content-type': 'application/x-ndjson' } });
  expect(posted.status, JSON.stringify(posted.body)).toBe(200);
  // Every table refreshed and the run finished.
  await until('the run to finish with gold refreshed', async () => {
    const updates = await api('/api/pipelines/pos/tables/gold.store_stock/updates');
    const run = await api('/api/pipelines/pos/runs/refresh-pos');
    const stock = (updates.body?.updates ?? []) as { metrics?: { rowsRead: number } }[];
    const sales = ((await api('/api/pipelines/pos/tables/silver.sales/updates')).body?.updates ?? []) as { status: string }[];
    return run.status === 200 && run.body.runtimeStatus === 'Completed' && stock.length && sales.some((u) => u.status === 'updated') ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  exportLogsThroughOpenTelemetry(false);
  await host?.stop();
});

describe('metrics on the local host', () => {
  let series: MetricSeries[];

  it('runs the metrics timer on POST /admin/functions/metrics and answers series for every table over a range', async () => {
    expect((await api('/admin/functions/metrics', { method: 'POST' })).status).toBe(202);
    const range = `from=${encodeURIComponent(new Date(started.getTime() - 60_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`;
    const tables = [
      'bronze/pos_sales',
      'bronze/pos_deliveries',
      'bronze/pos_returns',
      'bronze/store_receipts',
      'bronze/network_events',
      'silver/sales',
      'silver/deliveries',
      'gold/daily_store_sales',
      'gold/store_stock',
      'pipeline:pos',
    ];
    // The timer writes its points table by table: wait for all of them (on a busy machine the answer
    // came between the gold table's points and the pipeline's).
    series = await until('the metrics of the timer', async () => {
      const answer = await api(`/api/metrics?${range}`);
      expect(answer.status).toBe(200);
      const all = answer.body.series as MetricSeries[];
      const complete = seriesOf(all, 'gold/store_stock', 'version') && tables.every((t) => all.some((s) => s.table === t && s.points.length > 0));
      return complete ? all : undefined;
    });
    for (const t of tables)
      expect(
        series.some((s) => s.table === t && s.points.length > 0),
        t,
      ).toBe(true);
    for (const s of series)
      for (const [time, value] of s.points) expect(Number.isFinite(value) && !Number.isNaN(Date.parse(time)), `${s.table} ${s.metric}`).toBe(true);

    // Table state equals what describe reads from the lake.
    for (const path of ['bronze/pos_sales', 'silver/sales', 'gold/store_stock']) {
      const d = (await api(`/api/tables/${path}`)).body;
      expect(last(seriesOf(series, path, 'version')), path).toBe(d.version);
      expect(last(seriesOf(series, path, 'rows')), path).toBe(d.numRecords);
      expect(last(seriesOf(series, path, 'files')), path).toBe(d.numFiles);
      expect(last(seriesOf(series, path, 'bytes')), path).toBe(d.sizeBytes);
      expect(last(seriesOf(series, path, 'freshnessSeconds')), path).toBeLessThan(600);
      // Azurite lists every blob in the account's default tier: all the bytes are Hot.
      expect(last(seriesOf(series, path, 'bytes.Hot')), path).toBe(d.sizeBytes);
    }
    // Bronze: nothing left in the landing folders, the returns' dead letters, the Event Hubs positions.
    expect(last(seriesOf(series, 'bronze/pos_sales', 'landingPendingFiles'))).toBe(0);
    expect(last(seriesOf(series, 'bronze/pos_returns', 'deadLetteredRows'))).toBeGreaterThan(0);
    expect(last(seriesOf(series, 'bronze/pos_returns', 'deadLetterRecords'))).toBe(1);
    expect(last(seriesOf(series, 'bronze/network_events', 'eventHubLagEvents'))).toBe(0);
    expect(last(seriesOf(series, 'bronze/network_events', 'eventHubAppliedSequence.0'))).toBe(5);
    // From the event log: the expectation counts of silver.sales (11 rows, one failing each rule), rows in.
    expect(last(seriesOf(series, 'silver/sales', 'expectationPassRate.valid_quantity'))).toBeCloseTo(10 / 11, 6);
    expect(last(seriesOf(series, 'silver/sales', 'passRate'))).toBeCloseTo(10 / 11, 6);
    expect(seriesOf(series, 'silver/sales', 'rowsIn')!.points.reduce((n, p) => n + p[1], 0)).toBe(11);
    expect(seriesOf(series, 'silver/sales', 'quarantinedRows')!.points.reduce((n, p) => n + p[1], 0)).toBe(2);
    expect(seriesOf(series, 'pipeline:pos', 'runsCompleted')!.points.reduce((n, p) => n + p[1], 0)).toBeGreaterThanOrEqual(1);
    expect(seriesOf(series, 'pipeline:pos', 'runsFailed')!.points.every((p) => p[1] === 0)).toBe(true);

    // One table and one metric.
    const one = await api(`/api/metrics?table=silver/sales&metric=rows&${range}`);
    expect(one.body.series.map((s: MetricSeries) => [s.table, s.metric])).toEqual([['silver/sales', 'rows']]);
    expect(one.body.series[0]).toMatchObject({ unit: 'rows', pipeline: 'pos' });
    // A function key in the query (Azure's ?code=) is not a parameter of ours.
    expect((await api(`/api/metrics?table=silver/sales&metric=rows&code=not-checked-locally&${range}`)).body).toEqual(one.body);
  });

  it('answers 400 naming a bad parameter', async () => {
    expect(await api('/api/metrics?from=yesterday')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^from must be an ISO-8601 time/) } });
    expect(await api('/api/metrics?table=../etc')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^table must be a table's path/) } });
    expect(await api('/api/metrics?tabel=silver/sales')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown parameter 'tabel'/) } });
    expect(await api('/api/metrics?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z')).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^from .* must not be after to/) },
    });
  });

  it('prints the same series with sluice metrics, and the API body with --json', async () => {
    const env = { SLUICE_LAKE: host.azurite.connectionString };
    const run = async (...argv: string[]) => {
      let out = '';
      const status = await runMetricsCommand(argv, { out: (t: string) => void (out += t), err: () => undefined }, env);
      return { status, out };
    };
    const from = new Date(started.getTime() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const text = await run('--table', 'silver/sales', '--from', from, '--to', to);
    const rows = (await api('/api/tables/silver/sales')).body.numRecords;
    expect(text.out).toMatch(new RegExp(`^silver/sales +rows +${rows} rows +\\(1 point, latest `, 'm'));
    expect(text.out).toMatch(/^silver\/sales +expectationPassRate\.valid_quantity +0\.9091 ratio 0–1/m);
    const json = await run('--metric', 'version', '--from', from, '--to', to, '--json');
    const viaApi = await api(`/api/metrics?metric=version&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect(JSON.parse(json.out)).toEqual(viaApi.body);
    await expect(run('--from', 'last week')).rejects.toThrow(/--from must be an ISO-8601 time/);
    const breaches = await run('--breaches', '--from', from, '--to', to);
    expect(breaches.out).toMatch(/bronze\/pos_returns {2}maxDeadLetteredRows {2}pos bronze\/pos_returns: \d+ dead-lettered rows, more than the objective's 0/);
  });

  it('records breaches: dead letters at once, freshness once input stopped (clock moved on two hours)', async () => {
    const now = Date.now();
    const wide = `from=${encodeURIComponent(new Date(started.getTime() - 60_000).toISOString())}&to=${encodeURIComponent(new Date(now + 3 * 3_600_000).toISOString())}`;
    const before = (await api(`/api/metrics/breaches?${wide}`)).body.breaches as { table: string; objective: string }[];
    expect(before.map((b) => `${b.table} ${b.objective}`)).toContain('bronze/pos_returns maxDeadLetteredRows');
    expect(before.some((b) => b.objective === 'freshness')).toBe(false);

    const later = new Date(now + 2 * 3_600_000);
    const tick = await runMetricsTimer({ ...runtimeMetricsInputs(host.runtime, runtimeServices()), now: () => later });
    expect(tick.problems).toEqual([]);
    expect(tick.breaches.map((b) => `${b.table} ${b.objective}`).sort()).toEqual([
      'bronze/pos_returns maxDeadLetteredRows',
      'bronze/pos_sales freshness',
      'silver/sales freshness',
    ]);
    const after = (await api(`/api/metrics/breaches?table=silver/sales&${wide}`)).body.breaches;
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      pipeline: 'pos',
      table: 'silver/sales',
      objective: 'freshness',
      metric: 'freshnessSeconds',
      threshold: 3600,
      time: later.toISOString(),
    });
    expect(after[0].value).toBeGreaterThan(2 * 3600 - 600);
    expect(after[0].message).toMatch(/pos silver\/sales: last rows written 2\.\d h ago; objective 1\.0 h/);
    // The breach is also a point of its series in the metrics answer.
    const asSeries = (await api(`/api/metrics?table=silver/sales&metric=breach.freshness&${wide}`)).body.series;
    expect(asSeries[0].points).toEqual([[later.toISOString(), after[0].value]]);
  });

  it('removes rows past the retention', async () => {
    const first = `from=${encodeURIComponent(new Date(started.getTime() - 60_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 3 * 3_600_000).toISOString())}`;
    expect((await api(`/api/metrics?${first}`)).body.series.length).toBeGreaterThan(0);
    const far = new Date(Date.now() + (host.runtime.settings.metricsRetentionDays + 10) * 86_400_000);
    const tick = await runMetricsTimer({ ...runtimeMetricsInputs(host.runtime, runtimeServices()), now: () => far });
    expect(tick.removed).toBeGreaterThan(50);
    expect((await api(`/api/metrics?${first}`)).body.series).toEqual([]);
    expect((await api(`/api/metrics/breaches?${first}`)).body.breaches).toEqual([]);
    const recent = await api(
      `/api/metrics?table=silver/sales&metric=version&from=${encodeURIComponent(new Date(far.getTime() - 60_000).toISOString())}&to=${encodeURIComponent(far.toISOString())}`,
    );
    expect(recent.body.series[0].points).toHaveLength(1);
  });

  it('exports spans, metrics and structured log records through OpenTelemetry', async () => {
    const finished = spans.getFinishedSpans();
    const file = finished.find((s) => s.name === 'sluice.ingest.file' && s.attributes.file === 'pos/sales/sales-2026-03-01.csv');
    expect(file?.attributes).toMatchObject({ pipeline: 'pos', source: 'pos_sales', table: 'bronze/pos_sales', status: 'committed', rowsWritten: 11 });
    const batch = finished.find((s) => s.name === 'sluice.ingest.events');
    expect(batch?.attributes).toMatchObject({ pipeline: 'pos', table: 'bronze/network_events', partition: '0', rowsWritten: 6 });
    const update = finished.find((s) => s.name === 'sluice.refresh.table' && s.attributes.table === 'silver.sales' && s.attributes.status === 'updated');
    expect(update?.attributes).toMatchObject({ pipeline: 'pos', rowsIn: 11 });
    expect(typeof update?.attributes.version).toBe('number');
    // One span per run, from the first metrics collection after it ended, never repeated by later ones.
    const runSpans = finished.filter((s) => s.name === 'sluice.run');
    expect(runSpans.length).toBeGreaterThanOrEqual(1);
    expect(new Set(runSpans.map((s) => s.attributes.runId)).size).toBe(runSpans.length);
    const runSpan = runSpans.find((s) => s.attributes.runId === update?.attributes.runId);
    expect(runSpan?.attributes).toMatchObject({ pipeline: 'pos', outcome: 'completed', tables: 4 });
    // It spans the run: from the run's start (its id) to its last table update.
    expect(runSpan!.startTime[0] * 1000 + runSpan!.startTime[1] / 1e6).toBe(Date.parse(String(update?.attributes.runId).split('@')[1]));

    await metricReader.forceFlush();
    const exported = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    // Gauges and counters only here: their points hold numbers.
    const named = (name: string) =>
      exported.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: number }[]);
    const freshness = named('sluice.freshnessSeconds').filter((p) => p.attributes.table === 'silver/sales');
    expect(freshness.length).toBeGreaterThan(0);
    expect(named('sluice.rows').some((p) => p.attributes.table === 'silver/sales' && typeof p.value === 'number')).toBe(true);
    expect(named('sluice.expectationPassRate').some((p) => p.attributes.expectation === 'valid_quantity')).toBe(false); // event-log points are not re-emitted
    const breaches = named('sluice.objective.breaches').filter((p) => p.attributes.objective === 'freshness' && p.attributes.table === 'silver/sales');
    // Cumulative: one at two hours, one at the retention tick forty days on; none at the first tick.
    expect(breaches.map((p) => p.value)).toEqual([2]);
    expect(named('sluice.table.updates').some((p) => p.attributes.table === 'silver.sales' && p.attributes.status === 'updated')).toBe(true);

    const records = logRecords.getFinishedLogRecords();
    const ingestLine = records.find((r) => String(r.body).startsWith('blobCreated: landing/pos/sales/sales-2026-03-01.csv'));
    expect(ingestLine?.attributes).toMatchObject({ pipeline: 'pos', table: 'bronze/pos_sales', file: 'pos/sales/sales-2026-03-01.csv', status: 'committed' });
    expect(typeof ingestLine?.attributes.version).toBe('number');
    const refreshLine = records.find((r) => String(r.body).startsWith('refreshTable: ') && r.attributes.table === 'silver.sales');
    expect(refreshLine?.attributes).toMatchObject({ pipeline: 'pos', status: 'updated' });
    const breachLine = records.find((r) => String(r.body).startsWith('metrics: objective breached'));
    expect(breachLine?.attributes).toMatchObject({ pipeline: 'pos', table: 'bronze/pos_returns', objective: 'maxDeadLetteredRows' });
  });
});
