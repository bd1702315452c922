/**
 * The `rehydrate` orchestration: bring back online exactly the archived files one table version needs,
 * and report how far it is.
 *
 * 1. `rehydratePlan` loads the version, finds its archived files (one listing) and records the request
 *    as a hold (rehydrate.ts), so the tiering run leaves those files alone from now on. The file list
 *    stays in that record; the orchestration's own messages carry only references and counts.
 * 2. `rehydrateCheck`, again and again, with a durable timer between rounds: one listing; a file still
 *    archived with no rehydration under way is asked for (again, when storage refused or lost the
 *    earlier request); counts of files and bytes online go into the custom status.
 * 3. When every file is online, `rehydrateFinish` marks the hold completed, and the output says so.
 *    A file vacuumed meanwhile, or a rehydration still not done after `REHYDRATION_DEADLINE_HOURS`,
 *    fails the instance with a message naming the files.
 *
 * The wait between rounds (`pollSeconds`, from `SLUICE_REHYDRATION_POLL_SECONDS`) is in the input, so
 * a replay waits the same. A long wait continues as new every `CHECKS_PER_EXECUTION` rounds to keep the
 * history short.
 *
 * Custom status: `{ stage, table, version, priority, files, online, pending, bytes, bytesOnline,
 * requested, refused, checks, checkedAt, nextCheckAt }`.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { isTransient } from '../errors';
import type { ActivityFunction } from '../orchestration/types';
import { getSettings } from '../config/settings';
import { openLakeStore } from '../storage/lake';
import { openStore } from '../storage/location';
import type { ObjectStore } from '../storage/types';
import {
  advanceRehydration,
  completeHold,
  planRehydration,
  readHold,
  recordHold,
  REHYDRATION_DEADLINE_HOURS,
  type RefusedFile,
  type RehydrationPriority,
} from './rehydrate';

/** Orchestrator name. */
export const REHYDRATE_ORCHESTRATOR = 'rehydrate';
/** Activity: find the archived files and record the hold. */
export const REHYDRATE_PLAN_ACTIVITY = 'rehydratePlan';
/** Activity: one round of requests and counting. */
export const REHYDRATE_CHECK_ACTIVITY = 'rehydrateCheck';
/** Activity: mark the hold completed. */
export const REHYDRATE_FINISH_ACTIVITY = 'rehydrateFinish';

/** Rounds per execution before continuing as new. */
const CHECKS_PER_EXECUTION = 100;
/** Refused or missing files named in messages and the custom status. */
const REFUSED_SHOWN = 10;

/** Which table: a path in the app's lake container (the HTTP route) or a location (`sluice` style). */
export type TableRef = { lake: string } | { location: string };

/** Opens the store of a table reference (the process's lake settings, or the location). */
export type OpenTable = (table: TableRef) => ObjectStore;

/** Input of the orchestration. */
export interface RehydrateInput {
  table: TableRef;
  /** The table as the caller named it, for messages (`bronze/sales`). */
  tableName: string;
  version: number;
  priority: RehydrationPriority;
  /** Seconds between checks. */
  pollSeconds: number;
  /** The hold's id (rehydrate.ts `holdId`). */
  holdId: string;
  /** Who asked, recorded in the hold. */
  by: string;
  /** Set by a continuation: the plan is done, and these rounds and this deadline carry over. */
  resume?: { files: number; bytes: number; checks: number; deadline: string; requestedAt: string };
}

/** The custom status. */
export interface RehydrateStatus {
  stage: 'planning' | 'rehydrating' | 'completed' | 'failed';
  table: string;
  version: number;
  priority: RehydrationPriority;
  /** Archived files the version needed when asked. */
  files: number;
  online: number;
  pending: number;
  bytes: number;
  bytesOnline: number;
  /** Rehydrations requested so far. */
  requested: number;
  refused: RefusedFile[];
  checks: number;
  checkedAt?: string;
  nextCheckAt?: string;
}

/** The output. */
export interface RehydrateOutput extends RehydrateStatus {
  stage: 'completed';
  requestedAt: string;
  completedAt: string;
}

/** Output of `rehydratePlan`. */
export interface PlanOutput {
  version: number;
  files: number;
  bytes: number;
  /** When the hold was recorded. */
  requestedAt: string;
}

/** Input of the check and finish activities. */
export interface HoldActivityInput {
  table: TableRef;
  holdId: string;
  priority: RehydrationPriority;
}

/** Output of `rehydrateCheck`. */
export interface CheckOutput {
  total: number;
  online: number;
  pending: number;
  bytes: number;
  bytesOnline: number;
  requested: number;
  /** The first refused requests (`REFUSED_SHOWN`), and how many there were. */
  refused: RefusedFile[];
  refusedCount: number;
  /** The first files gone from storage (`REFUSED_SHOWN`), and how many there were. */
  missing: string[];
  missingCount: number;
  checkedAt: string;
}

function activityRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(5_000, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 60_000;
  return retry;
}

/**
 * The orchestrator (registered as `rehydrate`).
 *
 * @param context the orchestration context
 * @returns the final counts
 */
export const rehydrateOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as RehydrateInput;
  if (!input || !input.table || !Number.isInteger(input.version) || !input.holdId)
    throw new Error('rehydrate: the input must name a table, a version and a hold id');
  const status: RehydrateStatus = {
    stage: 'planning',
    table: input.tableName,
    version: input.version,
    priority: input.priority,
    files: input.resume?.files ?? 0,
    online: 0,
    pending: 0,
    bytes: input.resume?.bytes ?? 0,
    bytesOnline: 0,
    requested: 0,
    refused: [],
    checks: input.resume?.checks ?? 0,
  };
  const show = () => context.df.setCustomStatus(status);
  show();
  const hold: HoldActivityInput = { table: input.table, holdId: input.holdId, priority: input.priority };

  let requestedAt = input.resume?.requestedAt;
  let deadline = input.resume?.deadline;
  if (!input.resume) {
    const plan = (yield context.df.callActivityWithRetry(REHYDRATE_PLAN_ACTIVITY, activityRetry(), input)) as PlanOutput;
    Object.assign(status, { files: plan.files, bytes: plan.bytes });
    requestedAt = plan.requestedAt;
    deadline = new Date(context.df.currentUtcDateTime.getTime() + REHYDRATION_DEADLINE_HOURS * 3_600_000).toISOString();
  }
  status.stage = 'rehydrating';
  show();

  for (let round = 0; status.files > 0; round++) {
    const check = (yield context.df.callActivityWithRetry(REHYDRATE_CHECK_ACTIVITY, activityRetry(), hold)) as CheckOutput;
    status.checks++;
    Object.assign(status, {
      online: check.online,
      pending: check.pending,
      bytesOnline: check.bytesOnline,
      requested: status.requested + check.requested,
      refused: check.refused,
      checkedAt: check.checkedAt,
    });
    delete status.nextCheckAt;
    if (check.missingCount) {
      status.stage = 'failed';
      show();
      throw new Error(
        `rehydrate ${input.tableName} version ${input.version}: ${check.missingCount} file(s) the version needs are no longer in storage (vacuumed?), so the version cannot be read: ${check.missing.slice(0, 5).join(', ')}`,
      );
    }
    if (check.online >= check.total) break;
    const now = context.df.currentUtcDateTime;
    if (now.getTime() >= new Date(deadline!).getTime()) {
      status.stage = 'failed';
      show();
      throw new Error(
        `rehydrate ${input.tableName} version ${input.version}: ${check.total - check.online} of ${check.total} file(s) still offline ${REHYDRATION_DEADLINE_HOURS} h after the request` +
          (check.refusedCount ? `; storage refused ${check.refusedCount}, e.g. ${check.refused[0].path}: ${check.refused[0].reason}` : ''),
      );
    }
    if (round + 1 >= CHECKS_PER_EXECUTION) {
      context.df.continueAsNew({
        ...input,
        resume: { files: status.files, bytes: status.bytes, checks: status.checks, deadline: deadline!, requestedAt: requestedAt! },
      } satisfies RehydrateInput);
      return status;
    }
    const next = new Date(now.getTime() + input.pollSeconds * 1000);
    status.nextCheckAt = next.toISOString();
    show();
    yield context.df.createTimer(next);
  }

  yield context.df.callActivityWithRetry(REHYDRATE_FINISH_ACTIVITY, activityRetry(), hold);
  status.stage = 'completed';
  status.online = status.files;
  status.bytesOnline = status.bytes;
  status.pending = 0;
  delete status.nextCheckAt;
  show();
  const output: RehydrateOutput = { ...status, stage: 'completed', requestedAt: requestedAt!, completedAt: context.df.currentUtcDateTime.toISOString() };
  return output;
};

/** Mark a non-transient error non-retriable, so RetryOptions stop at once (as the refresh activities do). */
function marked(err: unknown): unknown {
  if (err instanceof Error && !isTransient(err)) Object.assign(err, { nonRetriable: true });
  return err;
}

/**
 * The activities over a way to open tables.
 *
 * @param open opens a table reference (the Functions app: the lake of its settings; tests: a wrapped store)
 * @returns the three activities by name
 */
export function rehydrateActivities(open: OpenTable): Record<string, ActivityFunction> {
  const plan = async (input: RehydrateInput): Promise<PlanOutput> => {
    try {
      const store = open(input.table);
      const found = await planRehydration(store, input.version);
      const requestedAt = new Date().toISOString();
      if (found.files.length > 0) {
        await recordHold(store, {
          id: input.holdId,
          version: found.version,
          priority: input.priority,
          files: found.files.map((f) => ({ path: f.path, size: f.size })),
          bytes: found.bytes,
          by: input.by,
          requestedAt,
        });
      }
      return { version: found.version, files: found.files.length, bytes: found.bytes, requestedAt };
    } catch (err) {
      throw marked(err);
    }
  };
  const check = async (input: HoldActivityInput): Promise<CheckOutput> => {
    try {
      const store = open(input.table);
      const hold = await readHold(store, input.holdId);
      if (!hold) throw Object.assign(new Error(`rehydrate: the request record ${input.holdId} of the table is gone`), { nonRetriable: true });
      const progress = await advanceRehydration(store, hold.files, input.priority);
      return {
        total: progress.total,
        online: progress.online,
        pending: progress.pending,
        bytes: progress.bytes,
        bytesOnline: progress.bytesOnline,
        requested: progress.requested,
        // Counts and the first few: an orchestration's messages stay small whatever the table's size.
        refused: progress.refused.slice(0, REFUSED_SHOWN),
        refusedCount: progress.refused.length,
        missing: progress.missing.slice(0, REFUSED_SHOWN),
        missingCount: progress.missing.length,
        checkedAt: progress.checkedAt,
      };
    } catch (err) {
      throw marked(err);
    }
  };
  const finish = async (input: HoldActivityInput): Promise<void> => {
    try {
      await completeHold(open(input.table), input.holdId, new Date());
    } catch (err) {
      throw marked(err);
    }
  };
  return { [REHYDRATE_PLAN_ACTIVITY]: plan, [REHYDRATE_CHECK_ACTIVITY]: check, [REHYDRATE_FINISH_ACTIVITY]: finish };
}

/**
 * Open a table reference in this process: a lake path with the app's settings, a location as
 * `sluice` opens it.
 *
 * @param table the reference
 * @returns a store rooted at the table
 */
export function openTableRef(table: TableRef): ObjectStore {
  return 'lake' in table ? openLakeStore(getSettings(), table.lake) : openStore(table.location);
}

/** The rehydration orchestrator, by name, for functions/definitions.ts and the local engine. */
export const REHYDRATE_ORCHESTRATORS: readonly { name: string; handler: OrchestrationHandler }[] = [
  { name: REHYDRATE_ORCHESTRATOR, handler: rehydrateOrchestrator },
];

/** The rehydration activities over the app's lake, by name. */
export const REHYDRATE_ACTIVITIES: readonly { name: string; handler: ActivityFunction }[] = Object.entries(rehydrateActivities(openTableRef)).map(
  ([name, handler]) => ({ name, handler }),
);
