/**
 * `sluice lineage <path>`: the lineage graph of a table of the app's pipelines (SLUICE_PIPELINES, or
 * the definition `--pipeline` names) over the lake the app's settings name, the same graph
 * `GET /api/lineage/{*path}` answers (shared/run/lineage-graph.ts), as an indented tree or as JSON.
 */
import { appRoot, loadPipelines } from '../shared/host/pipelines';
import { loadPipelineDefinition, type PipelineDefinition } from '../shared/pipeline';
import {
  EventLog,
  lineageGraph,
  lineageOptions,
  tableId,
  UnknownLineagePathError,
  UnknownLineageVersionError,
  type LineageGraph,
  type LineageNode,
} from '../shared/run';
import { openLakeStore, openLakeTables } from '../shared/storage/lake';
import { EVENTS_TABLE } from '../shared/storage/lake-layout';
import { parseCommandLine, UsageError } from '../shared/command-line/usage';
import { sqlOptionsFromEnv } from '../shared/sql';
import type { Io } from './ingest';
import { lakeSettings } from './pipeline';

/** Help text of the lineage command (part of `sluice --help`). */
export const LINEAGE_HELP = `  lineage <path>       where a table's data comes from and where it goes: landing folders and Event
                       Hubs → bronze → silver → gold, from the pipelines of SLUICE_PIPELINES
                       (<path> is the table's path in the lake container, e.g. bronze/pos_sales)
      --version N          one version of the table: the versions, landing files (with ETags) and
                           event ranges it came from, and the versions of other tables made from it
                           (from the event log and the bronze Delta logs)
      --direction D        up (inputs), down (readers) or both (default)
      --depth N            at most N steps from the table (default: all)
      --columns            also print, for each silver/gold table, the input columns each of its
                           columns is computed from (derived from its SQL; always in --json)
      --pipeline <file>    use this definition instead of SLUICE_PIPELINES
      --json               { nodes: [{ id, kind, … }], edges: [{ from, to, version? }] }
`;

const OPTIONS = {
  version: { type: 'string' },
  direction: { type: 'string' },
  depth: { type: 'string' },
  pipeline: { type: 'string' },
  columns: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice lineage …`.
 *
 * @param argv the arguments after `lineage`
 * @param io output sinks
 * @param env the environment (settings)
 * @returns the exit status
 */
export async function runLineageCommand(argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(LINEAGE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`'lineage' takes one table path, such as bronze/pos_sales, got ${positionals.length}`);
  const options = lineageOptions(
    (o) => values[o] ?? null,
    (o) => `--${o}`,
  );
  if ('error' in options) throw new UsageError(options.error);
  const settings = lakeSettings(env);
  let pipelines: PipelineDefinition[];
  if (values.pipeline) pipelines = [await loadPipelineDefinition(values.pipeline)];
  else pipelines = loadPipelines(settings.pipelines, appRoot(), !!env.SLUICE_PIPELINES?.trim());
  const path = positionals[0].replace(/^\/+|\/+$/g, '');
  let graph: LineageGraph;
  try {
    graph = await lineageGraph({
      pipelines,
      path,
      ...options,
      events: new EventLog(openLakeTables(settings.lake)(EVENTS_TABLE)),
      lake: (p) => openLakeStore(settings, p),
      columns: values.json === true || values.columns === true,
      sql: sqlOptionsFromEnv(env),
    });
  } catch (err) {
    // A path or version that does not exist is a wrong command line, not a failure.
    if (err instanceof UnknownLineagePathError || err instanceof UnknownLineageVersionError) throw new UsageError(err.message);
    throw err;
  }
  if (values.json) io.out(JSON.stringify(graph, null, 2) + '\n');
  else {
    io.out(lineageText(graph, tableId(path, options.version), options.direction ?? 'both'));
    if (values.columns) io.out(columnsText(graph));
  }
  return 0;
}

/**
 * The graph as indented trees: what the start came from, then what it fed.
 *
 * @param graph the graph
 * @param start the start node's id
 * @param direction which trees to print
 * @returns text
 */
export function lineageText(graph: LineageGraph, start: string, direction: 'up' | 'down' | 'both'): string {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const inputs = new Map<string, string[]>();
  const readers = new Map<string, string[]>();
  for (const e of graph.edges) {
    inputs.set(e.to, [...(inputs.get(e.to) ?? []), e.from]);
    readers.set(e.from, [...(readers.get(e.from) ?? []), e.to]);
  }
  let out = `${label(nodes.get(start)!)}\n`;
  const tree = (id: string, next: Map<string, string[]>, arrow: string, indent: string, path: Set<string>, printed: Set<string>) => {
    for (const other of next.get(id) ?? []) {
      const node = nodes.get(other);
      if (!node || path.has(other)) continue;
      const again = printed.has(other) && (next.get(other)?.length ?? 0) > 0;
      out += `${indent}${arrow} ${label(node)}${again ? ' (as above)' : ''}\n`;
      if (again) continue;
      printed.add(other);
      tree(other, next, arrow, `${indent}  `, new Set([...path, other]), printed);
    }
  };
  if (direction !== 'down') {
    out += inputs.get(start)?.length ? 'upstream (what it came from):\n' : 'upstream: nothing\n';
    tree(start, inputs, '←', '  ', new Set([start]), new Set());
  }
  if (direction !== 'up') {
    out += readers.get(start)?.length ? 'downstream (what it feeds):\n' : 'downstream: nothing\n';
    tree(start, readers, '→', '  ', new Set([start]), new Set());
  }
  if (graph.truncated) out += `(stopped at ${graph.nodes.length} nodes)\n`;
  return out;
}

function label(n: LineageNode): string {
  switch (n.kind) {
    case 'landing':
      return `landing folder ${n.folder || '(container root)'}`;
    case 'eventHub':
      return `Event Hub ${n.name}`;
    case 'file':
      return `file ${n.path}${n.etag ? ` ETag ${n.etag}` : ''}${n.rowsWritten !== undefined ? ` (${n.rowsWritten} rows)` : ''}`;
    case 'events':
      return `events ${n.eventHub} partition ${n.partitionId ?? '?'} #${n.firstSequenceNumber ?? '?'}–${n.lastSequenceNumber ?? '?'}${n.rowsWritten !== undefined ? ` (${n.rowsWritten} rows)` : ''}`;
    default: {
      const what = [`${n.name}`, n.refresh, `pipeline ${n.pipeline}`].filter(Boolean).join(', ');
      const version = n.version === undefined ? '' : ` version ${n.version}`;
      const extra = n.runId ? ` run ${n.runId}` : n.recorded === false ? ' (no update recorded)' : n.operation ? ` (${n.operation})` : '';
      return `${n.path}${version} [${what}]${extra}${n.truncated ? ` (+${n.truncated} older commits not listed)` : ''}`;
    }
  }
}

/**
 * The column lineage of the graph's silver/gold tables.
 *
 * @param graph a table-level graph with column lineage
 * @returns text
 */
export function columnsText(graph: LineageGraph): string {
  let out = '';
  for (const n of graph.nodes) {
    const c = n.columnLineage;
    if (!c) continue;
    out += `columns of ${n.path} [${n.name}]${c.derived ? ' (derived from its SQL)' : ''}:\n`;
    if (!c.derived) {
      out += `  not derived: ${c.reason}\n`;
      continue;
    }
    for (const col of c.columns) {
      if (!col.derived) out += `  ${col.name} ← ? (${col.reason})\n`;
      else
        out += `  ${col.name} ← ${col.inputs.map((i) => `${i.table}.${i.column}`).join(', ') || '(no column: a constant)'} (${col.transformation}${col.pii ? `, pii ${col.pii}` : ''})\n`;
    }
  }
  return out;
}
