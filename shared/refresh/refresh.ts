/**
 * The refresh stage's entry point: bring one silver/gold table up to date with what it reads. This is
 * the work of one orchestration activity; it takes references (the definition, a table name, a way to
 * open lake tables) and returns plain metrics.
 *
 * Each call opens its own SQL engine (bounded memory, private run folder) and closes it, whatever
 * happens. Errors: `RefreshError` (terminal: definition problems, a non-append source change, a
 * `fail` expectation) or the storage/commit errors of the layers below (which say whether they are
 * transient).
 */
import { withSqlEngine } from '../sql';
import { QUARANTINE_SUFFIX } from '../pipeline';
import { RefreshError } from './errors';
import { refreshIncremental } from './incremental';
import type { RefreshRequest, TableUpdateMetrics } from './types';
import { registerPiiHash, requirePiiKey } from './pii';
import { refreshRecompute } from './recompute';

/**
 * Refresh one table of a pipeline.
 *
 * @param request the definition, the table's name, the lake, engine options, PII key
 * @returns what the update did
 */
export async function refreshTable(request: RefreshRequest): Promise<TableUpdateMetrics> {
  const table = request.definition.tables[request.table];
  if (!table) {
    const known = Object.keys(request.definition.tables);
    throw new RefreshError(
      'definition',
      request.table,
      `refresh: no table "${request.table}" in the pipeline definition${request.definition.file ? ` ${request.definition.file}` : ''} (tables: ${known.join(', ') || 'none'})`,
    );
  }
  const hashed = Object.values(table.pii).includes('hash');
  let key: string | undefined;
  if (hashed) {
    try {
      key = requirePiiKey(request.piiKey, table.name);
    } catch (err) {
      throw new RefreshError('definition', table.name, (err as Error).message);
    }
  }
  const metrics = await withSqlEngine(
    request.sql ?? {},
    (engine) => (table.refresh === 'incremental' ? refreshIncremental(engine, request) : refreshRecompute(engine, request)),
    key ? (connection) => registerPiiHash(connection, key) : undefined,
  );
  // `skipped`: an earlier attempt committed and may have died before telling.
  if (request.onCommitted && metrics.status !== 'unchanged') {
    if (metrics.targetVersion !== null) await request.onCommitted(metrics.path);
    if (metrics.quarantineVersion !== null) await request.onCommitted(`${metrics.path}${QUARANTINE_SUFFIX}`);
  }
  return metrics;
}
