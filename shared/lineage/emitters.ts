/**
 * Where OpenLineage events go: an HTTP endpoint (POST of the event as JSON, as OpenLineage's HTTP
 * transport does; Marquez and other OpenLineage backends take them at `/api/v1/lineage`) and/or a
 * blob container (one JSON blob per event, for a consumer that reads them from storage).
 *
 * Lineage is a by-product of a table update, never a condition of it: `OpenLineageEmitter.emit`
 * never throws. A failed send is logged with what failed and counted (`stats`), and the update goes on.
 */
import type { ObjectStore } from '../storage/types';
import type { OpenLineageRunEvent } from './openlineage';

/** One destination of events. */
export interface LineageEventSink {
  /** Where it sends, for messages (never with credentials). */
  readonly target: string;
  send(event: OpenLineageRunEvent): Promise<void>;
}

/** How long one POST may take before it counts as failed. */
export const OPENLINEAGE_HTTP_TIMEOUT_MS = 10_000;

/** POSTs each event to a URL. */
export class HttpEventSink implements LineageEventSink {
  readonly target: string;

  /**
   * @param url the endpoint
   * @param timeoutMs most time one POST may take
   */
  constructor(
    private readonly url: string,
    private readonly timeoutMs = OPENLINEAGE_HTTP_TIMEOUT_MS,
  ) {
    // The query string may carry a key; messages name the endpoint without it.
    const u = new URL(url);
    this.target = `${u.origin}${u.pathname}`;
  }

  async send(event: OpenLineageRunEvent): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) {
      const text = (await response.text().catch(() => '')).slice(0, 300);
      throw new Error(`${this.target} answered ${response.status}${text ? `: ${text}` : ''}`);
    }
  }
}

/** Writes each event as a blob `<job namespace>/<job name>/<event time>-<type>-<run id>.json`. */
export class BlobEventSink implements LineageEventSink {
  readonly target: string;

  /** @param store the store rooted at the events' container */
  constructor(private readonly store: ObjectStore) {
    this.target = store.url;
  }

  async send(event: OpenLineageRunEvent): Promise<void> {
    await this.store.write(eventBlobPath(event), JSON.stringify(event), { contentType: 'application/json' });
  }
}

/**
 * The blob path of an event: by job, in time order, one per event (the type and run id keep a START
 * and a COMPLETE of the same millisecond apart).
 *
 * @param event the event
 * @returns the path
 */
export function eventBlobPath(event: OpenLineageRunEvent): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._=-]/g, '_');
  return `${safe(event.job.namespace)}/${safe(event.job.name)}/${event.eventTime.replace(/[:.]/g, '-')}-${event.eventType}-${event.run.runId}.json`;
}

/** Counts of one emitter's sends since the process started. */
export interface EmitterStats {
  sent: number;
  failed: number;
}

/** Sends events to every sink; never throws. */
export class OpenLineageEmitter {
  private readonly counts: EmitterStats = { sent: 0, failed: 0 };

  /** @param sinks where events go */
  constructor(readonly sinks: readonly LineageEventSink[]) {}

  /**
   * Send an event to every sink.
   *
   * @param event the event
   * @param log where a failed send is reported
   */
  async emit(event: OpenLineageRunEvent, log: (line: string) => void): Promise<void> {
    await Promise.all(
      this.sinks.map(async (sink) => {
        try {
          await sink.send(event);
          this.counts.sent++;
        } catch (err) {
          this.counts.failed++;
          log(
            `OpenLineage: ${event.eventType} of ${event.job.name} not sent to ${sink.target} (${this.counts.failed} failed so far; the update is not affected): ${(err as Error).message}`,
          );
        }
      }),
    );
  }

  /** Sends that succeeded and failed so far. */
  stats(): EmitterStats {
    return { ...this.counts };
  }
}
