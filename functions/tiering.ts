/**
 * Timer trigger `tierLake` (schedule `SLUICE_TIERING_SCHEDULE`, daily by default): one tiering pass
 * over every table of the served pipelines and the landing container (shared/host/tiering.ts). One
 * line per table, and a record of what moved and why under `_sluice/tiering/` of the lake container; a table skipped for an unreadable log, or a tier change storage refused, fails the
 * invocation at the end (after every table was tried) so it shows in monitoring; refused changes are
 * planned again by the next run.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import { errorText, getRuntime, runTieringPass } from '../shared/host';
import type { TieringOutcome } from '../shared/tiering';

/**
 * Timer trigger: apply the tiering policies.
 *
 * @param timer the timer
 * @param context the invocation context
 */
export async function tierLakeHandler(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue) context.log('tierLake: running late (past due)');
  const failed: string[] = [];
  const { mode } = await runTieringPass(getRuntime(), {
    onOutcome: (o) => {
      context.log(`tierLake: ${describeOutcome(o)}`);
      if (o.failed) failed.push(`${o.target}: ${o.skipped}`);
      if (o.recordError) context.warn(`tierLake: ${o.target}: ${o.recordError}`);
      for (const r of o.result?.refused ?? []) {
        context.warn(`tierLake: ${o.target}/${r.path} → ${r.to} refused (retried next run): ${r.error}`);
        failed.push(`${o.target}/${r.path}: ${r.error}`);
      }
    },
  }).catch((err: unknown) => {
    throw new Error(`tierLake: ${errorText(err)}`, { cause: err });
  });
  if (mode === 'off') context.log('tierLake: SLUICE_TIERING_MODE is off; nothing planned');
  if (failed.length)
    throw new Error(`tierLake: ${failed.length} failure${failed.length === 1 ? '' : 's'}: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; …' : ''}`);
}

/**
 * One line for a table's outcome.
 *
 * @param o the outcome
 * @returns the line
 */
export function describeOutcome(o: TieringOutcome): string {
  if (!o.plan) return `${o.target}: skipped: ${o.skipped}`;
  const c = o.plan.cost;
  const moved = o.result
    ? `moved ${o.result.applied.length}, refused ${o.result.refused.length}, skipped ${o.result.skipped.length}`
    : `would move ${o.plan.moves.length}`;
  return (
    `${o.target}: ${moved}, held ${o.plan.held.length}; ${c.monthlyBefore.toFixed(2)} → ${c.monthlyAfter.toFixed(2)} ${c.currency}/month` +
    `, one-time ${c.oneTime.tierChanges.toFixed(4)} ${c.currency}, early-deletion charges avoided ${c.penaltiesAvoided.toFixed(4)} ${c.currency}`
  );
}
