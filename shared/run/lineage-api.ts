/**
 * `GET /api/lineage/{*path}[?version=&direction=up|down|both&depth=]`, host-agnostic (functions/lineage.ts
 * maps Functions requests onto it; the local host serves the same function): the lineage graph of a
 * table (path in the lake container, e.g. `bronze/pos_sales`) or, with `version`, of one version of it
 * (see lineage-graph.ts). Both directions and any depth by default. 400 names a bad parameter, 404
 * an unknown path or version. Table-level answers carry each silver/gold table's column lineage.
 */
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables } from '../refresh/types';
import type { ApiResponse } from './api';
import type { EventLog } from './event-log';
import type { SqlEngineOptions } from '../sql';
import { lineageGraph, UnknownLineagePathError, UnknownLineageVersionError, type LineageDirection } from './lineage-graph';

/** Query parameters the route reads (`code` is the function key, read by the host). */
const PARAMETERS = ['version', 'direction', 'depth', 'code'];
const DIRECTIONS: readonly LineageDirection[] = ['up', 'down', 'both'];

/** Options of a lineage question, as read from a query string or a command line. */
export interface LineageOptions {
  version?: number;
  direction?: LineageDirection;
  depth?: number;
}

/**
 * Read and check the options.
 *
 * @param get the raw value of an option (null when absent)
 * @param name how to name an option in an error (`version` or `--version`)
 * @returns the options, or the message naming what is wrong
 */
export function lineageOptions(
  get: (option: 'version' | 'direction' | 'depth') => string | null,
  name: (option: string) => string = (o) => o,
): LineageOptions | { error: string } {
  const out: LineageOptions = {};
  const version = get('version');
  if (version !== null) {
    if (!/^\d{1,15}$/.test(version)) return { error: `${name('version')} must be a table version (a whole number ≥ 0), not '${version}'` };
    out.version = Number(version);
  }
  const direction = get('direction');
  if (direction !== null) {
    if (!DIRECTIONS.includes(direction as LineageDirection)) return { error: `${name('direction')} must be up, down or both, not '${direction}'` };
    out.direction = direction as LineageDirection;
  }
  const depth = get('depth');
  if (depth !== null) {
    if (!/^\d{1,6}$/.test(depth)) return { error: `${name('depth')} must be a whole number ≥ 0 (edges from the table), not '${depth}'` };
    out.depth = Number(depth);
  }
  return out;
}

/** Where a lineage answer reads from. */
export interface LineageSources {
  pipelines: readonly PipelineDefinition[];
  events: EventLog | null;
  lake: LakeTables;
  /** SQL engine options for the column lineage of table-level answers. */
  sql?: SqlEngineOptions;
}

/**
 * Answer a lineage request.
 *
 * @param sources definitions, event log, lake
 * @param path the `{*path}` route parameter
 * @param query the query string
 * @returns 200 with `{ nodes, edges }`, 400 or 404
 */
export async function lineageResponse(sources: LineageSources, path: string, query: URLSearchParams): Promise<ApiResponse> {
  const unknown = [...new Set(query.keys())].filter((k) => !PARAMETERS.includes(k));
  if (unknown.length)
    return { status: 400, body: { error: `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (expected version, direction, depth)` } };
  if (!path || path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    return { status: 400, body: { error: `'${path}' is not a table path in the lake container, such as bronze/pos_sales` } };
  const options = lineageOptions((o) => query.get(o));
  if ('error' in options) return { status: 400, body: { error: options.error } };
  if (options.version !== undefined && !sources.events) return { status: 404, body: { error: 'table versions are not recorded here (no event log)' } };
  try {
    const graph = await lineageGraph({
      pipelines: sources.pipelines,
      path,
      ...options,
      events: sources.events,
      lake: sources.lake,
      columns: true,
      sql: sources.sql,
    });
    return { status: 200, body: graph };
  } catch (err) {
    if (err instanceof UnknownLineagePathError || err instanceof UnknownLineageVersionError) return { status: 404, body: { error: err.message } };
    throw err;
  }
}
