/**
 * What starts a run besides a person: a bronze commit (pipelines in `afterBronze` mode, the default),
 * a commit to a silver/gold table outside a run (`quarantine replay`), which the tables reading it must
 * follow as they follow bronze, and the schedule (pipelines in `schedule` mode). Both go through a `RunClient`, so a trigger while a
 * run is going makes that run catch up rather than start a second instance.
 */
import type { PipelineDefinition } from '../pipeline';
import type { RunClient, RunStart } from './client';
import { pipelineName } from '../pipeline/name';
import { tablesReadingSource } from './plan';
import { duePipelines } from './schedule';

/** A bronze commit that wrote rows. */
export interface BronzeCommit {
  pipeline: PipelineDefinition;
  /** The source (bronze table) name in that pipeline. */
  source: string;
  version: number;
}

/**
 * Start (or make catch up) the run of the pipeline reading a bronze table that just got rows, when
 * that pipeline refreshes after bronze commits and has a table reading the source.
 *
 * @param commit the pipeline, source and version
 * @param runs the run client
 * @returns the start, or null when nothing was due
 */
export async function startRunAfterBronze(commit: BronzeCommit, runs: RunClient): Promise<RunStart | null> {
  return startRunAfterCommit(commit.pipeline, commit.source, `bronze ${commit.source} version ${commit.version}`, runs);
}

/** A commit to a silver/gold table made outside a run (`quarantine replay`). */
export interface TableCommit {
  pipeline: PipelineDefinition;
  /** The table's name in that pipeline (`silver.sales`). */
  table: string;
  version: number;
  /** What made it, for the run's reasons. */
  by: string;
  /** Request ids the run carries, so that whoever waits for it can tell its run from others. */
  requests?: string[];
}

/**
 * Start (or make catch up) the run of a pipeline whose table changed outside a run, as a bronze
 * commit does: the tables reading it are refreshed by that run, in `afterBronze` mode (a scheduled
 * pipeline takes the change in at its next occurrence).
 *
 * @param commit the pipeline, table, version and cause
 * @param runs the run client
 * @returns the start, or null when nothing reads the table or the pipeline runs on a schedule
 */
export async function startRunAfterTableCommit(commit: TableCommit, runs: RunClient): Promise<RunStart | null> {
  return startRunAfterCommit(commit.pipeline, commit.table, `${commit.by}: ${commit.table} version ${commit.version}`, runs, commit.requests);
}

async function startRunAfterCommit(
  pipeline: PipelineDefinition,
  changed: string,
  reason: string,
  runs: RunClient,
  requests?: string[],
): Promise<RunStart | null> {
  const mode = pipeline.trigger?.mode ?? 'afterBronze';
  if (mode !== 'afterBronze' || tablesReadingSource(pipeline, changed).length === 0) return null;
  return runs.startRun({ pipeline: pipelineName(pipeline), reason, ...(requests ? { requests } : {}) });
}

/** Scheduled pipelines whose start failed; the others were started. */
export class ScheduledStartError extends Error {
  constructor(
    readonly failures: { pipeline: string; error: unknown }[],
    /** The starts that succeeded. */
    readonly started: { pipeline: string; start: RunStart }[],
  ) {
    super(
      `could not start ${failures.length} scheduled pipeline${failures.length === 1 ? '' : 's'}: ${failures.map((f) => `${f.pipeline}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ')}`,
    );
    this.name = 'ScheduledStartError';
  }
}

/**
 * Start the scheduled pipelines due at a timer tick. Every due pipeline is tried: one that cannot
 * start does not keep the others from theirs.
 *
 * @param pipelines the loaded definitions
 * @param runs the run client
 * @param tick the timer's time
 * @param since exclusive start of the window (default one minute before the tick; see scheduleSince)
 * @returns the starts, by pipeline
 * @throws ScheduledStartError after trying them all, naming each pipeline that failed
 */
export async function startScheduledRuns(
  pipelines: readonly PipelineDefinition[],
  runs: RunClient,
  tick: Date,
  since?: Date,
): Promise<{ pipeline: string; start: RunStart }[]> {
  const out: { pipeline: string; start: RunStart }[] = [];
  const failures: { pipeline: string; error: unknown }[] = [];
  for (const pipeline of duePipelines(pipelines, tick, since)) {
    try {
      out.push({ pipeline, start: await runs.startRun({ pipeline, reason: `schedule at ${tick.toISOString()}` }) });
    } catch (error) {
      failures.push({ pipeline, error });
    }
  }
  if (failures.length) throw new ScheduledStartError(failures, out);
  return out;
}
