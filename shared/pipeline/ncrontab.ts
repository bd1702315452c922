/**
 * NCRONTAB, the schedule syntax of Azure Functions timers, in one place: the pipeline loader
 * (`schedule:`), the settings (`SLUICE_RECONCILE_SCHEDULE`), the schedule timer (shared/run) and the
 * local host's timers (dev/) all validate, parse and ask "when does it fire next" here, so a schedule
 * accepted anywhere fires the same everywhere.
 *
 * Six fields `{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a range `a-b`,
 * any of those followed by `/n` (every n-th value; a lone value with a step runs to the field's end),
 * or a comma list of those; months and weekdays also by their three-letter English names. Day of
 * week runs 0–6 from Sunday, and 7 is Sunday too (as in NCrontab and cron). Day of month and day of
 * week must both match (NCrontab's rule, unlike Vixie cron's "either"). Times are UTC, as in Azure
 * unless `WEBSITE_TIME_ZONE` is set, so there are no daylight-saving gaps or repeats.
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: readonly CronField[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  // 7 is accepted for Sunday; parseSchedule folds it into 0.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];
const DAY_OF_WEEK = 5;
const ITEM = /^(\*|[^-/]+(?:-[^-/]+)?)(?:\/(\d+))?$/;

function valueOf(spec: CronField, part: string): number | null {
  const named = spec.names?.indexOf(part.toUpperCase()) ?? -1;
  if (named >= 0) return spec.min + named;
  return /^\d+$/.test(part) ? Number(part) : null;
}

/**
 * What is wrong with an NCRONTAB expression, or null when it is valid.
 *
 * @param text the expression
 * @returns the problem in words, or null
 */
export function ncrontabProblem(text: string): string | null {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 6)
    return `expected an NCRONTAB expression of 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}, e.g. "0 */5 * * * *"), got ${fields.length} in ${JSON.stringify(text)}`;
  for (let i = 0; i < 6; i++) {
    const spec = FIELDS[i];
    for (const item of fields[i].split(',')) {
      const m = ITEM.exec(item);
      if (!m || (m[2] !== undefined && Number(m[2]) < 1)) return `${spec.name} field ${JSON.stringify(fields[i])} is not valid NCRONTAB`;
      if (m[1] === '*') continue;
      const [from, to] = m[1].split('-').map((part) => valueOf(spec, part));
      const bad = [from, to].find((v) => v !== undefined && (v === null || v < spec.min || v > spec.max));
      if (bad !== undefined)
        return `${spec.name} field ${JSON.stringify(fields[i])}: values must be ${spec.min}–${spec.max}${spec.names ? ` or ${spec.names[0]}–${spec.names[spec.names.length - 1]}` : ''}`;
      if (to !== undefined && from! > to!) return `${spec.name} field ${JSON.stringify(fields[i])}: range runs backwards`;
    }
  }
  return null;
}

/** A parsed schedule: the allowed values of each field, ascending. */
export interface Schedule {
  readonly text: string;
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** Days of the month, 1–31. */
  readonly days: readonly number[];
  /** Months, 1–12. */
  readonly months: readonly number[];
  /** Days of the week, 0–6 from Sunday (7 folded into 0). */
  readonly weekdays: readonly number[];
}

/**
 * Parse an NCRONTAB expression.
 *
 * @param text the expression, e.g. `0 0 * * * *` (hourly)
 * @returns the schedule
 * @throws Error with ncrontabProblem's explanation when the expression is not valid
 */
export function parseSchedule(text: string): Schedule {
  const problem = ncrontabProblem(text);
  if (problem) throw new Error(`NCRONTAB "${text}": ${problem}`);
  const [seconds, minutes, hours, days, months, weekdays] = text
    .trim()
    .split(/\s+/)
    .map((field, i) => {
      const spec = FIELDS[i];
      const out = new Set<number>();
      for (const item of field.split(',')) {
        const [, range, stepText] = ITEM.exec(item)!;
        const step = stepText === undefined ? 1 : Number(stepText);
        // `*` and `n/step` run to Saturday: the Sunday alias 7 counts only when written.
        const last = i === DAY_OF_WEEK ? 6 : spec.max;
        let from = spec.min;
        let to = last;
        if (range !== '*') {
          const [a, b] = range.split('-');
          from = valueOf(spec, a)!;
          to = b !== undefined ? valueOf(spec, b)! : stepText !== undefined ? last : from;
        }
        for (let v = from; v <= to; v += step) out.add(i === DAY_OF_WEEK && v === 7 ? 0 : v);
      }
      return [...out].sort((a, b) => a - b);
    });
  return { text, seconds, minutes, hours, days, months, weekdays };
}

/** How far ahead a schedule is searched: 8 years holds a leap day whatever the start (2096 → 2104). */
const HORIZON_YEARS = 8;

/** The least allowed value ≥ `from`, or undefined. */
function atOrAfter(values: readonly number[], from: number): number | undefined {
  return values.find((v) => v >= from);
}

/**
 * The first occurrence after `after` and not after `notAfter`, found field by field (month, day,
 * hour, minute, second), each jumping to its next allowed value: a few steps per occurrence whatever
 * the schedule, instead of one per second.
 */
function firstOccurrence(schedule: Schedule, after: Date, notAfter: number): Date | null {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  let [year, month, day, hour, minute, second] = [
    t.getUTCFullYear(),
    t.getUTCMonth() + 1,
    t.getUTCDate(),
    t.getUTCHours(),
    t.getUTCMinutes(),
    t.getUTCSeconds(),
  ];
  const nextMonth = () => {
    [month, day, hour, minute, second] = [month + 1, 1, 0, 0, 0];
    if (month > 12) [year, month] = [year + 1, 1];
  };
  while (Date.UTC(year, month - 1, 1) <= notAfter) {
    const m = atOrAfter(schedule.months, month);
    if (m === undefined) {
      [year, month, day, hour, minute, second] = [year + 1, 1, 1, 0, 0, 0];
      continue;
    }
    if (m !== month) [month, day, hour, minute, second] = [m, 1, 0, 0, 0];
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    let d = atOrAfter(schedule.days, day);
    while (d !== undefined && d <= daysInMonth && !schedule.weekdays.includes(new Date(Date.UTC(year, month - 1, d)).getUTCDay()))
      d = atOrAfter(schedule.days, d + 1);
    if (d === undefined || d > daysInMonth) {
      nextMonth();
      continue;
    }
    if (d !== day) [day, hour, minute, second] = [d, 0, 0, 0];
    const h = atOrAfter(schedule.hours, hour);
    if (h === undefined) {
      [day, hour, minute, second] = [day + 1, 0, 0, 0];
      continue;
    }
    if (h !== hour) [hour, minute, second] = [h, 0, 0];
    const min = atOrAfter(schedule.minutes, minute);
    if (min === undefined) {
      [hour, minute, second] = [hour + 1, 0, 0];
      continue;
    }
    if (min !== minute) [minute, second] = [min, 0];
    const s = atOrAfter(schedule.seconds, second);
    if (s === undefined) {
      [minute, second] = [minute + 1, 0];
      continue;
    }
    const at = Date.UTC(year, month - 1, day, hour, minute, s);
    return at <= notAfter ? new Date(at) : null;
  }
  return null;
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
  const limit = new Date(after.getTime());
  limit.setUTCFullYear(limit.getUTCFullYear() + HORIZON_YEARS);
  const next = firstOccurrence(schedule, after, limit.getTime());
  if (!next) throw new Error(`schedule "${schedule.text}" never fires (no matching date within ${HORIZON_YEARS} years)`);
  return next;
}

/**
 * Whether the schedule fires in `(after, until]`.
 *
 * @param schedule a parsed schedule
 * @param after exclusive start (milliseconds ignored)
 * @param until inclusive end
 * @returns true when an occurrence falls in the window
 */
export function firesBetween(schedule: Schedule, after: Date, until: Date): boolean {
  return firstOccurrence(schedule, after, until.getTime()) !== null;
}
