/**
 * Exactly once per (blob, ETag), on Azurite with real processes and real CSV files read by the real
 * readers: a SIGKILL at every fault point of the stage, duplicate events (concurrent, in separate
 * processes and in this one, and late), and a missed event reconciled by backfill — all on one table.
 * Every input row (by its unique id) must be in bronze exactly once, read back both by Sluice and by
 * DuckDB; every file's ledger entry must add up (read = written + dead-lettered, with the file's own
 * record counts); the table passes the independent Delta checks. Then the backfill watermark and a
 * changed file (new ETag).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { flushLane, loadSnapshot } from '../../shared/delta';
import { LANE_INTENTS } from '../../shared/delta/lane';
import { backfill } from '../../shared/ingest';
import type { JsonValue } from '../../shared/delta/rows';
import { duckdbColumn, ingest, IngestEnv, ingestEnv, ledgerEntry, runIngestProcess, startIngestProcess, tableProblems, tableRows } from '../support/ingest';

/** One landing file of the test: its rows have ids `<prefix>-<i>`; `bad` records have too few fields. */
interface CsvFile {
  path: string;
  prefix: string;
  rows: number;
  bad: number;
}

/**
 * CSV text of a file: ids, integers, decimals, codes with leading zeros, M/D/YYYY dates and quoted text
 * with commas and doubled quotes; the bad records (two fields instead of six) are spread through it.
 */
function csvText(file: CsvFile): string {
  const lines = ['id,qty,price,code,booked,note'];
  for (let i = 0; i < file.rows; i++) {
    lines.push(
      `${file.prefix}-${i},${i},${(i * 1.25).toFixed(2)},${String(i * 7).padStart(5, '0')},${(i % 12) + 1}/${(i % 28) + 1}/2024,"row ${i}, ""${file.prefix}"""`,
    );
  }
  for (let k = 0; k < file.bad; k++) lines.splice(2 + Math.floor(((k + 1) * file.rows) / (file.bad + 1)) + k, 0, `${file.prefix}-bad${k},1`);
  return lines.join('\r\n') + '\r\n';
}

async function put(env: IngestEnv, file: CsvFile): Promise<void> {
  const text = Buffer.from(csvText(file));
  await env.landing.write(file.path, file.path.endsWith('.gz') ? gzipSync(text) : text);
}

/** Every id of `files` exactly once and nothing else, in the ids given (read by Sluice or DuckDB). */
function expectEachOnce(ids: (string | null)[], files: CsvFile[], reader: string): void {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(String(id), (counts.get(String(id)) ?? 0) + 1);
  const expected = new Set(files.flatMap((f) => Array.from({ length: f.rows }, (_, i) => `${f.prefix}-${i}`)));
  const wrong = [...counts].filter(([id, n]) => n !== 1 || !expected.has(id)).slice(0, 10);
  expect(wrong, `${reader}: ids not exactly once or unexpected`).toEqual([]);
  expect(counts.size, `${reader}: distinct ids`).toBe(expected.size);
}

/** The ledger entry of every file is committed and its counts are the file's. */
async function expectLedgerAddsUp(env: IngestEnv, files: CsvFile[]): Promise<void> {
  for (const file of files) {
    const entry = await ledgerEntry(env, file.path);
    expect(entry, `ledger entry of ${file.path}`).not.toBeNull();
    expect(entry!, file.path).toMatchObject({
      status: 'committed',
      rowsRead: file.rows + file.bad,
      rowsWritten: file.rows,
      rowsDeadLettered: file.bad,
      rowsRescued: 0,
    });
    expect(entry!.rowsRead, file.path).toBe(entry!.rowsWritten + entry!.rowsDeadLettered);
    expect(entry!.reason, `${file.path}: no accounting problem`).toBeUndefined();
    if (file.bad) {
      const record = JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(entry!.deadLetter!)));
      expect(record.counts, file.path).toEqual({ rowsRead: file.rows + file.bad, rowsWritten: file.rows, rowsDeadLettered: file.bad });
      expect(
        record.records.map((r: { raw: string }) => r.raw),
        file.path,
      ).toEqual(Array.from({ length: file.bad }, (_, k) => `${file.prefix}-bad${k},1`));
    }
  }
}

const POINTS = ['afterRead', 'afterDataFiles', 'afterLaneIntent', 'beforeCommit', 'afterCommit', 'beforeLedger'] as const;

describe('ingest exactly once', () => {
  it('crash points × duplicate events × a missed event reconciled by backfill: each row once, the ledger adds up', async () => {
    const env = ingestEnv('matrix');
    // Enough rows for a day above 12, so the sample proves the dates are M/D/YYYY.
    const seed: CsvFile = { path: 'in/seed.csv', prefix: 'seed', rows: 14, bad: 0 };
    // Every other crashed file is gzip-compressed; each has dead-lettered records.
    const crashed: CsvFile[] = POINTS.map((point, i) => ({ path: `in/${point}.csv${i % 2 ? '.gz' : ''}`, prefix: point, rows: 40 + i, bad: 1 + (i % 2) }));
    const twice: CsvFile = { path: 'in/twice.csv', prefix: 'twice', rows: 25, bad: 1 };
    const missed: CsvFile = { path: 'in/missed.csv', prefix: 'missed', rows: 30, bad: 2 };
    const all = [seed, ...crashed, twice, missed];
    for (const file of all) await put(env, file);
    expect((await ingest(env, seed.path)).status).toBe('committed'); // creates the table

    // 1. The first delivery of each crash file dies at its point. One process after the other, so
    //    each reaches its own point (a live process could otherwise commit another's pending intent).
    for (const [i, point] of POINTS.entries()) {
      const run = await runIngestProcess(env, { path: crashed[i].path }, { SLUICE_FAULT_KILL_AT: point });
      expect(run.signal, `the child must die at ${point}: ${run.stderr}`).toBe('SIGKILL');
      expect((await ledgerEntry(env, crashed[i].path))?.status).toBe('started');
    }

    // 2. Duplicate events, all at once: two processes and this one get twice.csv's event; this process
    //    gets two copies of each crash file's redelivery — except afterDataFiles and afterCommit,
    //    whose redeliveries are lost (backfill finishes them), as is missed.csv's only event.
    const children = [0, 1].map(() => startIngestProcess(env, { path: twice.path }, { waitGo: true }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const redelivered = crashed.filter((f) => f.prefix !== 'afterDataFiles' && f.prefix !== 'afterCommit');
    const outcomes = await Promise.all([ingest(env, twice.path), ...redelivered.flatMap((f) => [ingest(env, f.path), ingest(env, f.path)])]);
    for (const o of await Promise.all(children.map((c) => c.exited))) {
      expect(o.code, o.stderr).toBe(0);
      outcomes.push(o.outcome!);
    }
    for (const o of outcomes) expect(['committed', 'duplicate'], `${o.path}: ${o.reason}`).toContain(o.status);

    // 3. The reconcile pass, in its own process as the timer function runs it.
    const run = await runIngestProcess(env, { backfillPrefix: 'in/' });
    expect(run.code, run.stderr).toBe(0);
    const result = run.backfill as { listed: number; done: number; outcomes: { path: string; status: string }[]; failures: unknown[] };
    expect(result.failures).toEqual([]);
    expect(result.listed).toBe(all.length);
    expect(result.outcomes.map((o) => `${o.path}:${o.status}`).sort()).toEqual([
      'in/afterCommit.csv:duplicate', // committed before the crash: backfill only completes the ledger
      'in/afterDataFiles.csv.gz:committed',
      'in/missed.csv:committed',
    ]);
    expect(result.done).toBe(all.length - 3);

    // 4. Late duplicates of every event change nothing.
    for (const file of all) expect((await ingest(env, file.path)).status, file.path).toBe('duplicate');
    expect((await flushLane(env.table)).intents).toBe(0);

    const rows = await tableRows(env.table);
    expectEachOnce(
      rows.map((r) => String(r.id)),
      all,
      "Sluice's reader",
    );
    expectEachOnce(await duckdbColumn(env.table, 'id'), all, 'DuckDB');
    await expectLedgerAddsUp(env, all);
    // Values as written: codes keep their zeros, M/D/YYYY dates are dates, quoted text is intact.
    const snapshot = await loadSnapshot(env.table);
    expect(snapshot.schema.fields.slice(0, 6).map((f) => `${f.name}:${f.type}`)).toEqual([
      'id:string',
      'qty:integer',
      'price:double',
      'code:string',
      'booked:date',
      'note:string',
    ]);
    const row = rows.find((r) => r.id === 'beforeCommit-13')!;
    expect(row).toMatchObject({
      qty: 13,
      price: 16.25,
      code: '00091',
      booked: '2024-02-14',
      note: 'row 13, "beforeCommit"',
      _rescued_data: null,
      _source_file: 'in/beforeCommit.csv.gz',
    });
    expect(await tableProblems(env.table)).toEqual([]);
    // Many child processes: generous on a loaded 2-core machine (it takes ~15 s unloaded).
  }, 300_000);

  it('backfill looks up only what changed since its watermark', async () => {
    const env = ingestEnv('watermark');
    const old: CsvFile = { path: 'in/old.csv', prefix: 'old', rows: 3, bad: 0 };
    const a: CsvFile = { path: 'in/a.csv', prefix: 'a', rows: 5, bad: 0 };
    const b: CsvFile = { path: 'in/b.csv', prefix: 'b', rows: 4, bad: 0 };
    await put(env, old);
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution
    await put(env, a);
    await put(env, { path: 'elsewhere/x.csv', prefix: 'x', rows: 2, bad: 0 }); // another folder: not this source
    const options = { landing: env.landing, table: env.table, ledger: env.ledger, deadLetter: env.deadLetter, prefix: 'in/', marginMs: 0 };
    const first = await backfill({ ...options, concurrency: 1 });
    expect(first).toMatchObject({ listed: 2, checked: 2, failures: [] });
    expect(first.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/a.csv:committed', 'in/old.csv:committed']);
    expect(await env.ledger.getWatermark(env.tableKey, 'in/')).toMatchObject({ lastModified: first.watermark.after });

    const idle = await backfill(options);
    expect(idle.outcomes).toEqual([]);
    await new Promise((r) => setTimeout(r, 1100)); // Last-Modified has one-second resolution
    await put(env, b);
    const next = await backfill(options);
    expect(next.outcomes.map((o) => `${o.path}:${o.status}`)).toEqual(['in/b.csv:committed']);
    expect(next.checked).toBeLessThan(next.listed);
    expectEachOnce(
      (await tableRows(env.table)).map((r) => String(r.id)),
      [old, a, b],
      "Sluice's reader",
    );
    await expectLedgerAddsUp(env, [old, a, b]);
  });

  it('a changed file (new ETag) is ingested again; an event for its old version is superseded', async () => {
    const env = ingestEnv('changed');
    const v1 = await env.landing.write('in/f.csv', csvText({ path: 'in/f.csv', prefix: 'v1', rows: 6, bad: 0 }));
    const first = await ingest(env, 'in/f.csv', undefined, { etag: v1.etag });
    expect(first.status).toBe('committed');
    const v2 = await env.landing.write('in/f.csv', csvText({ path: 'in/f.csv', prefix: 'v2', rows: 4, bad: 0 }));
    expect(v2.etag).not.toBe(v1.etag);
    // The old version's event arrives late (again): the blob has moved on.
    expect((await ingest(env, 'in/f.csv', undefined, { etag: v1.etag })).status).toBe('superseded');
    const second = await ingest(env, 'in/f.csv', undefined, { etag: v2.etag });
    expect(second.status).toBe('committed');
    expect(second.version).toBeGreaterThan(first.version!);
    expect((await ingest(env, 'in/f.csv', undefined, { etag: v2.etag })).status).toBe('duplicate');
    const rows = await tableRows(env.table);
    expectEachOnce(
      rows.map((r) => String(r.id)),
      [
        { path: '', prefix: 'v1', rows: 6, bad: 0 },
        { path: '', prefix: 'v2', rows: 4, bad: 0 },
      ],
      "Sluice's reader",
    );
    const etags = (prefix: string) => new Set(rows.filter((r) => String(r.id).startsWith(prefix)).map((r) => r._source_etag as JsonValue));
    expect([...etags('v1-')]).toEqual([first.etag]);
    expect([...etags('v2-')]).toEqual([second.etag]);
    expect((await loadSnapshot(env.table)).partitionColumns).toEqual(['_load_date']);
    // Lane intents are cleaned up after each commit.
    const left: string[] = [];
    for await (const info of env.table.list(LANE_INTENTS)) left.push(info.path);
    expect(left).toEqual([]);
  });
});
