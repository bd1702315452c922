/**
 * The timer triggers of the local host: each timer definition runs on its NCRONTAB schedule (UTC),
 * one invocation at a time, like the Functions host's singleton timers.
 *
 * The host's schedule monitor is emulated too: the last and next occurrence of every timer are kept
 * in the Azure Table `SluiceDevTimers`, so a host that was stopped over an occurrence runs the timer
 * once at start with `isPastDue` set (how files dropped while the host was down get reconciled),
 * while a first start runs nothing until the first occurrence. An occurrence that comes while the
 * previous invocation still runs is skipped, and the next invocation is marked past due.
 */
import type { TableClient } from '@azure/data-tables';
import { createTableIfMissing } from '../shared/storage/lake';
import type { Timer } from '@azure/functions';
import type { BoundTimer } from './functions';
import { type DevLog, invokeFunction } from './invoke';
import { nextOccurrence, parseSchedule, type Schedule } from '../shared/pipeline/ncrontab';

/** The longest a Node timer can wait; longer waits are re-armed. */
const MAX_WAIT_MS = 2 ** 31 - 1;
const PARTITION = 'timers';

/** Running timers. */
export interface TimerScheduler {
  /** Next occurrence per timer name. */
  next(): Record<string, string>;
  /** Run a timer now (the local host's `POST /admin/functions/{name}`), past due or not. */
  runNow(name: string): Promise<void>;
  /** Stop scheduling and wait for running invocations. */
  stop(): Promise<void>;
}

interface TimerState {
  definition: BoundTimer;
  schedule: Schedule;
  next: Date;
  last?: Date;
  running?: Promise<void>;
  pastDue: boolean;
  handle?: NodeJS.Timeout;
}

/**
 * Start the timers.
 *
 * @param definitions the timer functions
 * @param resolve turns `%SETTING%` references of a schedule into its value
 * @param monitor the table keeping each timer's last and next occurrence (created if missing)
 * @param log the host's log
 * @returns the scheduler
 * @throws Error naming the timer whose schedule is not valid NCRONTAB
 */
export async function startTimers(
  definitions: readonly BoundTimer[],
  resolve: (text: string) => string,
  monitor: TableClient,
  log: DevLog,
): Promise<TimerScheduler> {
  await createTableIfMissing(monitor);
  const now = new Date();
  const states: TimerState[] = [];
  for (const definition of definitions) {
    let schedule: Schedule;
    try {
      schedule = parseSchedule(resolve(definition.schedule));
    } catch (err) {
      throw new Error(`timer ${definition.name} (schedule ${definition.schedule}): ${(err as Error).message}`, { cause: err });
    }
    const saved = await monitor.getEntity<{ last?: string; next?: string }>(PARTITION, definition.name).catch(() => undefined);
    const missed = saved?.next !== undefined && new Date(saved.next) <= now;
    states.push({
      definition,
      schedule,
      next: missed ? now : nextOccurrence(schedule, now),
      pastDue: missed,
      ...(saved?.last ? { last: new Date(saved.last) } : {}),
    });
  }
  let stopped = false;

  const record = (state: TimerState) =>
    monitor
      .upsertEntity(
        { partitionKey: PARTITION, rowKey: state.definition.name, last: state.last?.toISOString() ?? '', next: state.next.toISOString() },
        'Replace',
      )
      .catch((err) => {
        log(`[${state.definition.name}] could not record the schedule status: ${(err as Error).message}`);
      });

  const fire = (state: TimerState): Promise<void> => {
    if (state.running) {
      state.pastDue = true;
      return state.running;
    }
    const timer: Timer = {
      isPastDue: state.pastDue,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: (state.last ?? new Date(0)).toISOString(), next: state.next.toISOString(), lastUpdated: new Date().toISOString() },
    };
    state.pastDue = false;
    state.last = new Date();
    state.running = invokeFunction(state.definition.name, log, (context) => state.definition.call(timer, context))
      .then(
        () => undefined,
        () => undefined, // invokeFunction logged it; the next occurrence runs as usual
      )
      .finally(() => {
        state.running = undefined;
      });
    return state.running;
  };

  const arm = (state: TimerState) => {
    if (stopped) return;
    const wait = Math.min(Math.max(0, state.next.getTime() - Date.now()), MAX_WAIT_MS);
    state.handle = setTimeout(() => {
      if (Date.now() < state.next.getTime()) return arm(state);
      void fire(state);
      state.next = nextOccurrence(state.schedule, new Date());
      void record(state);
      arm(state);
    }, wait);
    state.handle.unref?.();
  };

  for (const state of states) {
    await record(state);
    arm(state);
  }

  return {
    next: () => Object.fromEntries(states.map((s) => [s.definition.name, s.next.toISOString()])),
    runNow: async (name) => {
      const state = states.find((s) => s.definition.name === name);
      if (!state) throw new Error(`no timer function named ${name} (timers: ${states.map((s) => s.definition.name).join(', ') || 'none'})`);
      await fire(state);
    },
    stop: async () => {
      stopped = true;
      for (const s of states) clearTimeout(s.handle);
      await Promise.all(states.map((s) => s.running));
    },
  };
}
