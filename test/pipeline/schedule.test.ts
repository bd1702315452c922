/**
 * The one NCRONTAB module (shared/pipeline/ncrontab.ts): when a schedule fires next, which the
 * local host's timers ask, and whether it fired in a window, which the `pipelineSchedule` timer asks
 * through `duePipelines`. Checked against a literal reading of the rule (every field matches the
 * second), so the field-by-field search cannot drift from it.
 */
import { describe, expect, it } from 'vitest';
import { firesBetween, nextOccurrence, parseSchedule, type Schedule } from '../../shared/pipeline/ncrontab';
import type { PipelineDefinition } from '../../shared/pipeline';
import { duePipelines } from '../../shared/run/schedule';

const next = (schedule: string, after: string) => nextOccurrence(parseSchedule(schedule), new Date(after)).toISOString();

/** The rule as written: a second fires when each of its six fields is allowed. */
function firesAtSecond(s: Schedule, t: Date): boolean {
  return (
    s.seconds.includes(t.getUTCSeconds()) &&
    s.minutes.includes(t.getUTCMinutes()) &&
    s.hours.includes(t.getUTCHours()) &&
    s.days.includes(t.getUTCDate()) &&
    s.months.includes(t.getUTCMonth() + 1) &&
    s.weekdays.includes(t.getUTCDay())
  );
}

describe('NCRONTAB next occurrence', () => {
  it('every minute, every 5 seconds, every 5 minutes', () => {
    expect(next('0 * * * * *', '2026-03-01T10:02:30Z')).toBe('2026-03-01T10:03:00.000Z');
    expect(next('0 * * * * *', '2026-03-01T23:59:00Z')).toBe('2026-03-02T00:00:00.000Z');
    expect(next('*/5 * * * * *', '2026-03-01T10:00:57.900Z')).toBe('2026-03-01T10:01:00.000Z');
    expect(next('*/5 * * * * *', '2026-03-01T10:00:05Z')).toBe('2026-03-01T10:00:10.000Z');
    expect(next('0 */5 * * * *', '2026-03-01T10:02:30Z')).toBe('2026-03-01T10:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-03-01T10:05:00Z')).toBe('2026-03-01T10:10:00.000Z');
    expect(next('30 59 23 31 12 *', '2026-12-31T23:59:30Z')).toBe('2027-12-31T23:59:30.000Z');
  });

  it('day of week, and day of month AND day of week together (NCrontab, not Vixie cron)', () => {
    expect(next('0 30 9 * * MON-FRI', '2026-03-06T10:00:00Z')).toBe('2026-03-09T09:30:00.000Z'); // Friday → Monday
    expect(next('0 0 6 * * 7', '2026-03-02T00:00:00Z')).toBe('2026-03-08T06:00:00.000Z'); // 7 is Sunday
    expect(next('0 0 0 13 * FRI', '2026-03-01T00:00:00Z')).toBe('2026-03-13T00:00:00.000Z');
    expect(next('0 0 0 13 * FRI', '2026-03-13T00:00:00Z')).toBe('2026-11-13T00:00:00.000Z');
  });

  it('month ends and leap days', () => {
    expect(next('0 0 0 31 * *', '2026-04-01T00:00:00Z')).toBe('2026-05-31T00:00:00.000Z'); // April has 30 days
    expect(next('0 0 0 30 * *', '2026-01-30T00:00:00Z')).toBe('2026-03-30T00:00:00.000Z'); // February has none
    expect(next('0 0 12 29 2 *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T12:00:00.000Z');
    expect(next('0 0 12 29 2 *', '2096-03-01T00:00:00Z')).toBe('2104-02-29T12:00:00.000Z'); // 2100 is not a leap year
    expect(next('0 0 0 1 JAN *', '2026-03-01T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
  });

  it('is UTC: no daylight-saving gap or repeat (Europe and the US change clocks on these dates)', () => {
    expect(next('0 30 2 * * *', '2026-03-29T00:00:00Z')).toBe('2026-03-29T02:30:00.000Z');
    expect(next('0 30 1 * * *', '2026-10-25T01:30:00Z')).toBe('2026-10-26T01:30:00.000Z');
    expect(next('0 0 * * * *', '2026-11-01T01:00:00Z')).toBe('2026-11-01T02:00:00.000Z');
  });

  it('rejects what is not NCRONTAB, and what never fires', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/6 fields/);
    expect(() => nextOccurrence(parseSchedule('0 0 0 31 2 *'), new Date())).toThrow(/never fires/);
    expect(firesBetween(parseSchedule('0 0 0 31 2 *'), new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))).toBe(false);
  });

  it('agrees with the rule read second by second', () => {
    const schedules = ['*/7 */3 * * * *', '15,45 0-10/5 1,13 * * MON,THU', '0 0 */6 1-7 * SUN', '5 * 23 28-31 * *', '0 0 0 29 2 *', '10-20/4 59 * * JUN-AUG 6'];
    for (const text of schedules) {
      const schedule = parseSchedule(text);
      for (const start of ['2026-02-27T22:58:50Z', '2026-06-30T23:59:59Z', '2028-02-28T23:00:00Z']) {
        let t = new Date(start);
        // Six occurrences each, each compared with the first second that fires by the rule.
        for (let n = 0; n < 6; n++) {
          const found = nextOccurrence(schedule, t);
          const from = Math.floor(t.getTime() / 1000) * 1000 + 1000;
          const bound = Math.min(found.getTime(), from + 3 * 86_400_000);
          let expected: number | undefined;
          for (let s = from; s <= bound && expected === undefined; s += 1000) if (firesAtSecond(schedule, new Date(s))) expected = s;
          if (expected !== undefined) expect(found.toISOString(), `${text} after ${t.toISOString()}`).toBe(new Date(expected).toISOString());
          else expect(found.getTime(), `${text} after ${t.toISOString()}: nothing fires in three days`).toBeGreaterThan(bound);
          expect(firesAtSecond(schedule, found)).toBe(true);
          t = found;
        }
      }
    }
  });
});

describe('due scheduled pipelines (the pipelineSchedule timer)', () => {
  const pipeline = (name: string, schedule: string) =>
    ({ name, trigger: { mode: 'schedule', schedule }, sources: {}, tables: {} }) as unknown as PipelineDefinition;
  it('a pipeline is due when its schedule fired in (since, tick], once however long the window', () => {
    const pipelines = [pipeline('hourly', '0 0 * * * *'), pipeline('nightly', '0 0 2 * * *'), pipeline('leap', '0 0 0 29 2 *')];
    expect(duePipelines(pipelines, new Date('2026-03-01T10:00:00.400Z'))).toEqual(['hourly']);
    expect(duePipelines(pipelines, new Date('2026-03-01T10:00:59Z'), new Date('2026-03-01T10:00:00Z'))).toEqual([]);
    expect(duePipelines(pipelines, new Date('2026-03-01T10:00:00Z'), new Date('2026-02-28T10:00:00Z'))).toEqual(['hourly', 'nightly']);
    expect(duePipelines(pipelines, new Date('2028-02-29T00:00:30Z'), new Date('2028-02-28T23:59:30Z'))).toEqual(['hourly', 'leap']);
  });
});
