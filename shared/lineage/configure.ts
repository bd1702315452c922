/**
 * The OpenLineage reporter the settings ask for (`SLUICE_OPENLINEAGE_URL`, `SLUICE_OPENLINEAGE_CONTAINER`,
 * `SLUICE_OPENLINEAGE_NAMESPACE`), or none when neither destination is set.
 */
import type { SluiceSettings } from '../config/settings';
import type { SqlEngineOptions } from '../sql';
import { openContainerStore } from '../storage/lake';
import { BlobEventSink, HttpEventSink, OpenLineageEmitter, type LineageEventSink } from './emitters';
import { OpenLineageReporter } from './table-runs';

/**
 * Build the reporter of the settings.
 *
 * @param settings validated settings
 * @param sql engine options (column lineage parses the SQL)
 * @returns the reporter, or undefined when OpenLineage is off
 */
export function openLineageReporter(settings: SluiceSettings, sql: SqlEngineOptions = {}): OpenLineageReporter | undefined {
  const config = settings.openLineage;
  if (!config) return undefined;
  const sinks: LineageEventSink[] = [];
  if (config.url) sinks.push(new HttpEventSink(config.url));
  if (config.container) sinks.push(new BlobEventSink(openContainerStore(settings.lake, config.container, '')));
  return new OpenLineageReporter(new OpenLineageEmitter(sinks), config.namespace, sql);
}
