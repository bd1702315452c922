/**
 * Scheduled pipelines (`schedule: "<NCRONTAB>"`): one timer function (`pipelineSchedule`) fires at
 * second 0 of every minute and starts every pipeline whose schedule has an occurrence since the
 * timer's previous occurrence, `(scheduleStatus.last, tick]` (one minute when the host recorded
 * none, at most one day), so occurrences during a restart or a stalled worker still run, once. One timer for all pipelines keeps the function list static
 * (the same in Azure and on the local host) whatever the definitions say; a schedule finer than a
 * minute still runs at most once a minute, which a refresh (itself minutes long) cannot beat anyway.
 * A start while a run is going makes that run catch up, so a slow run never piles up instances.
 *
 * NCRONTAB is validated and parsed by shared/pipeline/ncrontab.ts. Day of month and day of week
 * must both match. Times are UTC.
 */
import { parseNcrontab } from '../pipeline/ncrontab';
import type { PipelineDefinition } from '../pipeline/definition';
import { pipelineName } from '../pipeline/name';

export { parseNcrontab } from '../pipeline/ncrontab';

/** NCRONTAB of the timer that starts scheduled pipelines. */
export const SCHEDULE_TICK = '0 * * * * *';

/**
 * Whether a schedule fires at a second (UTC).
 *
 * @param fields what parseNcrontab returned
 * @param at the time (milliseconds ignored)
 * @returns true when every field matches
 */
export function firesAt(fields: Set<number>[], at: Date): boolean {
  return (
    fields[0].has(at.getUTCSeconds()) &&
    fields[1].has(at.getUTCMinutes()) &&
    fields[2].has(at.getUTCHours()) &&
    fields[3].has(at.getUTCDate()) &&
    fields[4].has(at.getUTCMonth() + 1) &&
    fields[5].has(at.getUTCDay())
  );
}

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
  const end = Math.floor(tick.getTime() / 1000) * 1000;
  const start = Math.floor((since?.getTime() ?? end - 60_000) / 1000) * 1000 + 1000;
  const due: string[] = [];
  for (const p of pipelines) {
    if (p.trigger?.mode !== 'schedule') continue;
    const fields = parseNcrontab(p.trigger.schedule);
    for (let t = start; t <= end; t += 1000) {
      if (firesAt(fields, new Date(t))) {
        due.push(pipelineName(p));
        break;
      }
    }
  }
  return due;
}
