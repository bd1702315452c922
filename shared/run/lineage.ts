/**
 * Lineage of one table update: where its rows came from, as far back as the landing files and event
 * ranges. For a source that is a bronze table, the bronze commits applied (versions after the one
 * applied before, up to the one applied now) are read from the Delta log; their
 * `commitInfo.sluiceLane.sources` name the landing file and ETag, or the Event Hub partition and
 * sequence-number range, with the rows each wrote. For a source that is a silver/gold table the
 * versions applied are enough: that table's own update record carries its lineage in turn, so
 * bronze → silver → gold is followed record by record (by run id, one partition query).
 *
 * Only the newest `MAX_COMMITS` commits of a range are read (a first build over a long bronze
 * history would otherwise read the whole log); `truncated` says how many were left out.
 */
import { laneCommitRecord, readCommitIfExists } from '../delta';
import type { PipelineDefinition } from '../pipeline';
import type { LakeTables, TableUpdateMetrics } from '../refresh/types';

/** Commits read per source and update, at most. */
export const MAX_COMMITS = 64;

/** One bronze commit's inputs. */
export interface BronzeInput {
  version: number;
  /** Landing file path and ETag (file sources). */
  file?: string;
  etag?: string;
  /** Event Hub partition and sequence numbers (event sources). */
  eventHub?: string;
  partitionId?: string;
  firstSequenceNumber?: number;
  lastSequenceNumber?: number;
  rowsWritten?: number;
  /** A commit not written by ingestion (no lane record): its operation. */
  operation?: string;
}

/** Lineage of one source of an update. */
export interface SourceLineage {
  name: string;
  kind: 'bronze' | 'table';
  /** Table path in the lake container. */
  path: string;
  fromVersion: number;
  toVersion: number;
  /** Bronze only: what the applied commits ingested. */
  inputs?: BronzeInput[];
  /** Commits of the range not read (see MAX_COMMITS). */
  truncated?: number;
}

/** Lineage of one table update. */
export interface TableLineage {
  table: string;
  path: string;
  targetVersion: number | null;
  sources: SourceLineage[];
}

/**
 * Work out an update's lineage.
 *
 * @param definition the pipeline
 * @param metrics what the update did
 * @param lake the lake
 * @returns the lineage
 */
export async function tableLineage(definition: PipelineDefinition, metrics: TableUpdateMetrics, lake: LakeTables): Promise<TableLineage> {
  const sources: SourceLineage[] = [];
  for (const s of metrics.sources) {
    const bronze = definition.sources[s.name];
    if (!bronze) {
      sources.push({ name: s.name, kind: 'table', path: definition.tables[s.name]?.table ?? s.name, fromVersion: s.fromVersion, toVersion: s.toVersion });
      continue;
    }
    const first = Math.max(s.fromVersion + 1, s.toVersion - MAX_COMMITS + 1, 0);
    const versions: number[] = [];
    for (let v = first; v <= s.toVersion; v++) versions.push(v);
    const store = lake(bronze.table);
    const commits = await Promise.all(versions.map((v) => readCommitIfExists(store, v)));
    const inputs: BronzeInput[] = [];
    // One push per input: a commit can add thousands of files, too many to spread into push().
    versions.forEach((version, i) => {
      for (const input of commitInputs(version, commits[i] ?? [])) inputs.push(input);
    });
    const skipped = first - Math.max(s.fromVersion + 1, 0);
    sources.push({
      name: s.name,
      kind: 'bronze',
      path: bronze.table,
      fromVersion: s.fromVersion,
      toVersion: s.toVersion,
      inputs,
      ...(skipped > 0 ? { truncated: skipped } : {}),
    });
  }
  return { table: metrics.table, path: metrics.path, targetVersion: metrics.targetVersion, sources };
}

/**
 * What one bronze commit ingested: its landing files with their ETags, or its Event Hub ranges.
 *
 * @param version the commit's version
 * @param actions the commit's actions, as read from the log
 * @returns one input per file or event range; a data commit not written by ingestion gives one input
 *   naming its operation; a commit adding no data gives none
 */
export function commitInputs(version: number, actions: readonly unknown[]): BronzeInput[] {
  const info = (actions as Record<string, unknown>[]).find((a) => 'commitInfo' in a)?.commitInfo as { operation?: string } | undefined;
  const lane = laneCommitRecord(actions)?.sources ?? [];
  if (lane.length === 0) {
    // Commits that add no data (table creation, compaction) fed nothing into the update.
    const adds = (actions as Record<string, { dataChange?: boolean }>[]).some((a) => 'add' in a && a.add.dataChange !== false);
    return adds ? [{ version, ...(info?.operation ? { operation: info.operation } : {}) }] : [];
  }
  return lane.map((s) => {
    const hub = s.eventHub as { hub?: string; partitionId?: string } | undefined;
    const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : undefined);
    return {
      version,
      ...(typeof s.file === 'string' ? { file: s.file } : {}),
      ...(typeof s.etag === 'string' ? { etag: s.etag } : {}),
      ...(hub
        ? { eventHub: hub.hub, partitionId: hub.partitionId, firstSequenceNumber: num(s.firstSequenceNumber), lastSequenceNumber: num(s.lastSequenceNumber) }
        : {}),
      ...(num(s.rowsWritten) !== undefined ? { rowsWritten: num(s.rowsWritten) } : {}),
    };
  });
}
