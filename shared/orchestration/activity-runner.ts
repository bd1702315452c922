/**
 * Running activity work items, as the real extension's activity dispatcher does: a pool claims up to
 * its limit of items (each under a lease) and, for each, invokes the function, renews the lease while
 * it runs, then sends the result (or failure) to the instance and removes the item. If the process dies first the lease lapses and the item runs again; the result
 * message's key is per task, so a second result for the same task is dropped (at-least-once
 * execution, once-only recording).
 */
import type { LogHandler } from '@azure/functions';
import type { ActivityItem, ActivityQueue } from './activity-queue';
import type { Failure } from './history';
import { PayloadTooLargeError } from './payload';
import type { OrchestrationRegistry } from './types';
import { ActivityOutcome, failureOf, runActivity } from './worker';
import { taskMessageId, WorkQueue } from './work-queue';

/** What running activities needs from the engine. */
export interface RunnerContext {
  queue: WorkQueue;
  activities: ActivityQueue;
  registry: OrchestrationRegistry;
  owner: string;
  /** Leases owned by names starting with this are earlier processes of this host (taken over at once). */
  hostPrefix?: string;
  leaseMs: number;
  /** Most activities running at once. */
  maxConcurrent: number;
  clock: () => number;
  log: (line: string) => void;
  /** The engine was halted (a simulated crash): record nothing. */
  isHalted: () => boolean;
  logHandler: (functionName: string) => LogHandler;
  /** A result was recorded (wake the background loop). */
  wake: () => void;
}

/** The activities one engine runs, at most `maxConcurrent` at a time. */
export class ActivityPool {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly ctx: RunnerContext) {}

  /** Claim and start as many items as there are free slots; returns how many started. */
  async fill(): Promise<number> {
    const slots = this.ctx.maxConcurrent - this.inFlight.size;
    if (slots <= 0 || this.ctx.isHalted()) return 0;
    const now = this.ctx.clock();
    let started = 0;
    for (const item of await this.ctx.activities.claimable(now, this.ctx.owner, this.ctx.hostPrefix, slots * 2)) {
      if (started >= slots) break;
      const key = `${item.instanceId}!${item.executionId}!${item.taskId}`;
      if (this.inFlight.has(key) || !(await this.ctx.activities.lease(item, this.ctx.owner, now + this.ctx.leaseMs))) continue;
      started++;
      const run = runItem(this.ctx, item)
        .catch((err) => this.ctx.log(`activity ${item.name} of ${item.instanceId}: ${(err as Error).message}`))
        .finally(() => {
          this.inFlight.delete(key);
          this.ctx.wake();
        });
      this.inFlight.set(key, run);
    }
    return started;
  }

  /** Wait until every running activity has finished. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }
}

function notRegistered(name: string, registry: OrchestrationRegistry): Failure {
  const message = `The function '${name}' doesn't exist, is disabled, or is not an activity function (registered activities: ${Object.keys(registry.activities).join(', ') || 'none'})`;
  return { reason: message, failureDetails: { ErrorType: 'FunctionNotFound', ErrorMessage: message, IsNonRetriable: true } };
}

/** Run a leased item to its recorded result. */
async function runItem(ctx: RunnerContext, item: ActivityItem): Promise<void> {
  const started = ctx.clock();
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = setInterval(
    () => {
      if (ctx.isHalted()) return;
      renewing = renewing.then(() => ctx.activities.lease(item, ctx.owner, ctx.clock() + ctx.leaseMs)).catch(() => false);
    },
    Math.max(50, Math.floor(ctx.leaseMs / 3)),
  );
  let outcome: ActivityOutcome;
  try {
    const fn = ctx.registry.activities[item.name];
    outcome = fn ? await runActivity(fn, item.name, item.inputText, ctx.logHandler(item.name)) : { ok: false, failure: notRegistered(item.name, ctx.registry) };
  } finally {
    clearInterval(renew);
    await renewing;
  }
  if (ctx.isHalted()) return;
  const send = (ok: boolean, payloadText: string) =>
    ctx.queue.send(
      {
        instanceId: item.instanceId,
        kind: 'activityResult',
        id: taskMessageId('activityResult', item.executionId, item.taskId),
        dueAt: 0,
        createdAt: ctx.clock(),
        executionId: item.executionId,
        taskId: item.taskId,
        ok,
        payloadText,
      },
      `result of activity '${item.name}' (task ${item.taskId} of instance "${item.instanceId}")`,
    );
  try {
    await send(outcome.ok, outcome.ok ? outcome.resultText : JSON.stringify(outcome.failure));
  } catch (err) {
    if (!(err instanceof PayloadTooLargeError)) throw err;
    // The result cannot be stored: the task fails with why, rather than staying in flight forever.
    outcome = { ok: false, failure: failureOf(Object.assign(new Error(err.message), { nonRetriable: true }), `Activity function '${item.name}'`) };
    await send(false, JSON.stringify(outcome.failure));
  }
  await ctx.activities.finish(item);
  const took = ctx.clock() - started;
  ctx.log(
    `activity ${item.name} ${item.instanceId}#${item.taskId} attempt ${item.attempt}: ${outcome.ok ? 'completed' : `failed (${outcome.failure.failureDetails.ErrorMessage})`} in ${took} ms`,
  );
}
