/**
 * NCRONTAB schedules as the Functions timer trigger reads them: six fields
 * `{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a range `a-b`, any of
 * those followed by `/n` (every n-th value; a lone value with a step runs to the field's end), or a
 * comma list of those; months and weekdays also by their three-letter English names. Times are UTC, as in Azure unless `WEBSITE_TIME_ZONE` is set.
 *
 * Day of month and day of week must both match (NCrontab's rule, unlike Vixie cron's "either").
 * Validation is shared/pipeline/ncrontab.ts's `ncrontabProblem` and parsing shared/run/schedule.ts's
 * `parseNcrontab`; this module adds when a schedule fires next, for the local host's timers.
 */
import { ncrontabProblem, parseNcrontab } from '../shared/pipeline/ncrontab';

/** A parsed schedule: the allowed values of each field. */
export interface Schedule {
  readonly text: string;
  readonly seconds: ReadonlySet<number>;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
}

/**
 * Parse an NCRONTAB expression (with the pipeline schedules' parser, shared/run/schedule.ts).
 *
 * @param text the expression, e.g. `0 0 * * * *` (hourly)
 * @returns the schedule
 * @throws Error with ncrontabProblem's explanation when the expression is not valid
 */
export function parseSchedule(text: string): Schedule {
  const problem = ncrontabProblem(text);
  if (problem) throw new Error(`schedule "${text}": ${problem}`);
  const [seconds, minutes, hours, days, months, weekdays] = parseNcrontab(text);
  return { text, seconds, minutes, hours, days, months, weekdays };
}

/**
 * The first time strictly after `after` at which the schedule fires.
 *
 * @param schedule a parsed schedule
 * @param after the reference time
 * @returns the next occurrence (whole seconds, UTC)
 * @throws Error when nothing matches within eight years (e.g. 31 February)
 */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 8 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!schedule.days.has(t.getUTCDate()) || !schedule.weekdays.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!schedule.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!schedule.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!schedule.seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  throw new Error(`schedule "${schedule.text}" never fires (no matching date within eight years)`);
}
