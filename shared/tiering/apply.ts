/**
 * `applyTiering`: carry a plan out, file by file. A tier change storage refuses (a blob under an active
 * lease, an account without the Cold tier, …) is reported with the file and the service's message and
 * left for the next run, which plans the file again because its tier did not change. Running a plan's
 * table again moves nothing more: a moved file is in its tier, and a plan only moves files cooler.
 *
 * A table may get commits between planning and applying. When its version moved on, every planned
 * file is classified again against the new version first, and a file that is no longer what the plan
 * took it for (a live file just removed by optimize now has a deletion date) is skipped, not moved on
 * the strength of stale facts.
 */
import { loadSnapshot } from '../delta/snapshot';
import type { ObjectStore } from '../storage/types';
import { classifyListing, isHidden } from './classify';
import type { TieringPlan, TierMove } from './plan';

/** A move storage refused. */
export interface TierRefusal {
  path: string;
  to: TierMove['to'];
  /** The storage error's message (e.g. `409 LeaseIdMissing: …`). */
  error: string;
  /** Whether storage called it transient. */
  transient: boolean;
}

/** What applying a plan did. */
export interface ApplyResult {
  target: string;
  applied: TierMove[];
  refused: TierRefusal[];
  /** Moves left out because the file changed since the plan, with why. */
  skipped: { path: string; reason: string }[];
  bytesMoved: number;
}

/** Options of `applyTiering`. */
export interface ApplyOptions {
  /** Tier changes in flight at once (default 16). */
  concurrency?: number;
}

/**
 * Apply a plan.
 *
 * @param store the store the plan's paths are relative to (the table, or the landing container)
 * @param plan the plan (`planTiering`, `planLandingTiering`)
 * @param options concurrency
 * @returns what was moved, refused and skipped
 */
export async function applyTiering(store: ObjectStore, plan: TieringPlan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const skipped: ApplyResult['skipped'] = [];
  let moves = plan.moves.filter((m) => {
    // The planner never plans these; a hand-edited plan must not slip one through either.
    if (plan.kind === 'table' && isHidden(m.path)) {
      skipped.push({ path: m.path, reason: 'the log and _/. folders are never tiered' });
      return false;
    }
    return true;
  });
  if (plan.kind === 'table' && moves.length) moves = await stillAsPlanned(store, plan, moves, skipped);

  const applied: TierMove[] = [];
  const refused: TierRefusal[] = [];
  let next = 0;
  const worker = async () => {
    while (next < moves.length) {
      const move = moves[next++];
      try {
        if (move.to === 'Deleted') await store.delete(move.path);
        else await store.setAccessTier(move.path, move.to);
        applied.push(move);
      } catch (err) {
        refused.push({
          path: move.path,
          to: move.to,
          error: (err as Error).message ?? String(err),
          transient: (err as { transient?: boolean }).transient === true,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, moves.length) }, worker));
  const order = new Map(plan.moves.map((m, i) => [m.path, i]));
  applied.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  refused.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  return { target: plan.target, applied, refused, skipped, bytesMoved: applied.reduce((n, m) => n + m.size, 0) };
}

/** The moves whose files are still what the plan took them for at the table's latest version. */
async function stillAsPlanned(store: ObjectStore, plan: TieringPlan, moves: TierMove[], skipped: ApplyResult['skipped']): Promise<TierMove[]> {
  const snapshot = await loadSnapshot(store);
  if (snapshot.version === plan.version) return moves;
  const listing = moves.map((m) => ({ path: m.path, size: m.size, etag: '', lastModified: new Date(0), accessTier: m.from }));
  const now = classifyListing(snapshot, listing, {
    asOf: new Date(plan.asOf),
    defaultRetention: plan.retention ? { hours: plan.retention.hours, source: plan.retention.source } : undefined,
  });
  const classes = new Map(now.files.map((f) => [f.path, f]));
  return moves.filter((m) => {
    const file = classes.get(m.path);
    if (file && file.class === m.class && (file.class !== 'timeTravel' || notSooner(m, file.deletableFrom))) return true;
    skipped.push({ path: m.path, reason: `was ${m.class} at version ${plan.version}, is ${file?.class ?? 'gone'} at version ${snapshot.version}` });
    return false;
  });
}

/** A time-travel file's deletion date may move later (a shorter retention would bring it sooner: then the move may no longer fit). */
function notSooner(move: TierMove, deletableFrom: number | undefined): boolean {
  return move.deletableFrom !== undefined && deletableFrom !== undefined && deletableFrom >= Date.parse(move.deletableFrom);
}
