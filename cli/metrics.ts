/**
 * `sluice metrics`: the series the metrics timer stored in the Azure Table `SluiceMetrics` of the lake
 * the app's settings name (as the dead-letter and pipeline commands use them), read through the same
 * parsing and store as `GET /api/metrics` (shared/monitoring/api.ts), so `--json` prints the same body.
 */
import { breachesResponse, metricsResponse, MetricStore, type MetricSeries, type ObjectiveBreach } from '../shared/monitoring';
import { openLakeTables } from '../shared/storage/lake';
import { METRICS_TABLE } from '../shared/storage/lake-layout';
import { parseCommandLine, UsageError, type CommandIo as Io } from '../shared/command-line/usage';
import { lakeSettings } from './pipeline';

/** Help text of `sluice metrics` (part of `sluice --help`). */
export const METRICS_HELP = `  metrics              the metrics the app's metrics timer recorded (every 5 minutes by default):
                       one line per table and metric with its latest value, unit and point count
      --table <path>       only this table (its path in the lake container, e.g. silver/sales;
                           pipeline:<name> for a pipeline's run metrics)
      --metric <name>      only this metric (e.g. freshnessSeconds, expectationPassRate.valid_quantity)
      --from <ISO-8601>    start of the range (default: 24 hours before --to)
      --to <ISO-8601>      end of the range (default: now)
      --breaches           the objective breaches recorded in the range instead
      --json               the body GET /api/metrics (or /api/metrics/breaches) answers
  The metrics command uses the app's lake settings, as the pipeline commands do.
`;

const OPTIONS = {
  table: { type: 'string' },
  metric: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  breaches: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice metrics …`.
 *
 * @param argv the arguments after `metrics`
 * @param io output sinks
 * @param env the environment (settings)
 * @param now the clock (default range ends now)
 * @returns the exit status
 */
export async function runMetricsCommand(argv: string[], io: Io, env: Record<string, string | undefined> = process.env, now = new Date()): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(METRICS_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`'metrics' takes no arguments (choose with --table and --metric), got ${positionals.join(' ')}`);
  if (values.breaches && values.metric !== undefined) throw new UsageError('--metric does not apply with --breaches');
  const query = new URLSearchParams();
  for (const key of ['table', 'metric', 'from', 'to'] as const) if (values[key] !== undefined) query.set(key, values[key]);
  const store = new MetricStore(openLakeTables(lakeSettings(env).lake)(METRICS_TABLE));
  const answer = values.breaches ? await breachesResponse(store, query, now) : await metricsResponse(store, query, now);
  // The API names its parameters; the command line calls them options.
  if (answer.status === 400) throw new UsageError(`--${(answer.body as { error: string }).error.replace(/^unknown parameter /, 'unknown option ')}`);
  if (values.json) {
    io.out(`${JSON.stringify(answer.body, null, 2)}\n`);
    return 0;
  }
  const body = answer.body as {
    from: string;
    to: string;
    series?: (MetricSeries & { unit: string })[];
    breaches?: (Omit<ObjectiveBreach, 'time'> & { time: string })[];
  };
  if (body.breaches) {
    for (const b of body.breaches) io.out(`${b.time}  ${b.table}  ${b.objective}  ${b.message}\n`);
    io.out(`${body.breaches.length} breach${body.breaches.length === 1 ? '' : 'es'} from ${body.from} to ${body.to}\n`);
    return 0;
  }
  const series = body.series ?? [];
  const width = Math.max(5, ...series.map((s) => s.table.length));
  const metricWidth = Math.max(6, ...series.map((s) => s.metric.length));
  for (const s of series) {
    const [time, value] = s.points[s.points.length - 1];
    io.out(
      `${s.table.padEnd(width)}  ${s.metric.padEnd(metricWidth)}  ${formatValue(value)} ${s.unit}`.trimEnd() +
        `  (${s.points.length} point${s.points.length === 1 ? '' : 's'}, latest ${time})\n`,
    );
  }
  io.out(
    `${series.length} series from ${body.from} to ${body.to}${series.length ? '' : ' (has the metrics timer run? POST /admin/functions/metrics on the local host)'}\n`,
  );
  return 0;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4).replace(/0+$/, '');
}
