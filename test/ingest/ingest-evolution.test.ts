/**
 * Schema evolution on Azurite, with NDJSON files read by the real reader: new columns join the table schema through the commit lane in the same
 * commit as their rows — also when files adding different columns are committed concurrently (separate
 * processes), and when two files add the same column with different types (the column gets the wider
 * type and the file with the narrower one is read again, so every data file has the table's types);
 * `rescue`, `failOnNewColumns` and `none` behave as specified. Every table passes the independent
 * Delta checks and reads back in DuckDB.
 */
import { describe, expect, it } from 'vitest';
import { Action, flushLane, loadSnapshot, readCommitIfExists } from '../../shared/delta';
import type { JsonValue } from '../../shared/delta/rows';
import { ingest, IngestEnv, ingestEnv, putNdjson, runIngestProcess, startIngestProcess, tableProblems, tableRows } from '../support/ingest';

async function seeded(label: string): Promise<IngestEnv> {
  const env = ingestEnv(label);
  await putNdjson(env.landing, 'in/seed.json', [
    { id: 'seed-0', n: 0 },
    { id: 'seed-1', n: 1 },
  ]);
  expect((await ingest(env, 'in/seed.json')).status).toBe('committed');
  return env;
}

async function columns(env: IngestEnv): Promise<string[]> {
  return (await loadSnapshot(env.table)).schema.fields.map((f) => `${f.name}:${typeof f.type === 'string' ? f.type : f.type.type}`);
}

async function byId(env: IngestEnv): Promise<Map<string, Record<string, JsonValue>>> {
  const rows = await tableRows(env.table);
  const out = new Map(rows.map((r) => [String(r.id), r]));
  expect(out.size, 'ids are unique').toBe(rows.length);
  return out;
}

async function checked(env: IngestEnv): Promise<void> {
  expect(await tableProblems(env.table)).toEqual([]);
}

/** The metaData schema field names of a commit, or null when it has none. */
function metadataColumns(actions: Action[] | null): string[] | null {
  const md = actions?.find((a) => 'metaData' in a) as { metaData: { schemaString: string } } | undefined;
  return md ? (JSON.parse(md.metaData.schemaString).fields as { name: string }[]).map((f) => f.name) : null;
}

/** Files a lane commit carries. */
function sourcesOf(actions: Action[] | null): string[] {
  const info = actions?.find((a) => 'commitInfo' in a) as { commitInfo: { sluiceLane?: { sources?: { file: string }[] } } } | undefined;
  return (info?.commitInfo.sluiceLane?.sources ?? []).map((s) => s.file).sort();
}

const rows = (prefix: string, n: number, extra: (i: number) => object) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, n: i, ...extra(i) }));

describe('ingest schema evolution', () => {
  it('addNewColumns: files adding different columns in concurrent processes both land with the union schema', async () => {
    const env = await seeded('evo-concurrent');
    await putNdjson(
      env.landing,
      'in/x.json',
      rows('x', 30, (i) => ({ x: i * 10 })),
    );
    await putNdjson(
      env.landing,
      'in/y.json',
      rows('y', 20, (i) => ({ y: `y${i}`, flag: i % 2 === 0 })),
    );
    await putNdjson(
      env.landing,
      'in/z.json',
      rows('z', 10, (i) => ({ z: i + 0.5 })),
    );
    const children = ['x', 'y', 'z'].map((f) => startIngestProcess(env, { path: `in/${f}.json` }, { waitGo: true }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    for (const o of await Promise.all(children.map((c) => c.exited))) {
      expect(o.code, o.stderr).toBe(0);
      expect(o.outcome!.status).toBe('committed');
    }
    const cols = await columns(env);
    expect(cols.slice(0, 7)).toEqual([
      'id:string',
      'n:integer',
      '_rescued_data:string',
      '_ingested_at:timestamp',
      '_source_file:string',
      '_source_etag:string',
      '_load_date:date',
    ]);
    expect(cols.slice(7).sort()).toEqual(['flag:boolean', 'x:integer', 'y:string', 'z:double']);
    const all = await byId(env);
    expect(all.size).toBe(2 + 30 + 20 + 10);
    for (let i = 0; i < 30; i++) expect(all.get(`x-${i}`)).toMatchObject({ n: i, x: i * 10, y: null, z: null, flag: null, _rescued_data: null });
    for (let i = 0; i < 20; i++) expect(all.get(`y-${i}`)).toMatchObject({ y: `y${i}`, flag: i % 2 === 0, x: null, z: null });
    for (let i = 0; i < 10; i++) expect(all.get(`z-${i}`)).toMatchObject({ z: i + 0.5, x: null, y: null });
    expect(all.get('seed-0')).toMatchObject({ x: null, y: null, z: null, flag: null });
    await checked(env);
  });

  it('addNewColumns: pending intents adding different columns are committed together with one metaData action', async () => {
    const env = await seeded('evo-batch');
    await putNdjson(
      env.landing,
      'in/a.json',
      rows('a', 5, (i) => ({ a_col: `a${i}` })),
    );
    await putNdjson(
      env.landing,
      'in/b.json',
      rows('b', 4, (i) => ({ b_col: i })),
    );
    // The writer of a.json dies with its intent stored in the lane; b.json's writer commits both.
    const crashed = await runIngestProcess(env, { path: 'in/a.json' }, { SLUICE_FAULT_KILL_AT: 'afterLaneIntent' });
    expect(crashed.signal).toBe('SIGKILL');
    const b = await ingest(env, 'in/b.json');
    expect(b).toMatchObject({ status: 'committed', newColumns: ['b_col'] });
    const commit = await readCommitIfExists(env.table, b.version!);
    expect(metadataColumns(commit)).toEqual(expect.arrayContaining(['a_col', 'b_col']));
    const info = (commit!.find((x) => 'commitInfo' in x) as { commitInfo: { isBlindAppend: boolean; sluiceLane: { sources: { file: string }[] } } }).commitInfo;
    expect(info.isBlindAppend).toBe(false);
    expect(info.sluiceLane.sources.map((s) => s.file).sort()).toEqual(['in/a.json', 'in/b.json']);
    // a.json's retry finds its rows in that commit.
    expect(await ingest(env, 'in/a.json')).toMatchObject({ status: 'duplicate', version: b.version, rowsWritten: 5 });
    const all = await byId(env);
    expect(all.size).toBe(2 + 5 + 4);
    expect(all.get('a-3')).toMatchObject({ a_col: 'a3', b_col: null });
    expect(all.get('b-3')).toMatchObject({ b_col: 3, a_col: null });
    await checked(env);
  });

  it('addNewColumns: the same new column with two types gets the wider one; the narrower file is read again', async () => {
    const env = await seeded('evo-widen');
    await putNdjson(
      env.landing,
      'in/int.json',
      rows('int', 6, (i) => ({ w: i })),
    );
    await putNdjson(
      env.landing,
      'in/dbl.json',
      rows('dbl', 3, (i) => ({ w: i + 0.25 })),
    );
    await putNdjson(
      env.landing,
      'in/str.json',
      rows('str', 2, (i) => ({ v: i })),
    );
    await putNdjson(
      env.landing,
      'in/str2.json',
      rows('str2', 2, (i) => ({ v: `text${i}` })),
    );

    // 1. The narrower file's writer is dead, its intent (w long) pending; the wider file (w double) commits
    //    alone with w double, and the narrower file's retry reads it again against w double.
    expect((await runIngestProcess(env, { path: 'in/int.json' }, { SLUICE_FAULT_KILL_AT: 'afterLaneIntent' })).signal).toBe('SIGKILL');
    const dbl = await ingest(env, 'in/dbl.json');
    expect(dbl.status).toBe('committed');
    expect(await columns(env)).toContain('w:double');
    expect(sourcesOf(await readCommitIfExists(env.table, dbl.version!))).toEqual(['in/dbl.json']);
    expect((await flushLane(env.table)).intents).toBe(0); // the long-typed intent can never be committed
    const int = await ingest(env, 'in/int.json');
    expect(int).toMatchObject({ status: 'committed', rowsWritten: 6 });
    expect(int.version).toBeGreaterThan(dbl.version!);

    // 2. The wider file's intent is pending (its writer dead) and the narrower file's writer is alive:
    //    the live writer commits the other intent with the wider type, gets SchemaChangedError and
    //    writes its file again as string.
    expect((await runIngestProcess(env, { path: 'in/str2.json' }, { SLUICE_FAULT_KILL_AT: 'afterLaneIntent' })).signal).toBe('SIGKILL');
    const str = await ingest(env, 'in/str.json');
    expect(str).toMatchObject({ status: 'committed', rowsWritten: 2 });
    expect(await columns(env)).toContain('v:string');
    const str2 = await ingest(env, 'in/str2.json');
    expect(str2).toMatchObject({ status: 'duplicate', rowsWritten: 2 });
    // str2's pending intent went in first, alone, with v as string; str.json was written again after it.
    const widened = await readCommitIfExists(env.table, str2.version!);
    expect(metadataColumns(widened)).toContain('v');
    expect(sourcesOf(widened)).toEqual(['in/str2.json']);
    expect(str.version).toBeGreaterThan(str2.version!);

    const all = await byId(env);
    expect(all.size).toBe(2 + 6 + 3 + 2 + 2);
    for (let i = 0; i < 6; i++) expect(all.get(`int-${i}`)).toMatchObject({ w: i, _rescued_data: null });
    for (let i = 0; i < 3; i++) expect(all.get(`dbl-${i}`)).toMatchObject({ w: i + 0.25 });
    expect(all.get('str-1')).toMatchObject({ v: '1', _rescued_data: null });
    expect(all.get('str2-1')).toMatchObject({ v: 'text1' });
    await checked(env);
  });

  it('rescue: the schema stays; new columns and misfits go to _rescued_data', async () => {
    const env = ingestEnv('evo-rescue');
    const source = { schemaEvolution: 'rescue' as const };
    await putNdjson(env.landing, 'in/first.json', [{ id: 'r-0', n: 0 }]);
    expect((await ingest(env, 'in/first.json', source)).status).toBe('committed'); // the first file creates the table
    const before = await columns(env);
    await putNdjson(env.landing, 'in/more.json', [
      { id: 'r-1', n: 1, extra: 'e1', nested: { k: [1, 2] } },
      { id: 'r-2', n: 'not a number' },
      { id: 'r-3', n: 3 },
    ]);
    const outcome = await ingest(env, 'in/more.json', source);
    expect(outcome).toMatchObject({ status: 'committed', rowsRead: 3, rowsWritten: 3, rowsRescued: 2, rowsDeadLettered: 0 });
    expect(outcome.newColumns).toBeUndefined();
    expect(await columns(env)).toEqual(before);
    const all = await byId(env);
    expect(JSON.parse(String(all.get('r-1')!._rescued_data))).toEqual({ extra: 'e1', nested: '{"k":[1,2]}' });
    expect(all.get('r-2')).toMatchObject({ n: null });
    expect(JSON.parse(String(all.get('r-2')!._rescued_data))).toEqual({ n: 'not a number' });
    expect(all.get('r-3')).toMatchObject({ n: 3, _rescued_data: null });
    const info = await env.landing.properties('in/more.json');
    expect(await env.ledger.get(env.tableKey, 'in/more.json', info.etag.replace(/"/g, ''))).toMatchObject({ status: 'committed', rowsRescued: 2 });
    await checked(env);
  });

  it('failOnNewColumns: a file with new columns is dead-lettered whole, with the columns named', async () => {
    const env = await seeded('evo-fail');
    const source = { schemaEvolution: 'failOnNewColumns' as const };
    const version = (await loadSnapshot(env.table)).version;
    await putNdjson(
      env.landing,
      'in/new.json',
      rows('new', 4, () => ({ surprise: 1, other: 'x' })),
    );
    const outcome = await ingest(env, 'in/new.json', source);
    expect(outcome).toMatchObject({ status: 'deadlettered', rowsRead: 4, rowsWritten: 0, rowsDeadLettered: 4 });
    expect(outcome.reason).toMatch(/new columns surprise, other not in the table schema \(schemaEvolution failOnNewColumns\)/);
    expect((await loadSnapshot(env.table)).version).toBe(version);
    const record = JSON.parse(new TextDecoder().decode(await env.deadLetter.store.read(outcome.deadLetter!)));
    expect(record).toMatchObject({
      reason: outcome.reason,
      source: { path: 'in/new.json', landing: env.landing.url },
      counts: { rowsRead: 4, rowsWritten: 0, rowsDeadLettered: 4 },
    });
    // Dead-lettered is final: a duplicate event does not retry it.
    expect((await ingest(env, 'in/new.json', source)).status).toBe('duplicate');
    // A file that fits still goes in.
    await putNdjson(
      env.landing,
      'in/fits.json',
      rows('fits', 2, () => ({})),
    );
    expect((await ingest(env, 'in/fits.json', source)).status).toBe('committed');
    expect((await byId(env)).size).toBe(4);
  });

  it('none: new columns are ignored, the rows are written', async () => {
    const env = await seeded('evo-none');
    const before = await columns(env);
    await putNdjson(
      env.landing,
      'in/new.json',
      rows('new', 3, (i) => ({ ignored: i })),
    );
    expect(await ingest(env, 'in/new.json', { schemaEvolution: 'none' })).toMatchObject({ status: 'committed', rowsWritten: 3, rowsRescued: 0 });
    expect(await columns(env)).toEqual(before);
    const all = await byId(env);
    expect(all.get('new-2')).toMatchObject({ n: 2, _rescued_data: null });
    expect(all.get('new-2')).not.toHaveProperty('ignored');
    await checked(env);
  });
});
