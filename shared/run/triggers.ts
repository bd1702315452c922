/**
 * What starts a run besides a person: a bronze commit (pipelines in `afterBronze` mode, the default)
 * and the schedule (pipelines in `schedule` mode). Both go through a `RunClient`, so a trigger while a
 * run is going makes that run catch up rather than start a second instance.
 */
import type { PipelineDefinition } from '../pipeline/definition';
import type { RunClient, RunStart } from './client';
import { pipelineName, tablesReadingSource } from './plan';
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
  const mode = commit.pipeline.trigger?.mode ?? 'afterBronze';
  if (mode !== 'afterBronze' || tablesReadingSource(commit.pipeline, commit.source).length === 0) return null;
  return runs.startRun({ pipeline: pipelineName(commit.pipeline), reason: `bronze ${commit.source} version ${commit.version}` });
}

/** Scheduled pipelines whose start failed; the others were started. */
export class ScheduledStartError extends Error {
  constructor(
    readonly failures: { pipeline: string; error: unknown }[],
    /** The starts that succeeded. */
    readonly started: { pipeline: string; start: RunStart }[],
  ) {
    super(`could not start ${failures.length} scheduled pipeline${failures.length === 1 ? '' : 's'}: ${failures.map((f) => `${f.pipeline}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ')}`);
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
export async function startScheduledRuns(pipelines: readonly PipelineDefinition[], runs: RunClient, tick: Date, since?: Date): Promise<{ pipeline: string; start: RunStart }[]> {
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
