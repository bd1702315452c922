/**
 * Poison files and claims, on Azurite through the real stage: a file whose reading throws a
 * non-transient error every time is retried by reconcile (backfill) until the poison limit, then
 * dead-lettered whole with reason `poison: <last error>`, its ledger entry terminal and the folder's
 * watermark past it; a file failing with transient storage errors is retried beyond that limit and
 * lands once storage recovers; a `started` entry whose claim is no longer renewed is taken over
 * after a minute, not ten.
 */
import { describe, expect, it } from 'vitest';
import { backfill, formatsReader, type ReadInput } from '../../shared/ingest';
import { CLAIM_EXPIRY_MS, claimIsLive, holdClaim } from '../../shared/ingest/ledger';
import { ingestEnv, ledgerEntry, tableRows } from '../support/ingest';
import type { LedgerEntry } from '../../shared/ingest/types';

const csv = (prefix: string, n: number) => ['id,qty', ...Array.from({ length: n }, (_, i) => `${prefix}-${i},${i}`)].join('\n') + '\n';
/** Last-Modified has one-second resolution: files written a second apart order the watermark. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

/** The real reader, except for files whose name matches: those throw what `fail` gives. */
function failingReader(match: RegExp, fail: () => Error | null): ReadInput {
  const real = formatsReader();
  return async (input, name, options) => {
    if (match.test(name)) {
      const err = fail();
      if (err) throw err;
    }
    return real(input, name, options);
  };
}

describe('poison files', () => {
  it('a file failing for a non-transient reason is retried 5 times, then dead-lettered whole; the watermark moves past it', async () => {
    const env = ingestEnv('poison');
    await env.landing.write('in/a.csv', csv('a', 3));
    await nextSecond();
    const bad = await env.landing.write('in/b.csv', csv('b', 4));
    await nextSecond();
    const last = await env.landing.write('in/c.csv', csv('c', 2));
    // What a reader bug such as item 2's spread of a huge array throws: not transient.
    const reader = failingReader(/b\.csv$/, () => new RangeError('Maximum call stack size exceeded'));
    const options = { landing: env.landing, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, prefix: 'in/', marginMs: 0, reader };

    for (let attempt = 1; attempt <= 4; attempt++) {
      const pass = await backfill(options);
      expect(
        pass.failures.map((f) => `${f.path}: ${f.error.message}`),
        `pass ${attempt}`,
      ).toEqual(['in/b.csv: Maximum call stack size exceeded']);
      expect(pass.inProgress, `pass ${attempt}: a failed attempt holds no claim`).toBe(0);
      const entry = await ledgerEntry(env, 'in/b.csv');
      expect(entry, `pass ${attempt}`).toMatchObject({ status: 'started', failures: attempt, lastError: 'Maximum call stack size exceeded' });
      // Pinned at the failing file while it can still be retried.
      expect(pass.watermark.after, `pass ${attempt}`).toBe(bad.lastModified.getTime());
    }

    const fifth = await backfill(options);
    expect(fifth.failures).toEqual([]);
    expect(fifth.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/b.csv:deadlettered']);
    const entry = (await ledgerEntry(env, 'in/b.csv'))!;
    expect(entry).toMatchObject({
      status: 'deadlettered',
      failures: 5,
      reason: 'poison: Maximum call stack size exceeded',
      rowsRead: 0,
      rowsWritten: 0,
      rowsDeadLettered: 0,
    });
    const record = JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(entry.deadLetter!)));
    expect(record).toMatchObject({ kind: 'sluice.deadLetter', table: env.tableKey, source: { path: 'in/b.csv', etag: entry.etag, size: bad.size } });
    expect(record.reason).toMatch(/^poison: Maximum call stack size exceeded \(failed 5 times; the whole file is set aside/);
    expect(fifth.watermark.after).toBe(last.lastModified.getTime());

    // Terminal: the next pass looks it up, finds it done, and ingests nothing.
    const after = await backfill({ ...options, marginMs: 5_000 });
    expect(after).toMatchObject({ outcomes: [], failures: [], done: 3 });
    expect((await tableRows(env.table)).map((r) => r.id).sort()).toEqual(['a-0', 'a-1', 'a-2', 'c-0', 'c-1']);
  });

  it('a file failing with transient storage errors is retried past the poison limit and lands once storage recovers', async () => {
    const env = ingestEnv('transient');
    await env.landing.write('in/t.csv', csv('t', 3));
    let throttled = 7;
    const reader = failingReader(/t\.csv$/, () => (throttled-- > 0 ? Object.assign(new Error('Server busy'), { statusCode: 503 }) : null));
    const options = { landing: env.landing, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, prefix: 'in/', marginMs: 0, reader };
    for (let attempt = 1; attempt <= 7; attempt++) {
      const pass = await backfill(options);
      expect(
        pass.failures.map((f) => f.error.message),
        `pass ${attempt}`,
      ).toEqual(['Server busy']);
      const entry = await ledgerEntry(env, 'in/t.csv');
      expect(entry?.status, `pass ${attempt}`).toBe('started');
      expect(entry?.failures ?? 0, `pass ${attempt}: transient failures are not counted`).toBe(0);
    }
    const pass = await backfill(options);
    expect(pass.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/t.csv:committed']);
    expect((await tableRows(env.table)).map((r) => r.id).sort()).toEqual(['t-0', 't-1', 't-2']);
  });
});

describe('claims on started entries', () => {
  const entry = (updatedAt: number, failedAt?: number): LedgerEntry => ({
    table: 't',
    path: 'p',
    etag: 'e',
    status: 'started',
    attempts: 1,
    startedAt: new Date(0).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
    startVersion: -1,
    rowsRead: 0,
    rowsWritten: 0,
    rowsRescued: 0,
    rowsDeadLettered: 0,
    bytes: 0,
    ...(failedAt !== undefined ? { failedAt: new Date(failedAt).toISOString() } : {}),
  });

  it('a claim renewed within a minute is live; one not renewed for a minute, or given up by a failure, is not', () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    expect(CLAIM_EXPIRY_MS).toBeLessThanOrEqual(60_000);
    expect(claimIsLive(entry(now - 20_000), now)).toBe(true);
    expect(claimIsLive(entry(now - CLAIM_EXPIRY_MS - 1), now)).toBe(false);
    expect(claimIsLive(entry(now - 5_000, now - 5_000), now)).toBe(false);
    // A new attempt after the failure claims it again.
    expect(claimIsLive(entry(now - 1_000, now - 5_000), now)).toBe(true);
    expect(claimIsLive({ ...entry(now), status: 'committed' }, now)).toBe(false);
  });

  it('a held claim is renewed in the background, never over an outcome another attempt wrote', async () => {
    const env = ingestEnv('renew');
    const old = new Date(Date.now() - 5 * 60_000).toISOString();
    const started = { ...entry(0), table: env.tableKey, path: 'in/x.csv', etag: 'x1', startedAt: old, updatedAt: old };
    await env.ledger.start(started);
    const claim = holdClaim(env.ledger, started, 50);
    const deadline = Date.now() + 5_000;
    while ((await env.ledger.get(env.tableKey, 'in/x.csv', 'x1'))!.updatedAt === old && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const renewed = (await env.ledger.get(env.tableKey, 'in/x.csv', 'x1'))!;
    expect(Date.parse(renewed.updatedAt)).toBeGreaterThan(Date.parse(old));
    expect(claimIsLive(renewed, Date.now())).toBe(true);
    // Another process finishes the file: renewals from here on leave its outcome alone.
    await env.ledger.put({ ...started, status: 'committed', version: 3, updatedAt: new Date().toISOString() });
    await new Promise((r) => setTimeout(r, 300));
    await claim.release();
    expect(await env.ledger.get(env.tableKey, 'in/x.csv', 'x1')).toMatchObject({ status: 'committed', version: 3 });
    expect(await env.ledger.renew(started, new Date().toISOString())).toBe(false);
  });

  it('a running ingestion renews its claim, so reconcile leaves it alone; a dead one is taken over', async () => {
    const env = ingestEnv('claim');
    await env.landing.write('in/slow.csv', csv('s', 2));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const reading = new Promise<void>((r) => (entered = r));
    const real = formatsReader();
    // A reader that waits: an ingestion still running when reconcile comes by.
    const slow: ReadInput = async (input, name, options) => {
      entered();
      await gate;
      return real(input, name, options);
    };
    const options = { landing: env.landing, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, prefix: 'in/', marginMs: 0 };
    const running = backfill({ ...options, reader: slow });
    await reading;
    const beside = await backfill(options);
    expect(beside).toMatchObject({ inProgress: 1, outcomes: [], failures: [] });
    release();
    expect((await running).outcomes.map((o) => o.status)).toEqual(['committed']);

    // A `started` entry last renewed two minutes ago (its process died): taken over at once.
    await env.landing.write('in/orphan.csv', csv('o', 2));
    const info = await env.landing.properties('in/orphan.csv');
    const stale = new Date(Date.now() - 2 * 60_000).toISOString();
    await env.ledger.start({ ...entry(0), table: env.tableKey, path: 'in/orphan.csv', etag: info.etag.replace(/"/g, ''), startedAt: stale, updatedAt: stale });
    const next = await backfill(options);
    expect(next.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/orphan.csv:committed']);
    expect((await tableRows(env.table)).map((r) => r.id).sort()).toEqual(['o-0', 'o-1', 's-0', 's-1']);
    // The attempt that died counts as a failure, in case the file is what kills its process.
    expect(await ledgerEntry(env, 'in/orphan.csv')).toMatchObject({ status: 'committed', failures: 1 });

    // A file whose every attempt died (say it exhausts memory): the 5th lapsed claim makes it poison, unread.
    await env.landing.write('in/killer.csv', csv('k', 2));
    const killer = await env.landing.properties('in/killer.csv');
    await env.ledger.start({
      ...entry(0),
      table: env.tableKey,
      path: 'in/killer.csv',
      etag: killer.etag.replace(/"/g, ''),
      startedAt: stale,
      updatedAt: stale,
      attempts: 4,
      failures: 4,
    });
    const last = await backfill({ ...options, reader: failingReader(/killer/, () => new Error('must not be read')) });
    expect(last.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/killer.csv:deadlettered']);
    expect(await ledgerEntry(env, 'in/killer.csv')).toMatchObject({
      status: 'deadlettered',
      failures: 5,
      reason: expect.stringMatching(/^poison: the attempt last seen at .* stopped without an outcome/),
    });
  });
});
