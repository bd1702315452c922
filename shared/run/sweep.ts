/**
 * The schedule timer's sweep: bronze versions (and versions of tables other tables read, committed
 * outside a run by `quarantine replay`) that no run has applied and no run is coming for.
 *
 * A bronze commit starts (or makes catch up) its pipeline's run, but that request can be lost: in
 * Azure a run that fails ends without reading the `catchUp` events raised during it, an event raised
 * as the instance completes is dropped, and `eventHubIngest` only logs a start that failed. So every
 * minute, for each `afterBronze` pipeline with no active run, the sweep compares each bronze source's
 * current version with what the tables reading it have applied (their refresh `txn`,
 * `sluice-refresh:<source>`); when a table is behind, it starts a run.
 *
 * A version can stay "behind" for good: a commit without data changes (compaction) is skipped without
 * a table commit, and a run that failed on a version (a `fail` expectation) will fail again. So a
 * source also counts as served when the pipeline's last run was created after the source's latest
 * commit (with a margin for clock skew): that run saw it, and only new data calls for another one.
 *
 * Cost per tick and pipeline: one status read; then, with no active run, one snapshot load per bronze
 * source and per table reading one, and one blob properties read per source that is behind.
 */
import { loadSnapshot, NotATableError, txnVersion, type Snapshot } from '../delta';
import type { PipelineDefinition } from '../pipeline';
import { refreshAppId } from '../refresh/incremental';
import type { LakeTables } from '../refresh/types';
import type { ObjectStore } from '../storage/types';
import { isActive, type RunClient, type RunStart, type RunStatus } from './client';
import { pipelineName } from '../pipeline/name';
import { runInstanceId, tablesReadingSource } from './plan';

/** A run's creation must follow a commit by this much to count as having seen it (clock skew). */
export const SWEEP_SKEW_MS = 5_000;

/** A source (bronze, or a table other tables read) some table has not applied yet. */
export interface UnappliedSource {
  source: string;
  /** Its current version. */
  version: number;
  /** Tables reading it, and the version each applied (-1: none). */
  behind: { table: string; applied: number }[];
}

/** What the sweep did for one pipeline. */
export interface SweepResult {
  pipeline: string;
  unapplied: UnappliedSource[];
  start: RunStart;
}

/** The table's latest version read from storage (never a cached one), or null before its first commit. */
async function loadIfExists(store: ObjectStore): Promise<Snapshot | null> {
  try {
    return await loadSnapshot(store);
  } catch (err) {
    if (err instanceof NotATableError) return null;
    throw err;
  }
}

function commitFile(version: number): string {
  return `_delta_log/${String(version).padStart(20, '0')}.json`;
}

/**
 * Whether a bronze version of a source still calls for a run: a table reading the source has not
 * applied it, and the pipeline's last (or current) run was created before it was committed.
 *
 * @param definition the pipeline
 * @param source the source name
 * @param lake the lake
 * @param last the pipeline's last run, if any
 * @param version the bronze version (default: the table's latest)
 * @returns the tables behind, or null when the version is served
 */
async function sourceBehind(
  definition: PipelineDefinition,
  source: string,
  lake: LakeTables,
  last: RunStatus | undefined,
  version?: number,
): Promise<UnappliedSource | null> {
  const store = lake((Object.hasOwn(definition.sources, source) ? definition.sources[source] : definition.tables[source]).table);
  const wanted = version ?? (await loadIfExists(store))?.version;
  if (wanted === undefined) return null;
  const tables = tablesReadingSource(definition, source);
  const applied = await Promise.all(
    tables.map(async (table) => {
      const target = await loadIfExists(lake(definition.tables[table].table));
      return { table, applied: target ? txnVersion(target, refreshAppId(source)) : -1 };
    }),
  );
  const behind = applied.filter((a) => a.applied < wanted);
  if (behind.length === 0) return null;
  if (last) {
    const committed = (await store.properties(commitFile(wanted))).lastModified.getTime();
    if (Date.parse(last.createdTime) - SWEEP_SKEW_MS >= committed) return null;
  }
  return { source, version: wanted, behind };
}

/**
 * Bronze sources of a pipeline that some reading table has not applied, leaving out those the last
 * run started after.
 *
 * @param definition the pipeline
 * @param lake the lake
 * @param last the pipeline's last run (finished), if any
 * @returns the unapplied sources
 */
export async function unappliedSources(definition: PipelineDefinition, lake: LakeTables, last: RunStatus | undefined): Promise<UnappliedSource[]> {
  // Tables read by tables count too: a commit made outside a run (`quarantine replay`) whose own
  // refresh did not happen is caught up the same way.
  const sources = [...Object.keys(definition.sources), ...Object.keys(definition.tables)].filter((s) => tablesReadingSource(definition, s).length > 0);
  const found = await Promise.all(sources.map((source) => sourceBehind(definition, source, lake, last)));
  return found.filter((f): f is UnappliedSource => f !== null);
}

/**
 * For a bronze version landed earlier and announced again (a redelivered BlobCreated event): whether
 * it still needs a run, because no table reading it applied it and no run was created after it. A
 * redelivery after a start that failed then starts the run that was lost; one for a version long
 * applied starts nothing.
 *
 * @param definition the pipeline
 * @param source the source name
 * @param version the bronze version the file landed in
 * @param lake the lake
 * @param runs the run client
 * @returns the tables behind, or null when nothing is due (also for pipelines not in `afterBronze` mode)
 */
export async function unservedBronzeVersion(
  definition: PipelineDefinition,
  source: string,
  version: number,
  lake: LakeTables,
  runs: RunClient,
): Promise<UnappliedSource | null> {
  if ((definition.trigger?.mode ?? 'afterBronze') !== 'afterBronze' || tablesReadingSource(definition, source).length === 0) return null;
  const last = await runs.status(runInstanceId(pipelineName(definition)));
  return sourceBehind(definition, source, lake, last, version);
}

/**
 * Start a run of every `afterBronze` pipeline that has bronze versions no run applied or saw, and
 * no active run. Every pipeline is tried; failures are collected.
 *
 * @param pipelines the loaded definitions
 * @param lake the lake
 * @param runs the run client
 * @returns the starts, and the failures by pipeline
 */
export async function sweepUnappliedBronze(
  pipelines: readonly PipelineDefinition[],
  lake: LakeTables,
  runs: RunClient,
): Promise<{ started: SweepResult[]; failures: { pipeline: string; error: unknown }[] }> {
  const started: SweepResult[] = [];
  const failures: { pipeline: string; error: unknown }[] = [];
  for (const definition of pipelines) {
    if ((definition.trigger?.mode ?? 'afterBronze') !== 'afterBronze') continue;
    const pipeline = pipelineName(definition);
    try {
      const last = await runs.status(runInstanceId(pipeline));
      if (last && isActive(last.runtimeStatus)) continue;
      const unapplied = await unappliedSources(definition, lake, last);
      if (unapplied.length === 0) continue;
      const reason = `sweep: ${unapplied.map((u) => `${definition.sources[u.source] ? 'bronze ' : ''}${u.source} version ${u.version} not applied by ${u.behind.map((b) => b.table).join(', ')}`).join('; ')}`;
      started.push({ pipeline, unapplied, start: await runs.startRun({ pipeline, reason }) });
    } catch (error) {
      failures.push({ pipeline, error });
    }
  }
  return { started, failures };
}
