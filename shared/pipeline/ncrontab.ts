/**
 * NCRONTAB, the schedule syntax of Azure Functions timers, in one place: the pipeline loader
 * (`schedule:`), the settings (`SLUICE_RECONCILE_SCHEDULE`), the schedule timer (shared/run) and the
 * local host's timers (dev/) all validate and parse with these two functions, so a schedule accepted
 * anywhere fires the same everywhere.
 *
 * Six fields `{second} {minute} {hour} {day} {month} {day-of-week}`, each `*`, a value, a range `a-b`,
 * any of those followed by `/n` (every n-th value; a lone value with a step runs to the field's end),
 * or a comma list of those; months and weekdays also by their three-letter English names. Day of
 * week runs 0–6 from Sunday, and 7 is Sunday too (as in NCrontab and cron). Times are UTC.
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
  // 7 is accepted for Sunday; parseNcrontab folds it into 0.
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
  if (fields.length !== 6) return `expected an NCRONTAB expression of 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}, e.g. "0 */5 * * * *"), got ${fields.length} in ${JSON.stringify(text)}`;
  for (let i = 0; i < 6; i++) {
    const spec = FIELDS[i];
    for (const item of fields[i].split(',')) {
      const m = ITEM.exec(item);
      if (!m || (m[2] !== undefined && Number(m[2]) < 1)) return `${spec.name} field ${JSON.stringify(fields[i])} is not valid NCRONTAB`;
      if (m[1] === '*') continue;
      const [from, to] = m[1].split('-').map((part) => valueOf(spec, part));
      const bad = [from, to].find((v) => v !== undefined && (v === null || v < spec.min || v > spec.max));
      if (bad !== undefined) return `${spec.name} field ${JSON.stringify(fields[i])}: values must be ${spec.min}–${spec.max}${spec.names ? ` or ${spec.names[0]}–${spec.names[spec.names.length - 1]}` : ''}`;
      if (to !== undefined && from! > to!) return `${spec.name} field ${JSON.stringify(fields[i])}: range runs backwards`;
    }
  }
  return null;
}

/**
 * The allowed values of each field of an NCRONTAB expression (day of week 0–6, Sunday 0).
 *
 * @param text the expression
 * @returns six sets: seconds, minutes, hours, days, months, weekdays
 * @throws Error with ncrontabProblem's explanation when the expression is not valid
 */
export function parseNcrontab(text: string): Set<number>[] {
  const problem = ncrontabProblem(text);
  if (problem) throw new Error(`NCRONTAB "${text}": ${problem}`);
  return text.trim().split(/\s+/).map((field, i) => {
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
    return out;
  });
}
