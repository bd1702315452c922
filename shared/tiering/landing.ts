/**
 * The landing container's tiering: a landing file whose ingestion the ledger records as finished
 * (committed, or dead-lettered) may go to Cool, Cold or Archive, or be deleted, once as old as the
 * landing policy says, never sooner; a file the ledger does not record as finished (not yet ingested,
 * or ingesting) is never touched, so ingestion never meets an archived or missing file.
 *
 * The ledger is passed in as a function (the ingest layer sits above this one). A dead-lettered file a
 * policy archives must be rehydrated before `sluice deadletter replay` can read it again.
 */
import type { AccessTier, ObjectStore } from '../storage/types';
import { listedFile, type ClassifiedFile } from './classify';
import { costOf, decide, DEFAULT_REHYDRATED_GRACE_DAYS, HeldFile, LandingClass, landingWants, TieringPlan, TierMove, wholeDays } from './plan';
import type { LandingPolicy } from './policy';
import type { PriceTable } from './prices';

/** One landing folder (a source's) and the policy of its files. */
export interface LandingFolder {
  /** Folder in the landing container, `''` or ending with `/`. */
  prefix: string;
  policy: LandingPolicy;
}

/** Options of `planLandingTiering`. */
export interface LandingPlanOptions {
  asOf?: Date;
  prices: PriceTable;
  /** What the ledger says of a landing file version (path + ETag). */
  ledgerState: (folder: string, path: string, etag: string) => Promise<LandingClass>;
  rehydratedGraceDays?: number;
}

/**
 * Plan the landing container's tiering.
 *
 * @param landing store rooted at the landing container
 * @param folders the sources' folders with their policies (the longest matching prefix wins)
 * @param options instant, prices, ledger
 * @returns one plan for the container
 */
export async function planLandingTiering(landing: ObjectStore, folders: readonly LandingFolder[], options: LandingPlanOptions): Promise<TieringPlan> {
  const asOf = (options.asOf ?? new Date()).getTime();
  const moves: TierMove[] = [];
  const held: HeldFile[] = [];
  const listed: ClassifiedFile[] = [];
  const classes: TieringPlan['classes'] = {};
  // Nested folders are refused by the pipeline loader; sorting longest first keeps a file with one folder anyway.
  const ordered = [...folders].sort((a, b) => b.prefix.length - a.prefix.length);
  const done = new Set<string>();
  for (const folder of ordered) {
    const youngest = Math.min(
      ...[folder.policy.coolAfterDays, folder.policy.coldAfterDays, folder.policy.archiveAfterDays, folder.policy.deleteAfterDays].map((d) => d ?? Infinity),
    );
    for await (const info of landing.list(folder.prefix)) {
      if (done.has(info.path)) continue;
      done.add(info.path);
      const file: ClassifiedFile = listedFile(info);
      listed.push(file);
      // A file already as cool as the policy goes, with no deletion to come, needs no ledger read on every pass.
      if (settled(file, folder.policy)) {
        count(classes, 'settled', info.size);
        continue;
      }
      // Only files old enough for some step cost a ledger read.
      const state: LandingClass =
        wholeDays(asOf - info.lastModified.getTime()) >= youngest ? await options.ledgerState(folder.prefix, info.path, info.etag) : 'pending';
      count(classes, state, info.size);
      if (state === 'pending') continue;
      const landingFile = { ...file, class: state } as unknown as ClassifiedFile;
      const decision = await decide(
        landingFile,
        landingWants(landingFile, folder.policy, asOf),
        asOf,
        options.rehydratedGraceDays ?? DEFAULT_REHYDRATED_GRACE_DAYS,
        options,
      );
      if (decision.move) moves.push(decision.move);
      if (decision.held) held.push(decision.held);
    }
  }
  return {
    kind: 'landing',
    target: landing.url,
    asOf: new Date(asOf).toISOString(),
    policy: Object.fromEntries(folders.map((f) => [f.prefix, f.policy])),
    classes,
    moves,
    held,
    cost: costOf(listed, moves, held, options.prices),
    problems: [],
  };
}

function count(classes: TieringPlan['classes'], key: string, bytes: number): void {
  const c = (classes[key] ??= { files: 0, bytes: 0 });
  c.files++;
  c.bytes += bytes;
}

const COLDER: readonly AccessTier[] = ['Hot', 'Cool', 'Cold', 'Archive'];

/** In the coldest tier the policy names (or colder), and the policy deletes nothing. */
function settled(file: ClassifiedFile, policy: LandingPolicy): boolean {
  if (policy.deleteAfterDays !== null || file.archiveStatus) return false;
  const coldest = policy.archiveAfterDays !== null ? 'Archive' : policy.coldAfterDays !== null ? 'Cold' : policy.coolAfterDays !== null ? 'Cool' : 'Hot';
  return COLDER.indexOf(file.tier) >= COLDER.indexOf(coldest);
}
