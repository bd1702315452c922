/**
 * The metrics timer's OpenTelemetry side on its own, with in-memory exporters as the global
 * providers: which points become gauges (with family parts as attributes), the breach counter, and
 * the one span per run emitted once the run has ended (a failed run after it settled).
 */
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAILED_RUN_SETTLE_MS, recordCollection, recordRunSpans, type RunSummary } from '../../shared/monitoring';

const spans = new InMemorySpanExporter();
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });

beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

const NOW = new Date('2026-03-01T12:00:00Z');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

describe('OpenTelemetry of the metrics timer', () => {
  it('records the state points of this collection as gauges, families with their part, and counts breaches', async () => {
    recordCollection(
      [
        { table: 'silver/sales', metric: 'rows', time: NOW, value: 7, pipeline: 'pos' },
        { table: 'silver/sales', metric: 'bytes.Cool', time: NOW, value: 2048, pipeline: 'pos' },
        { table: 'bronze/events', metric: 'eventHubAppliedSequence.3', time: NOW, value: 41, pipeline: 'pos' },
        // An update read from the event log, dated before the collection: the activity emitted it already.
        { table: 'silver/sales', metric: 'rowsIn', time: minutes(-3), value: 11, pipeline: 'pos', key: 'run-1' },
      ],
      [
        {
          time: NOW,
          pipeline: 'pos',
          table: 'silver/sales',
          objective: 'freshness',
          metric: 'freshnessSeconds',
          value: 7300,
          threshold: 3600,
          message: 'late',
        },
      ],
      NOW,
    );
    await reader.forceFlush();
    const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const points = (name: string) =>
      all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: number }[]);
    expect(points('sluice.rows').map((p) => [p.attributes, p.value])).toEqual([[{ table: 'silver/sales', pipeline: 'pos' }, 7]]);
    expect(all.find((m) => m.descriptor.name === 'sluice.rows')?.descriptor.unit).toBe('rows');
    expect(points('sluice.bytes').map((p) => [p.attributes.tier, p.value])).toEqual([['Cool', 2048]]);
    expect(points('sluice.eventHubAppliedSequence').map((p) => [p.attributes.partition, p.value])).toEqual([['3', 41]]);
    expect(points('sluice.rowsIn')).toEqual([]);
    expect(points('sluice.objective.breaches').map((p) => [p.attributes, p.value])).toEqual([
      [{ table: 'silver/sales', pipeline: 'pos', objective: 'freshness' }, 1],
    ]);
  });

  it('emits one span per ended run, between the previous collection and this one', () => {
    const run = (runId: string, end: Date, over: Partial<RunSummary> = {}): RunSummary => ({
      pipeline: 'pos',
      runId,
      start: minutes(-30),
      end,
      failed: false,
      tablesRecorded: 4,
      tableCount: 4,
      ...over,
    });
    const settle = FAILED_RUN_SETTLE_MS / 60_000;
    const runs = [
      run('completed-now', minutes(-1)),
      run('completed-before', minutes(-6)), // ended before the previous collection: emitted then
      run('running', minutes(-1), { tablesRecorded: 2 }),
      run('failed-settled', minutes(-settle - 2), { failed: true, tablesRecorded: 2 }),
      run('failed-settling', minutes(-2), { failed: true, tablesRecorded: 2 }),
    ];
    expect(recordRunSpans(runs, minutes(-5), NOW)).toEqual(['completed-now', 'failed-settled']);
    // The next collection emits none of them again; the failed run still settling waits its turn.
    expect(recordRunSpans(runs, NOW, minutes(5))).toEqual([]);
    expect(recordRunSpans(runs, minutes(5), minutes(settle))).toEqual(['failed-settling']);
    const emitted = spans.getFinishedSpans().filter((s) => s.name === 'sluice.run');
    expect(emitted.map((s) => [s.attributes.runId, s.attributes.outcome, s.status.code])).toEqual([
      ['completed-now', 'completed', 0],
      ['failed-settled', 'failed', 2],
      ['failed-settling', 'failed', 2],
    ]);
    const first = emitted[0];
    expect(first.startTime[0] * 1000 + first.startTime[1] / 1e6).toBe(minutes(-30).getTime());
    expect(first.endTime[0] * 1000 + first.endTime[1] / 1e6).toBe(minutes(-1).getTime());
  });
});
