/**
 * Running one claimed activity work item, as the real extension's activity dispatcher does: invoke
 * the function, renew the lease while it runs, then send the result (or failure) to the instance and
 * remove the item. If the process dies first the lease lapses and the item runs again; the result
 * message's key is per task, so a second result for the same task is dropped (at-least-once
 * execution, once-only recording).
 */
import type { LogHandler } from '@azure/functions';
import type { OrchestrationRegistry } from './types';
import type { Failure } from './history';
import { PayloadTooLargeError } from './payload';
import { ActivityOutcome, failureOf, runActivity } from './worker';
import { ActivityItem, taskMessageId, WorkQueue } from './work-queue';

/** What a run needs from the engine. */
export interface RunnerContext {
  queue: WorkQueue;
  registry: OrchestrationRegistry;
  owner: string;
  leaseMs: number;
  clock: () => number;
  log: (line: string) => void;
  /** The engine was halted (a simulated crash): record nothing. */
  isHalted: () => boolean;
  logHandler: (functionName: string) => LogHandler;
}

function notRegistered(name: string, registry: OrchestrationRegistry): Failure {
  const message = `The function '${name}' doesn't exist, is disabled, or is not an activity function (registered activities: ${Object.keys(registry.activities).join(', ') || 'none'})`;
  return { reason: message, failureDetails: { ErrorType: 'FunctionNotFound', ErrorMessage: message, IsNonRetriable: true } };
}

/**
 * Run a leased item to its recorded result.
 *
 * @param ctx engine parts
 * @param item the item, leased by `ctx.owner`
 */
export async function runItem(ctx: RunnerContext, item: ActivityItem): Promise<void> {
  const started = ctx.clock();
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = setInterval(() => {
    if (ctx.isHalted()) return;
    renewing = renewing.then(() => ctx.queue.lease(item, ctx.owner, ctx.clock() + ctx.leaseMs)).catch(() => false);
  }, Math.max(50, Math.floor(ctx.leaseMs / 3)));
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
      { instanceId: item.instanceId, kind: 'activityResult', id: taskMessageId('activityResult', item.executionId, item.taskId), dueAt: 0, createdAt: ctx.clock(), executionId: item.executionId, taskId: item.taskId, ok, payloadText },
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
  await ctx.queue.finish(item);
  const took = ctx.clock() - started;
  ctx.log(`activity ${item.name} ${item.instanceId}#${item.taskId} attempt ${item.attempt}: ${outcome.ok ? 'completed' : `failed (${outcome.failure.failureDetails.ErrorMessage})`} in ${took} ms`);
}
