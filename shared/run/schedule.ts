/**
 * Scheduled pipelines (`schedule: "<NCRONTAB>"`): one timer function (`pipelineSchedule`) fires at
 * second 0 of every minute and starts every pipeline whose schedule has an occurrence in the minute
 * that just ended, `(tick − 60 s, tick]`. One timer for all pipelines keeps the function list static
 * (the same in Azure and on the local host) whatever the definitions say; a schedule finer than a
 * minute still runs at most once a minute, which a refresh (itself minutes long) cannot beat anyway.
 * A start while a run is going makes that run catch up, so a slow run never piles up instances.
 *
 * NCRONTAB: six fields `{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a
 * range `a-b`, either with `/step`, or a comma list; month and weekday names (JAN, MON…). Day of
 * month and day of week must both match. Times are UTC. The definition loader validates schedules.
 */
import type { PipelineDefinition } from '../pipeline/definition';
import { pipelineName } from './plan';

/** NCRONTAB of the timer that starts scheduled pipelines. */
export const SCHEDULE_TICK = '0 * * * * *';

const FIELDS = [
  { min: 0, max: 59 },
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/**
 * The allowed values of each field of a (valid) NCRONTAB expression.
 *
 * @param text the expression
 * @returns six sets: seconds, minutes, hours, days, months, weekdays
 */
export function parseNcrontab(text: string): Set<number>[] {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`NCRONTAB needs 6 fields, got ${fields.length} in "${text}"`);
  return fields.map((field, i) => {
    const spec = FIELDS[i];
    const value = (part: string) => {
      const named = spec.names?.indexOf(part.toUpperCase()) ?? -1;
      const n = named >= 0 ? spec.min + named : Number(part);
      if (!Number.isInteger(n)) throw new Error(`NCRONTAB field "${field}" of "${text}" is not valid`);
      return i === 5 && n === 7 ? 0 : n;
    };
    const out = new Set<number>();
    for (const item of field.split(',')) {
      const [range, stepText] = item.split('/');
      const step = stepText === undefined ? 1 : Number(stepText);
      let from = spec.min;
      let to = spec.max;
      if (range !== '*') {
        const [a, b] = range.split('-');
        from = value(a);
        to = b !== undefined ? value(b) : stepText !== undefined ? spec.max : from;
      }
      for (let v = from; v <= to; v += step) out.add(v);
    }
    return out;
  });
}

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

/**
 * Pipelines in `schedule` mode with an occurrence in `(tick − 60 s, tick]`.
 *
 * @param pipelines the loaded definitions
 * @param tick the timer's time (rounded down to the second)
 * @returns the names of the pipelines due
 */
export function duePipelines(pipelines: readonly PipelineDefinition[], tick: Date): string[] {
  const end = Math.floor(tick.getTime() / 1000) * 1000;
  const due: string[] = [];
  for (const p of pipelines) {
    if (p.trigger?.mode !== 'schedule') continue;
    const fields = parseNcrontab(p.trigger.schedule);
    for (let t = end - 59_000; t <= end; t += 1000) {
      if (firesAt(fields, new Date(t))) {
        due.push(pipelineName(p));
        break;
      }
    }
  }
  return due;
}
