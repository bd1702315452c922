/**
 * The lineage graph, at two grains.
 *
 * Table level, from the pipeline definitions alone: landing folders and Event Hubs feed bronze
 * tables (a source's `landing` or `eventHub`), bronze tables feed the silver/gold tables that read
 * them (`from`), and so on up to gold. Nodes are named by what they are in storage: a table by its
 * path in the lake container (`table:silver/sales`), a landing folder by its folder in the landing
 * container (`landing:pos/sales/`), an Event Hub by its name (`eventHub:network-telemetry`). Several
 * pipelines form one graph: a path is one node whichever pipeline names it.
 *
 * Version level, from the event log and the bronze Delta logs: a table version's node is
 * `table:<path>@<version>`. Upstream of a silver/gold version is the update that committed it (its
 * event record) and, through that record's lineage, the source versions it applied; upstream of a
 * bronze version is its commit's `sluiceLane` record: the landing files with their ETags
 * (`file:<path>@<etag>`) or the Event Hub sequence-number ranges (`events:<hub>/<partition>/<first>-<last>`).
 * Downstream of a version are the recorded updates of the reading tables whose applied range holds it.
 *
 * Edges point the way data flows (from the input to what it fed). A version-level edge carries the
 * version of the table it leads to. Traversal goes upstream, downstream or both from the start node,
 * `depth` edges at most (unbounded by default); `both` is the union of the two walks, not the whole
 * connected graph.
 */
import { readCommitIfExists } from '../delta';
import { tablesColumnLineage, type TableColumnLineage } from '../lineage/columns';
import type { SqlEngineOptions } from '../sql';
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables } from '../refresh/types';
import type { EventLog, TableUpdateEvent } from './event-log';
import { commitInputs, type BronzeInput } from './lineage';
import { pipelineName } from '../pipeline/name';

/** Which way to walk from the start node. */
export type LineageDirection = 'up' | 'down' | 'both';

/** Kinds of nodes. */
export type LineageNodeKind = 'landing' | 'eventHub' | 'table' | 'file' | 'events';

/** A node of the graph; fields beyond `id` and `kind` depend on the kind. */
export interface LineageNode {
  id: string;
  kind: LineageNodeKind;
  /** Table nodes: path in the lake container; file nodes: path in the landing container. */
  path?: string;
  /** Table nodes: bronze, silver, gold or the first segment of a custom path. */
  layer?: string;
  /** Table nodes: the source or table name in its pipeline; eventHub nodes: the hub. */
  name?: string;
  pipeline?: string;
  /** Table nodes of silver/gold: incremental or recompute. */
  refresh?: string;
  /** Landing nodes: the folder of the landing container. */
  folder?: string;
  /** Version-level table nodes. */
  version?: number;
  /** Version-level silver/gold nodes: the run that committed the version (false: no record found). */
  runId?: string;
  recorded?: boolean;
  /** A bronze version not written by ingestion: its Delta operation. */
  operation?: string;
  /** File nodes. */
  etag?: string;
  /** File and events nodes: rows the bronze commit wrote from them. */
  rowsWritten?: number;
  /** Events nodes. */
  eventHub?: string;
  partitionId?: string;
  firstSequenceNumber?: number;
  lastSequenceNumber?: number;
  /** Bronze commits of a source range that the update record did not list (see MAX_COMMITS). */
  truncated?: number;
  /** Table-level silver/gold nodes: which input columns each column is computed from (see ../lineage/columns.ts). */
  columnLineage?: TableColumnLineage;
  [extra: string]: unknown;
}

/** An edge, from the input to what it fed. */
export interface LineageEdge {
  from: string;
  to: string;
  /** Version-level edges: the version of the `to` table. */
  version?: number;
}

/** A lineage answer. */
export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** The walk stopped at MAX_LINEAGE_NODES nodes. */
  truncated?: boolean;
}

/** Most nodes one answer holds: a bronze version read by many runs fans out quickly. */
export const MAX_LINEAGE_NODES = 5000;
/** Updates of one table read from the event log to find versions, newest first. */
export const MAX_UPDATES_SCANNED = 1000;

/** What a table path is in the loaded definitions. */
interface TableEntry {
  node: LineageNode;
  pipeline: PipelineDefinition;
  /** The source (bronze) or table name in the pipeline. */
  name: string;
  bronze: boolean;
}

/** The table-level graph of some pipelines, with the lookups the version walk needs. */
export class TableGraph {
  readonly nodes = new Map<string, LineageNode>();
  readonly tables = new Map<string, TableEntry>();
  private readonly up = new Map<string, Set<string>>();
  private readonly down = new Map<string, Set<string>>();

  /** @param pipelines the loaded definitions */
  constructor(readonly pipelines: readonly PipelineDefinition[]) {
    for (const p of pipelines) {
      const pipeline = pipelineName(p);
      for (const source of Object.values(p.sources)) {
        const table = this.addTable(p, source.name, source.table, true);
        if (source.landing !== undefined) {
          const id = landingId(source.landing);
          this.addNode({ id, kind: 'landing', folder: source.landing, pipeline });
          this.addEdge(id, table);
        }
        if (source.eventHub) {
          const id = `eventHub:${source.eventHub.name}`;
          this.addNode({
            id,
            kind: 'eventHub',
            name: source.eventHub.name,
            ...(source.eventHub.consumerGroup ? { consumerGroup: source.eventHub.consumerGroup } : {}),
          });
          this.addEdge(id, table);
        }
      }
      for (const t of Object.values(p.tables)) this.addTable(p, t.name, t.table, false);
      for (const t of Object.values(p.tables))
        for (const from of t.from) this.addEdge(tableId(p.sources[from]?.table ?? p.tables[from].table), tableId(t.table));
    }
  }

  private addTable(p: PipelineDefinition, name: string, path: string, bronze: boolean): string {
    const id = tableId(path);
    if (!this.tables.has(path)) {
      const t = bronze ? undefined : p.tables[name];
      const node: LineageNode = {
        id,
        kind: 'table',
        path,
        layer: layerOf(name, path, bronze),
        name,
        pipeline: pipelineName(p),
        ...(t ? { refresh: t.refresh } : {}),
      };
      this.tables.set(path, { node, pipeline: p, name, bronze });
      this.addNode(node);
    }
    return id;
  }

  private addNode(node: LineageNode): void {
    if (!this.nodes.has(node.id)) this.nodes.set(node.id, node);
  }

  private addEdge(from: string, to: string): void {
    link(this.down, from, to);
    link(this.up, to, from);
  }

  /**
   * The nodes reached from a node and the edges walked.
   *
   * @param start node id
   * @param direction up, down or both
   * @param depth most edges from the start
   * @returns the sub-graph
   */
  walk(start: string, direction: LineageDirection, depth: number): LineageGraph {
    const keep = new Set<string>([start]);
    const edges = new Map<string, LineageEdge>();
    const go = (neighbours: Map<string, Set<string>>, upstream: boolean) => {
      let frontier = [start];
      const seen = new Set<string>([start]);
      for (let d = 0; d < depth && frontier.length; d++) {
        const next: string[] = [];
        for (const id of frontier) {
          for (const other of neighbours.get(id) ?? []) {
            const edge = upstream ? { from: other, to: id } : { from: id, to: other };
            edges.set(`${edge.from}→${edge.to}`, edge);
            keep.add(other);
            if (!seen.has(other)) {
              seen.add(other);
              next.push(other);
            }
          }
        }
        frontier = next;
      }
    };
    if (direction !== 'down') go(this.up, true);
    if (direction !== 'up') go(this.down, false);
    return { nodes: [...keep].map((id) => this.nodes.get(id)!), edges: [...edges.values()] };
  }

  /** Paths of the tables that read a table (their `from` names it). */
  readers(path: string): string[] {
    return [...(this.down.get(tableId(path)) ?? [])].filter((id) => id.startsWith('table:')).map((id) => id.slice('table:'.length));
  }
}

/** Node id of a table path. */
export function tableId(path: string, version?: number): string {
  return version === undefined ? `table:${path}` : `table:${path}@${version}`;
}

function landingId(folder: string): string {
  return `landing:${folder}`;
}

function link(map: Map<string, Set<string>>, from: string, to: string): void {
  let set = map.get(from);
  if (!set) map.set(from, (set = new Set()));
  set.add(to);
}

function layerOf(name: string, path: string, bronze: boolean): string {
  if (bronze) return 'bronze';
  const dot = name.indexOf('.');
  return dot > 0 ? name.slice(0, dot) : path.split('/')[0];
}

/** The table path is not in any loaded pipeline. */
export class UnknownLineagePathError extends Error {
  constructor(path: string, known: string[]) {
    super(`no table at "${path}" in the loaded pipelines (tables: ${known.sort().join(', ') || 'none'})`);
    this.name = 'UnknownLineagePathError';
  }
}

/** The version asked for does not exist. */
export class UnknownLineageVersionError extends Error {
  constructor(path: string, version: number) {
    super(`${path} has no version ${version} (no commit ${version} in its Delta log)`);
    this.name = 'UnknownLineageVersionError';
  }
}

/** What a lineage question needs. */
export interface LineageRequest {
  pipelines: readonly PipelineDefinition[];
  /** Table path in the lake container, e.g. `bronze/pos_sales`. */
  path: string;
  /** A table version: the answer is version-level. */
  version?: number;
  direction?: LineageDirection;
  /** Most edges from the start (default: no limit). */
  depth?: number;
  /** For version-level answers. */
  events?: EventLog | null;
  lake?: LakeTables;
  /** Table-level answers: add each silver/gold table's column lineage (parses the SQL with DuckDB). */
  columns?: boolean;
  sql?: SqlEngineOptions;
}

/**
 * The lineage of a table or of a table version.
 *
 * @param request what to answer
 * @returns the graph
 * @throws UnknownLineagePathError, UnknownLineageVersionError, or Error when a version-level answer
 *   has no event log or lake
 */
export async function lineageGraph(request: LineageRequest): Promise<LineageGraph> {
  const graph = new TableGraph(request.pipelines);
  const path = request.path.replace(/^\/+|\/+$/g, '');
  if (!graph.tables.has(path)) throw new UnknownLineagePathError(path, [...graph.tables.keys()]);
  const direction = request.direction ?? 'both';
  const depth = request.depth ?? Infinity;
  if (request.version === undefined) {
    const walked = graph.walk(tableId(path), direction, depth);
    if (request.columns) await addColumnLineage(graph, walked, request.lake, request.sql);
    return walked;
  }
  if (!request.events || !request.lake) throw new Error('version-level lineage needs the event log and the lake');
  return new VersionWalk(graph, request.events, request.lake).run(path, request.version, direction, depth);
}

/** Set `columnLineage` on the silver/gold table nodes of a table-level graph. */
async function addColumnLineage(graph: TableGraph, walked: LineageGraph, lake: LakeTables | undefined, sql: SqlEngineOptions | undefined): Promise<void> {
  const nodes = walked.nodes.filter((n) => n.kind === 'table' && n.path !== undefined && !graph.tables.get(n.path)!.bronze);
  const entries = nodes.map((n) => graph.tables.get(n.path!)!);
  // Without a lake no input schema is known: `SELECT *` then stays underived, with its reason.
  const noLake: LakeTables = () => {
    throw Object.assign(new Error('no lake'), { name: 'NotATableError' });
  };
  const found = await tablesColumnLineage(
    entries.map((e) => ({ definition: e.pipeline, table: e.name })),
    lake ?? noLake,
    sql,
  );
  nodes.forEach((n, i) => (n.columnLineage = found[i]));
}

/** A table version reached by the walk. */
interface VersionKey {
  path: string;
  version: number;
}

/** The version-level walk; caches the event-log queries and commit reads of one answer. */
class VersionWalk {
  private readonly nodes = new Map<string, LineageNode>();
  private readonly edges = new Map<string, LineageEdge>();
  private readonly updates = new Map<string, Promise<TableUpdateEvent[]>>();
  /** Bronze versions whose inputs an update record already listed. */
  private readonly knownInputs = new Map<string, BronzeInput[]>();
  private truncated = false;

  constructor(
    private readonly graph: TableGraph,
    private readonly events: EventLog,
    private readonly lake: LakeTables,
  ) {}

  async run(path: string, version: number, direction: LineageDirection, depth: number): Promise<LineageGraph> {
    const startId = tableId(path, version);
    const start = await this.versionNode(path, version);
    if (!start) throw new UnknownLineageVersionError(path, version);
    if (direction !== 'down') await this.walk({ path, version }, depth, true);
    if (direction !== 'up') await this.walk({ path, version }, depth, false);
    // The start first, then in the order found.
    const nodes = [this.nodes.get(startId)!, ...[...this.nodes.values()].filter((n) => n.id !== startId)];
    return { nodes, edges: [...this.edges.values()], ...(this.truncated ? { truncated: true } : {}) };
  }

  private async walk(start: VersionKey, depth: number, upstream: boolean): Promise<void> {
    let frontier: VersionKey[] = [start];
    const seen = new Set<string>([tableId(start.path, start.version)]);
    for (let d = 0; d < depth && frontier.length; d++) {
      const next: VersionKey[] = [];
      for (const key of frontier) {
        const found = upstream ? await this.inputsOf(key) : await this.readersOf(key);
        for (const other of found) {
          const id = tableId(other.path, other.version);
          if (!seen.has(id)) {
            seen.add(id);
            next.push(other);
          }
        }
        if (this.truncated) return;
      }
      frontier = next;
    }
  }

  private add(node: LineageNode): void {
    if (this.nodes.has(node.id)) return;
    if (this.nodes.size >= MAX_LINEAGE_NODES) {
      this.truncated = true;
      return;
    }
    this.nodes.set(node.id, node);
  }

  private edge(from: string, to: string, version: number): void {
    if (this.nodes.has(from) && this.nodes.has(to)) this.edges.set(`${from}→${to}`, { from, to, version });
  }

  private tableUpdates(path: string): Promise<TableUpdateEvent[]> {
    let found = this.updates.get(path);
    if (!found) {
      const entry = this.graph.tables.get(path)!;
      found = this.events.tableUpdates(pipelineName(entry.pipeline), entry.name, MAX_UPDATES_SCANNED);
      this.updates.set(path, found);
    }
    return found;
  }

  /** The update record that committed a silver/gold version. */
  private async updateOf(path: string, version: number): Promise<TableUpdateEvent | undefined> {
    return (await this.tableUpdates(path)).find((e) => e.status === 'updated' && e.metrics?.targetVersion === version);
  }

  /** The node of a table version (added), or undefined when the table has no such version. */
  private async versionNode(path: string, version: number): Promise<LineageNode | undefined> {
    const id = tableId(path, version);
    const known = this.nodes.get(id);
    if (known) return known;
    const entry = this.graph.tables.get(path)!;
    const base = { ...entry.node, id, version };
    if (entry.bronze) {
      if (!this.knownInputs.has(`${path}@${version}`)) {
        const actions = await readCommitIfExists(this.lake(path), version);
        if (!actions) return undefined;
        this.knownInputs.set(`${path}@${version}`, commitInputs(version, actions));
      }
      const operation = this.knownInputs.get(`${path}@${version}`)!.find((i) => i.operation)?.operation;
      this.add({ ...base, ...(operation ? { operation } : {}) });
      return this.nodes.get(id);
    }
    const update = await this.updateOf(path, version);
    if (!update && !(await readCommitIfExists(this.lake(path), version))) return undefined;
    this.add(update ? { ...base, runId: update.runId, recorded: true } : { ...base, recorded: false });
    return this.nodes.get(id);
  }

  /** Upstream: what a version came from; adds nodes and edges, returns the table versions to go on from. */
  private async inputsOf(key: VersionKey): Promise<VersionKey[]> {
    const entry = this.graph.tables.get(key.path)!;
    const to = tableId(key.path, key.version);
    if (entry.bronze) {
      await this.versionNode(key.path, key.version);
      for (const input of this.knownInputs.get(`${key.path}@${key.version}`) ?? []) {
        const node = inputNode(input, entry);
        if (!node) continue;
        this.add(node);
        this.edge(node.id, to, key.version);
      }
      return [];
    }
    const update = await this.updateOf(key.path, key.version);
    if (!update?.lineage) return [];
    const out: VersionKey[] = [];
    for (const source of update.lineage.sources) {
      if (!this.graph.tables.has(source.path)) continue;
      if (source.kind === 'bronze') {
        const byVersion = new Map<number, BronzeInput[]>();
        for (const input of source.inputs ?? []) byVersion.set(input.version, [...(byVersion.get(input.version) ?? []), input]);
        for (const [version, inputs] of byVersion) {
          this.knownInputs.set(`${source.path}@${version}`, inputs);
          const node = await this.versionNode(source.path, version);
          if (!node) continue;
          if (source.truncated) node.truncated = source.truncated;
          this.edge(node.id, to, key.version);
          out.push({ path: source.path, version });
        }
        continue;
      }
      // A silver/gold source: the versions the update applied that an update of that table committed.
      const applied = (await this.tableUpdates(source.path)).filter(
        (e) =>
          e.status === 'updated' &&
          e.metrics &&
          e.metrics.targetVersion !== null &&
          e.metrics.targetVersion > source.fromVersion &&
          e.metrics.targetVersion <= source.toVersion,
      );
      const versions = applied.length ? applied.map((e) => e.metrics!.targetVersion!) : source.toVersion > source.fromVersion ? [source.toVersion] : [];
      for (const version of versions) {
        const node = await this.versionNode(source.path, version);
        if (!node) continue;
        this.edge(node.id, to, key.version);
        out.push({ path: source.path, version });
      }
    }
    return out;
  }

  /** Downstream: the recorded updates of reading tables whose applied range holds the version. */
  private async readersOf(key: VersionKey): Promise<VersionKey[]> {
    const from = tableId(key.path, key.version);
    const out: VersionKey[] = [];
    for (const reader of this.graph.readers(key.path)) {
      for (const update of await this.tableUpdates(reader)) {
        if (update.status !== 'updated' || update.metrics?.targetVersion == null) continue;
        const applied = update.lineage?.sources.some((s) => s.path === key.path && s.fromVersion < key.version && key.version <= s.toVersion);
        if (!applied) continue;
        const version = update.metrics.targetVersion;
        const node = await this.versionNode(reader, version);
        if (!node) continue;
        this.edge(from, node.id, version);
        out.push({ path: reader, version });
      }
    }
    return out;
  }
}

/** The file or events node of one bronze input (undefined for a commit not written by ingestion). */
function inputNode(input: BronzeInput, entry: TableEntry): LineageNode | undefined {
  const rows = input.rowsWritten !== undefined ? { rowsWritten: input.rowsWritten } : {};
  if (input.file !== undefined) {
    const source = entry.pipeline.sources[entry.name];
    return {
      id: `file:${input.file}${input.etag ? `@${input.etag}` : ''}`,
      kind: 'file',
      path: input.file,
      ...(input.etag ? { etag: input.etag } : {}),
      ...(source?.landing !== undefined ? { landing: source.landing } : {}),
      ...rows,
    };
  }
  if (input.eventHub !== undefined) {
    return {
      id: `events:${input.eventHub}/${input.partitionId}/${input.firstSequenceNumber}-${input.lastSequenceNumber}`,
      kind: 'events',
      eventHub: input.eventHub,
      ...(input.partitionId !== undefined ? { partitionId: input.partitionId } : {}),
      ...(input.firstSequenceNumber !== undefined ? { firstSequenceNumber: input.firstSequenceNumber } : {}),
      ...(input.lastSequenceNumber !== undefined ? { lastSequenceNumber: input.lastSequenceNumber } : {}),
      ...rows,
    };
  }
  return undefined;
}
