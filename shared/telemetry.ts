/**
 * OpenTelemetry for every layer: the tracer and meter named `sluice`, spans around a unit of work
 * (one landing file, one Event Hubs batch, one table update), and log records with structured
 * attributes (pipeline, table, version, file) instead of values only inside the message text.
 *
 * Only `@opentelemetry/api` is used here: without an SDK registered (the CLI, tests that do not ask
 * for one) every call is a no-op. The Function App registers the Azure Monitor exporter at start-up
 * when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (functions/telemetry.ts), and calls
 * `exportLogsThroughOpenTelemetry` so that `logLine` sends each line once, as a log record with its
 * attributes, rather than once more as plain text through the invocation's log.
 */
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { metrics, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/** Instrumentation scope of every span, instrument and log record. */
export const TELEMETRY_SCOPE = 'sluice';

/** The tracer. */
export const tracer = () => trace.getTracer(TELEMETRY_SCOPE);
/** The meter. */
export const meter = () => metrics.getMeter(TELEMETRY_SCOPE);

/**
 * Run work inside a span; an exception marks the span as failed and is rethrown.
 *
 * @param name span name, e.g. `sluice.ingest.file`
 * @param attributes attributes known at the start
 * @param work the work, given the span to add attributes to
 * @returns what the work returns
 */
export async function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Attributes with undefined values left out (OpenTelemetry refuses them). */
export function definedAttributes(attributes: Record<string, string | number | boolean | undefined | null>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/** A log level, as the Functions invocation context names them. */
export type LogLevel = 'information' | 'warning' | 'error';

/** Where a line goes when log records are not exported (the invocation's log, the console). */
export interface LineSink {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

let exportingLogs = false;

/**
 * From now on, `logLine` emits OpenTelemetry log records instead of writing to the invocation's log
 * (functions/telemetry.ts calls it once the exporter is registered).
 *
 * @param on whether to export (tests turn it off again)
 */
export function exportLogsThroughOpenTelemetry(on = true): void {
  exportingLogs = on;
}

const SEVERITY: Record<LogLevel, SeverityNumber> = { information: SeverityNumber.INFO, warning: SeverityNumber.WARN, error: SeverityNumber.ERROR };

/**
 * Log one line with structured attributes: a log record carrying them when log records are
 * exported, else the line on the sink as before.
 *
 * @param sink the invocation context or any console-like sink
 * @param level the level
 * @param message the line, readable without the attributes
 * @param attributes pipeline, table, version, file, … (undefined values are left out)
 */
export function logLine(sink: LineSink, level: LogLevel, message: string, attributes: Record<string, string | number | boolean | undefined | null>): void {
  if (exportingLogs) {
    logs.getLogger(TELEMETRY_SCOPE).emit({ body: message, severityNumber: SEVERITY[level], severityText: level, attributes: definedAttributes(attributes) });
    return;
  }
  if (level === 'error') sink.error(message);
  else if (level === 'warning') sink.warn(message);
  else sink.log(message);
}
