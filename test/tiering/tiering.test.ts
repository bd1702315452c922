/**
 * Storage tiering on Azurite: a partitioned table with versions, files removed inside and outside its
 * retention, and an orphan; plans with policies, applied, then planned and applied again. Time passes
 * through `asOf` (the instant a plan is made for) and the removes' deletion timestamps, never by waiting.
 */
import { describe, expect, inject, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { commitTransaction, loadSnapshot, readTable, writeTable } from '../../shared/delta';
import { LocalStore } from '../../shared/storage/local';
import { openStore } from '../../shared/storage/location';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { writerBatch } from '../../bench/writers';
import { removeAction } from '../../shared/delta/actions';
import type { AccessTier, ObjectInfo, ObjectStore } from '../../shared/storage/types';
import {
  applyTiering,
  bytesByTier,
  classifyTable,
  DEFAULT_PRICES,
  planLandingTiering,
  planTableTiering,
  planTiering,
  resolveLandingPolicy,
  resolveTieringPolicy,
  type TieringPolicy,
} from '../../shared/tiering';
import type { TieringPolicyDefinition } from '../../shared/pipeline/tiering';
import { tieredTable } from '../support/tiering';
import { BlobServiceClient } from '@azure/storage-blob';

const DAY = 86_400_000;
const prices = DEFAULT_PRICES;

/** A policy from flags only (the rest: bronze defaults switched off unless given). */
function policy(values: TieringPolicyDefinition): TieringPolicy {
  return resolveTieringPolicy('bronze', [
    { from: 'test', values: { coolAfterDays: null, coldAfterDays: null, archiveAfterDays: null, timeTravelToCool: false, ...values } },
  ]);
}

async function tiers(store: ObjectStore): Promise<Map<string, ObjectInfo>> {
  const out = new Map<string, ObjectInfo>();
  for await (const info of store.list('')) out.set(info.path, info);
  return out;
}

describe('tiering classifies a table from its log and one listing', () => {
  it('tells live, time-travel, expired, orphan and log files apart, with vacuum dates', async () => {
    const { store, paths, now } = await tieredTable('tier-classify');
    const files = await classifyTable(store, { asOf: new Date(now) });
    const cls = new Map(files.files.map((f) => [f.path, f]));
    expect(['w1', 'w5'].map((w) => cls.get(paths[w])?.class)).toEqual(['live', 'live']);
    expect(cls.get(paths.w2)?.class).toBe('timeTravel');
    expect(cls.get(paths.w3)?.class).toBe('timeTravel');
    expect(cls.get(paths.w4)?.class).toBe('expired');
    expect(cls.get(paths.orphan)?.class).toBe('orphan');
    expect(files.files.filter((f) => f.path.startsWith('_delta_log/')).every((f) => f.class === 'log')).toBe(true);
    // Vacuum's date: removal + 60 days.
    expect(Math.round((cls.get(paths.w2)!.deletableFrom! - now) / DAY)).toBe(10);
    expect(Math.round((cls.get(paths.w3)!.deletableFrom! - now) / DAY)).toBe(60);
    expect(files.retentionSource).toContain('interval 60 days');
    expect(files.missing).toEqual([]);
  });

  it('plans from one listing: no per-blob property call', async () => {
    const { store, now } = await tieredTable('tier-calls');
    let properties = 0;
    let lists = 0;
    const counted: ObjectStore = Object.assign(Object.create(store), {
      properties: (p: string) => (properties++, store.properties(p)),
      list: (prefix: string) => (lists++, store.list(prefix)),
    });
    const plan = await planTableTiering(counted, policy({ coolAfterDays: 0 }), { asOf: new Date(now), prices });
    expect(plan.moves.length).toBeGreaterThan(0);
    expect(properties).toBe(0);
    // The snapshot load lists _delta_log/ once, the classification the table once, and the rehydration
    // holds their own small folder (_sluice/rehydration/) once.
    expect(lists).toBe(3);
  });
});

describe('planTiering and applyTiering on Azurite', () => {
  it('moves live and time-travel files to Cool, never into an early deletion, never the log, and the table stays readable', async () => {
    const { store, paths, now } = await tieredTable('tier-apply');
    const rowsBefore = (await readTable(await loadSnapshot(store))).numRows;
    const asOf = new Date(now + 60_000);
    const plan = await planTableTiering(store, policy({ coolAfterDays: 0, coldAfterDays: 0, timeTravelToCool: true }), { asOf, prices });

    const moved = new Map(plan.moves.map((m) => [m.path, m]));
    // Live files: Cold (no deletion date to respect).
    expect([moved.get(paths.w1)?.to, moved.get(paths.w5)?.to]).toEqual(['Cold', 'Cold']);
    // 60 days left: Cold's 90 do not fit, Cool's 30 do.
    expect(moved.get(paths.w3)?.to).toBe('Cool');
    expect(plan.held.find((h) => h.path === paths.w3)).toMatchObject({ wanted: 'Cold', reason: 'early-deletion' });
    // 10 days left: no tier fits; held, with the charge a move would have cost.
    expect(moved.has(paths.w2)).toBe(false);
    const w2 = plan.held.find((h) => h.path === paths.w2)!;
    expect(w2).toMatchObject({ reason: 'early-deletion', tier: 'Hot' });
    expect(w2.penaltyAvoided).toBeGreaterThan(0);
    // Expired, orphan and log: never.
    expect(moved.has(paths.w4) || moved.has(paths.orphan)).toBe(false);
    expect(plan.moves.some((m) => m.path.startsWith('_'))).toBe(false);
    expect(plan.moves.every((m) => m.to !== 'Archive')).toBe(true);
    // The money: monthly cost goes down, tier changes cost something, the held files' waits save something.
    expect(plan.cost.monthlyAfter).toBeLessThan(plan.cost.monthlyBefore);
    expect(plan.cost.oneTime.tierChanges).toBeGreaterThan(0);
    expect(plan.cost.penaltiesAvoided).toBeGreaterThan(0);
    expect(plan.cost.oneTime.rehydrationStandard).toBe(0);

    const logBefore = [...(await tiers(store))].filter(([p]) => p.startsWith('_delta_log/'));
    const result = await applyTiering(store, plan);
    expect(result.refused).toEqual([]);
    expect(result.applied.map((m) => m.path).sort()).toEqual(plan.moves.map((m) => m.path).sort());
    const after = await tiers(store);
    for (const m of plan.moves) expect(after.get(m.path)?.accessTier).toBe(m.to);
    // The log untouched: same blobs, same ETags, tier never set.
    for (const [path, info] of logBefore) {
      expect(after.get(path)?.etag).toBe(info.etag);
      expect(after.get(path)?.accessTier).toBe('Hot');
      expect(after.get(path)?.accessTierChangedOn).toBeUndefined();
    }
    expect(after.get(paths.w2)?.accessTier).toBe('Hot');
    expect(after.get(paths.w4)?.accessTier).toBe('Hot');
    // The current version reads whole from Cool and Cold.
    expect((await readTable(await loadSnapshot(store))).numRows).toBe(rowsBefore);
    const bytes = await bytesByTier(store);
    expect(bytes.data.Cold).toBe(moved.get(paths.w1)!.size + moved.get(paths.w5)!.size);
    expect(bytes.data.Cool).toBe(moved.get(paths.w3)!.size);
    expect(bytes.log.Cool + bytes.log.Cold + bytes.log.Archive).toBe(0);

    // Idempotent: the same policy at the same instant moves nothing more.
    const again = await planTableTiering(store, policy({ coolAfterDays: 0, coldAfterDays: 0, timeTravelToCool: true }), { asOf, prices });
    expect(again.moves).toEqual([]);
    expect((await applyTiering(store, again)).applied).toEqual([]);
  });

  it('never archives a live file without consent; with consent, archives whole quiet partitions only', async () => {
    const { store, paths, now } = await tieredTable('tier-consent');
    const later = new Date(now + 400 * DAY);
    const without = await planTableTiering(store, policy({ coolAfterDays: 30, coldAfterDays: 90 }), { asOf: later, prices });
    expect(without.moves.filter((m) => m.class === 'live').map((m) => m.to)).toEqual(['Cold', 'Cold']);
    expect(without.moves.some((m) => m.to === 'Archive')).toBe(false);

    const consent = await planTableTiering(store, policy({ coolAfterDays: 30, coldAfterDays: 90, archiveAfterDays: 365 }), { asOf: later, prices });
    const live = consent.moves.filter((m) => m.class === 'live');
    expect(live.map((m) => [m.path, m.to]).sort()).toEqual([
      [paths.w1, 'Archive'],
      [paths.w5, 'Archive'],
    ]);
    expect(live[0].reason).toMatch(/partition writer=\d not written for 400 days ≥ archiveAfterDays 365 \(test\)/);
    expect(consent.cost.oneTime.rehydrationStandard).toBeGreaterThan(0);
    expect(consent.cost.oneTime.rehydrationHigh).toBeGreaterThan(consent.cost.oneTime.rehydrationStandard);
    // A backup is configured and holds only w1: w5 is not archived (Cold instead) and says why.
    const backed = await planTableTiering(store, policy({ coolAfterDays: 30, coldAfterDays: 90, archiveAfterDays: 365 }), {
      asOf: later,
      prices,
      isBackedUp: (f) => f.path === paths.w1,
    });
    expect(backed.moves.find((m) => m.path === paths.w5)?.to).toBe('Cold');
    expect(backed.held.find((h) => h.path === paths.w5)).toMatchObject({ reason: 'not-backed-up', wanted: 'Archive' });
    expect(backed.held.find((h) => h.path === paths.w5)?.detail).toContain('not backed up');
  });

  it('waits out a tier minimum, reports a refused change per file and retries it next run', async () => {
    const { store, paths, now, container } = await tieredTable('tier-refuse');
    const cool = policy({ coolAfterDays: 0 });
    const first = await planTableTiering(store, cool, { asOf: new Date(now), prices });
    // An active lease: Azurite, like Azure, refuses Set Blob Tier without the lease id.
    const blobs = BlobServiceClient.fromConnectionString(inject('azuriteConnectionString')).getContainerClient(container);
    const leased = blobs.getBlockBlobClient(`bronze/events/${paths.w5}`).getBlobLeaseClient();
    await leased.acquireLease(-1);
    const result = await applyTiering(store, first);
    expect(result.refused.map((r) => r.path)).toEqual([paths.w5]);
    expect(result.refused[0].error).toMatch(/412|LeaseIdMissing/);
    expect(result.applied.map((m) => m.path)).toContain(paths.w1);

    // Next run: w1 is done; w5 is planned again and goes once the lease is gone.
    await leased.releaseLease();
    const second = await planTableTiering(store, cool, { asOf: new Date(now), prices });
    expect(second.moves.map((m) => m.path)).toEqual([paths.w5]);
    expect((await applyTiering(store, second)).applied.map((m) => m.path)).toEqual([paths.w5]);

    // Cold now would leave Cool within its 30 days: held with the charge avoided; after 30 days, it moves.
    const cold = policy({ coolAfterDays: 0, coldAfterDays: 0 });
    const early = await planTableTiering(store, cold, { asOf: new Date(Date.now()), prices });
    const w1 = early.held.find((h) => h.path === paths.w1)!;
    expect(w1).toMatchObject({ reason: 'tier-minimum', tier: 'Cool', wanted: 'Cold' });
    expect(w1.penaltyAvoided).toBeGreaterThan(0);
    expect(early.moves.some((m) => m.path === paths.w1)).toBe(false);
    const month = await planTableTiering(store, cold, { asOf: new Date(Date.now() + 31 * DAY), prices });
    expect(month.moves.find((m) => m.path === paths.w1)?.to).toBe('Cold');
  });

  it('never re-archives a file that is rehydrating or was rehydrated recently', async () => {
    const { store, paths, now } = await tieredTable('tier-rehydrate');
    // w1 went to Archive and back (Azurite rehydrates at once): its tier changed just now.
    await store.setAccessTier(paths.w1, 'Archive');
    await store.setAccessTier(paths.w1, 'Hot', { rehydratePriority: 'High' });
    // Azurite completes rehydration at once; a wrapper shows w5 as still pending, as Azure would for hours.
    const pending: ObjectStore = Object.assign(Object.create(store), {
      list: async function* (prefix: string) {
        for await (const info of store.list(prefix))
          yield info.path === paths.w5 ? { ...info, accessTier: 'Archive' as AccessTier, archiveStatus: 'rehydrate-pending-to-hot' } : info;
      },
    });
    const archive = policy({ archiveAfterDays: 0 });
    const plan = await planTableTiering(pending, archive, { asOf: new Date(now + 60_000), prices });
    expect(plan.moves.map((m) => m.path)).not.toContain(paths.w1);
    expect(plan.moves.map((m) => m.path)).not.toContain(paths.w5);
    expect(plan.held.find((h) => h.path === paths.w1)).toMatchObject({ reason: 'recently-tier-changed', wanted: 'Archive' });
    expect(plan.held.find((h) => h.path === paths.w5)).toMatchObject({ reason: 'rehydrating' });
    // After the grace, w1 may go again (the table consented).
    const later = await planTableTiering(pending, archive, { asOf: new Date(now + 31 * DAY), prices });
    expect(later.moves.find((m) => m.path === paths.w1)?.to).toBe('Archive');
  });

  it('skips a planned move whose file changed class before apply', async () => {
    const { store, paths, now } = await tieredTable('tier-stale');
    const files = await classifyTable(store, { asOf: new Date(now) });
    const plan = await planTiering(files, policy({ coolAfterDays: 0 }), { asOf: new Date(now), prices });
    expect(plan.moves.map((m) => m.path)).toContain(paths.w1);
    // w1 is removed now (as optimize would): vacuum may delete it in 60 days: still fits Cool, but no longer as a live file.
    const snapshot = await loadSnapshot(store);
    const w1 = [...snapshot.state.files.values()].find((f) => f.partitionValues.writer === '1')!;
    await commitTransaction(store, snapshot, { operation: 'DELETE', actions: [removeAction(w1, true, Date.now())] });
    const result = await applyTiering(store, plan);
    expect(result.skipped).toEqual([{ path: paths.w1, reason: expect.stringMatching(/was live at version 5, is timeTravel at version 6/) }]);
    expect((await tiers(store)).get(paths.w1)?.accessTier).toBe('Hot');
  });
});

describe('archiving by partition age (local disk, where file times can be set back)', () => {
  it('archives a partition not written for archiveAfterDays, not one that got a new file', async () => {
    const root = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-parts-'));
    try {
      const store = new LocalStore(root);
      await writeTable(store, [writerBatch(1, 0, 3)], { partitionColumns: ['writer'] });
      await writeTable(store, [writerBatch(2, 0, 3)]);
      await writeTable(store, [writerBatch(2, 1, 3)]);
      const files = [...(await loadSnapshot(store)).state.files.values()].map((f) => ({ path: decodeURIComponent(f.path) }));
      const old = new Date(Date.now() - 400 * DAY);
      // writer=1: all old. writer=2: one old file and one just written.
      const w1 = files.filter((f) => f.path.startsWith('writer=1/')).map((f) => f.path);
      const w2 = files.filter((f) => f.path.startsWith('writer=2/')).map((f) => f.path);
      expect([w1.length, w2.length]).toEqual([1, 2]);
      for (const p of [...w1, w2[0]]) utimesSync(nodePath.join(root, p), old, old);
      const plan = await planTableTiering(store, policy({ coldAfterDays: 90, archiveAfterDays: 365 }), { asOf: new Date(), prices });
      expect(Object.fromEntries(plan.moves.map((m) => [m.path, m.to]))).toEqual({ [w1[0]]: 'Archive', [w2[0]]: 'Cold' });
      const applied = await applyTiering(store, plan);
      expect(applied.applied).toHaveLength(2);
      expect((await store.properties(w1[0])).accessTier).toBe('Archive');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('deletion-vector files', () => {
  it('are live with the data files that use them, and never archived on their own', async () => {
    const root = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-dv-'));
    try {
      cpSync(nodePath.resolve(__dirname, '..', 'fixtures', 'delta-dv', 'dv-partitioned-with-checkpoint'), root, { recursive: true });
      const store = new LocalStore(root);
      const files = await classifyTable(store);
      const dvs = files.files.filter((f) => f.path.startsWith('deletion_vector_'));
      expect(dvs.length).toBeGreaterThan(0);
      // Those the log still names are flagged (the rest are orphans: their tombstones left with a checkpoint).
      expect(dvs.filter((f) => f.class !== 'orphan').every((f) => f.deletionVector === true)).toBe(true);
      expect(dvs.filter((f) => f.class === 'live').length).toBeGreaterThan(0);
      const plan = await planTiering(files, policy({ archiveAfterDays: 0 }), { asOf: new Date(Date.now() + 1000 * DAY), prices });
      expect(plan.moves.filter((m) => m.to === 'Archive').length).toBeGreaterThan(0);
      expect(plan.moves.some((m) => m.path.startsWith('deletion_vector_'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('planLandingTiering', () => {
  it('moves only files the ledger records as ingested, and stops asking the ledger once a file is as cool as the policy goes', async () => {
    const landing = openStore(azuriteUri(uniqueContainer('tier-landing')));
    await landing.write('calls/a.csv', 'x');
    await landing.write('calls/b.csv', 'y');
    const asked: string[] = [];
    const policy = resolveLandingPolicy([{ from: 'test', values: { coolAfterDays: 30 } }]);
    const options = {
      prices,
      asOf: new Date(Date.now() + 31 * DAY),
      ledgerState: async (_folder: string, path: string) => (asked.push(path), path === 'calls/a.csv' ? ('committed' as const) : ('pending' as const)),
    };
    const first = await planLandingTiering(landing, [{ prefix: 'calls/', policy }], options);
    expect(first.moves.map((m) => [m.path, m.to])).toEqual([['calls/a.csv', 'Cool']]);
    expect(asked.sort()).toEqual(['calls/a.csv', 'calls/b.csv']);
    await applyTiering(landing, first);
    asked.length = 0;
    const second = await planLandingTiering(landing, [{ prefix: 'calls/', policy }], options);
    expect(second.moves).toEqual([]);
    expect(asked).toEqual(['calls/b.csv']);
    expect(second.classes).toMatchObject({ settled: { files: 1 }, pending: { files: 1 } });
  });
});
