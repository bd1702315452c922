/**
 * Scheduled pipelines (`schedule: "<NCRONTAB>"`): one timer function (`pipelineSchedule`) fires at
 * second 0 of every minute and starts every pipeline whose schedule has an occurrence since the
 * timer's previous occurrence, `(scheduleStatus.last, tick]` (one minute when the host recorded
 * none, at most one day), so occurrences during a restart or a stalled worker still run, once. One timer for all pipelines keeps the function list static
 * (the same in Azure and on the local host) whatever the definitions say; a schedule finer than a
 * minute still runs at most once a minute, which a refresh (itself minutes long) cannot beat anyway.
 * A start while a run is going makes that run catch up, so a slow run never piles up instances.
 *
 * When a schedule fires is shared/pipeline/ncrontab.ts's answer, the same the local host's timers use.
 */
import { firesBetween, parseSchedule } from '../pipeline/ncrontab';
import type { PipelineDefinition } from '../pipeline';
import { pipelineName } from './plan';

/** NCRONTAB of the timer that starts scheduled pipelines. */
export const SCHEDULE_TICK = '0 * * * * *';

/** The longest span a late or restarted timer catches up on (older occurrences are not started). */
export const MAX_SCHEDULE_CATCH_UP_MS = 24 * 60 * 60_000;

/**
 * Where the window of a timer tick starts: the occurrence the host recorded last
 * (`timer.scheduleStatus.last`), so ticks the host skipped (a restart, a deployment, a stalled
 * worker) are caught up, at most one day back; one minute when the host recorded none.
 *
 * @param last `scheduleStatus.last` (ISO text), if any
 * @param tick the current tick
 * @returns the exclusive start of the window
 */
export function scheduleSince(last: string | undefined, tick: Date): Date {
  const at = last ? Date.parse(last) : NaN;
  // The local host says 1970 and Azure year 1 for "never": a first tick looks back one minute only.
  if (!Number.isFinite(at) || at <= 0 || at >= tick.getTime()) return new Date(tick.getTime() - 60_000);
  return new Date(Math.max(at, tick.getTime() - MAX_SCHEDULE_CATCH_UP_MS));
}

/**
 * Pipelines in `schedule` mode with an occurrence in `(since, tick]`.
 *
 * @param pipelines the loaded definitions
 * @param tick the timer's time (rounded down to the second)
 * @param since exclusive start of the window (default `tick − 60 s`; see scheduleSince)
 * @returns the names of the pipelines due
 */
export function duePipelines(pipelines: readonly PipelineDefinition[], tick: Date, since?: Date): string[] {
  const end = new Date(Math.floor(tick.getTime() / 1000) * 1000);
  const start = since ?? new Date(end.getTime() - 60_000);
  return pipelines.filter((p) => p.trigger?.mode === 'schedule' && firesBetween(parseSchedule(p.trigger.schedule), start, end)).map(pipelineName);
}
