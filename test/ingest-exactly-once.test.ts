/**
 * Exactly once per (blob, ETag), on Azurite with real processes: duplicate events (sequential and
 * concurrent), a SIGKILL at every fault point followed by a retry, a missed event and a crashed
 * ingestion reconciled by backfill (with its watermark), and a changed file (new ETag) ingested again.
 * Every check reads the table back: each input row exactly once; the ledger's counts add up
 * (read = written + dead-lettered); the table passes the independent Delta checks.
 */
import { describe, expect, it } from 'vitest';
import { flushLane, loadSnapshot } from '../shared/delta';
import { LANE_INTENTS } from '../shared/delta/lane';
import { backfill, LedgerEntry } from '../shared/ingest';
import type { JsonValue } from '../shared/delta/rows';
import { validateTable } from './helpers/delta-validate';
import { ingest, IngestEnv, ingestEnv, putNdjson, runIngestProcess, startIngestProcess, tableRows } from './helpers/ingest';
import { ndjsonReader } from './helpers/ingest-reader';

/** NDJSON text of `n` rows with ids `<prefix>-<i>`, plus one malformed line in the middle when `bad`. */
function ndjson(prefix: string, n: number, bad = false): string {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, n: i, note: `row ${i} of ${prefix}` }));
  if (bad) lines.splice(Math.floor(n / 2), 0, '{"id": "broken", "n": ');
  return lines.join('\n') + '\n';
}

/** How many times each id is in the table, for ids starting with `prefix-`. */
async function idCounts(env: IngestEnv, prefix: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const row of await tableRows(env.table)) {
    const id = String(row.id);
    if (id.startsWith(`${prefix}-`)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every id `<prefix>-0..n-1` exactly once, nothing else with the prefix. */
async function expectExactlyOnce(env: IngestEnv, prefix: string, n: number): Promise<void> {
  const counts = await idCounts(env, prefix);
  expect(counts.size, `distinct ${prefix} ids`).toBe(n);
  expect([...counts.values()].every((c) => c === 1), `${prefix} ids each once: ${JSON.stringify([...counts].filter(([, c]) => c !== 1))}`).toBe(true);
}

async function ledgerEntry(env: IngestEnv, path: string): Promise<LedgerEntry> {
  const info = await env.landing.properties(path);
  const entry = await env.ledger.get(env.tableKey, path, info.etag.replace(/"/g, ''));
  expect(entry, `ledger entry for ${path}`).not.toBeNull();
  return entry!;
}

async function expectValidTable(env: IngestEnv): Promise<void> {
  const report = await validateTable(env.table, { requireStats: true });
  expect(report.problems).toEqual([]);
}

/** A table created by ingesting a seed file (so that crash points hit the data commit, not the creation). */
async function seeded(label: string): Promise<IngestEnv> {
  const env = ingestEnv(label);
  await putNdjson(env.landing, 'in/seed.json', ndjson('seed', 3));
  expect((await ingest(env, 'in/seed.json')).status).toBe('committed');
  return env;
}

describe('ingest exactly once', () => {
  it('duplicate events for the same blob version add its rows once, concurrent or not', async () => {
    const env = await seeded('dup');
    await env.landing.write('in/f.json', ndjson('f', 50, true));
    // Two processes get the same event at the same time, then a third delivery comes later.
    const children = [0, 1].map(() => startIngestProcess(env, { path: 'in/f.json' }, { waitGo: true }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const outcomes = await Promise.all(children.map((c) => c.exited));
    for (const o of outcomes) {
      expect(o.code, o.stderr).toBe(0);
      expect(['committed', 'duplicate']).toContain(o.outcome!.status);
    }
    const later = await ingest(env, 'in/f.json');
    expect(later.status).toBe('duplicate');
    await expectExactlyOnce(env, 'f', 50);

    const entry = await ledgerEntry(env, 'in/f.json');
    expect(entry).toMatchObject({ status: 'committed', rowsRead: 51, rowsWritten: 50, rowsDeadLettered: 1, rowsRescued: 0 });
    expect(entry.rowsRead).toBe(entry.rowsWritten + entry.rowsDeadLettered);
    expect(later).toMatchObject({ rowsRead: 51, rowsWritten: 50, rowsDeadLettered: 1, version: entry.version });
    // The malformed line is in the dead-letter record, with where it was; the file is referenced, not copied.
    const record = JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(entry.deadLetter!)));
    expect(entry.deadLetter).toMatch(/^bronze\/events\/\d{4}-\d{2}-\d{2}\/in\/f\.json@[A-Za-z0-9_.-]+\.json$/);
    expect(record).toMatchObject({ kind: 'sluice.deadLetter', source: { path: 'in/f.json', etag: entry.etag, landing: env.landing.url }, counts: { rowsRead: 51, rowsWritten: 50, rowsDeadLettered: 1 } });
    expect(record.records).toEqual([expect.objectContaining({ row: 26, raw: '{"id": "broken", "n": ', reason: expect.stringMatching(/malformed JSON/) })]);
    expect(record.records[0].byteOffset).toBeGreaterThan(0);
    // Nothing is left for anyone to commit.
    expect((await flushLane(env.table)).intents).toBe(0);
    await expectValidTable(env);
  });

  const POINTS = ['afterRead', 'afterDataFiles', 'afterLaneIntent', 'beforeCommit', 'afterCommit', 'beforeLedger'] as const;

  it.concurrent.each(POINTS)('a crash at %s, then a retry: every row once and the ledger adds up', async (point) => {
    const env = await seeded(`crash-${point.toLowerCase()}`);
    await env.landing.write('in/f.json', ndjson('f', 20, true));
    const crashed = await runIngestProcess(env, { path: 'in/f.json' }, { SLUICE_FAULT_KILL_AT: point });
    expect(crashed.signal, `the child must die at ${point}: ${crashed.stderr}`).toBe('SIGKILL');
    const before = await ledgerEntry(env, 'in/f.json');
    expect(before.status).toBe('started');

    const retry = await ingest(env, 'in/f.json');
    // Past the commit, the retry finds the commit and only completes the ledger.
    expect(retry.status).toBe(point === 'afterCommit' || point === 'beforeLedger' ? 'duplicate' : 'committed');
    await expectExactlyOnce(env, 'f', 20);
    await expectExactlyOnce(env, 'seed', 3);
    const entry = await ledgerEntry(env, 'in/f.json');
    expect(entry).toMatchObject({ status: 'committed', attempts: 2, rowsRead: 21, rowsWritten: 20, rowsDeadLettered: 1, startVersion: before.startVersion });
    expect(entry.version).toBeGreaterThan(before.startVersion);
    // A third delivery, and whatever the crashed attempt left in the lane, add nothing.
    expect((await ingest(env, 'in/f.json')).status).toBe('duplicate');
    expect((await flushLane(env.table)).intents).toBe(0);
    await expectExactlyOnce(env, 'f', 20);
    await expectValidTable(env);
  });

  it('backfill ingests a missed event, completes a crashed ingestion and moves its watermark', async () => {
    const env = await seeded('backfill');
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution: the seed is older
    await env.landing.write('in/a.json', ndjson('a', 5));
    await env.landing.write('in/b.json', ndjson('b', 7)); // its event is lost
    await env.landing.write('in/c.json', ndjson('c', 9, true));
    await env.landing.write('elsewhere/x.json', ndjson('x', 2)); // another folder: not this source
    expect((await ingest(env, 'in/a.json')).status).toBe('committed');
    const crashed = await runIngestProcess(env, { path: 'in/c.json' }, { SLUICE_FAULT_KILL_AT: 'afterCommit' });
    expect(crashed.signal).toBe('SIGKILL');

    // Backfill in its own process, as the timer function or `sluice backfill` would run it.
    const run = await runIngestProcess(env, { backfillPrefix: 'in/' });
    expect(run.code, run.stderr).toBe(0);
    const first = run.backfill as { listed: number; checked: number; done: number; outcomes: { path: string; status: string }[]; failures: unknown[]; watermark: { after: number } };
    expect(first.failures).toEqual([]);
    expect(first.listed).toBe(4); // seed, a, b, c
    expect(first.done).toBe(2); // seed and a
    expect(first.outcomes.map((o) => `${o.path}:${o.status}`).sort()).toEqual(['in/b.json:committed', 'in/c.json:duplicate']);
    for (const [prefix, n] of [['seed', 3], ['a', 5], ['b', 7], ['c', 9]] as const) await expectExactlyOnce(env, prefix, n);
    expect((await idCounts(env, 'x')).size).toBe(0);
    const c = await ledgerEntry(env, 'in/c.json');
    expect(c).toMatchObject({ status: 'committed', rowsRead: 10, rowsWritten: 9, rowsDeadLettered: 1 });
    expect(await env.ledger.getWatermark(env.tableKey, 'in/')).toMatchObject({ lastModified: first.watermark.after });

    // The next tick looks up only what changed since the watermark (margin 0 here), and finds a new file.
    const options = { landing: env.landing, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, reader: ndjsonReader, prefix: 'in/', marginMs: 0 };
    const idle = await backfill(options);
    expect(idle.outcomes).toEqual([]);
    expect(idle.checked).toBeLessThan(idle.listed);
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution
    await env.landing.write('in/d.json', ndjson('d', 4));
    const next = await backfill(options);
    expect(next.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/d.json:committed']);
    expect(next.checked).toBeLessThan(next.listed);
    await expectExactlyOnce(env, 'd', 4);
    await expectValidTable(env);
  });

  it('a changed file (new ETag) is ingested again; an event for its old version is superseded', async () => {
    const env = await seeded('changed');
    const v1 = await env.landing.write('in/f.json', ndjson('v1', 6));
    const first = await ingest(env, 'in/f.json', undefined, { etag: v1.etag });
    expect(first.status).toBe('committed');
    const v2 = await env.landing.write('in/f.json', ndjson('v2', 4));
    expect(v2.etag).not.toBe(v1.etag);
    // The old version's event arrives late (again): the blob has moved on.
    expect((await ingest(env, 'in/f.json', undefined, { etag: v1.etag })).status).toBe('superseded');
    const second = await ingest(env, 'in/f.json', undefined, { etag: v2.etag });
    expect(second.status).toBe('committed');
    expect(second.version).toBeGreaterThan(first.version!);
    expect((await ingest(env, 'in/f.json', undefined, { etag: v2.etag })).status).toBe('duplicate');
    await expectExactlyOnce(env, 'v1', 6);
    await expectExactlyOnce(env, 'v2', 4);
    const rows = await tableRows(env.table);
    const etags = (prefix: string) => new Set(rows.filter((r) => String(r.id).startsWith(prefix)).map((r) => r._source_etag as JsonValue));
    expect([...etags('v1-')]).toEqual([first.etag]);
    expect([...etags('v2-')]).toEqual([second.etag]);
    for (const row of rows) expect(row._source_file).toBe(String(row.id).startsWith('seed') ? 'in/seed.json' : 'in/f.json');
    const snapshot = await loadSnapshot(env.table);
    expect(snapshot.partitionColumns).toEqual(['_load_date']);
    // Lane intents are cleaned up after each commit.
    const left: string[] = [];
    for await (const info of env.table.list(LANE_INTENTS)) left.push(info.path);
    expect(left).toEqual([]);
  });
});
