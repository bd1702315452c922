/**
 * Reading around Archive, on Azurite (which refuses to read an archived blob with 409 BlobArchived, as
 * Azure does, but completes Archive → Hot at once; test/support/pending-rehydration.ts holds files
 * pending for a few checks, the way Azure does for hours):
 *
 * - a time travel to a version whose files were archived is refused before any row, naming the files,
 *   their bytes and `sluice rehydrate <table> --version N`, found with one listing; the latest version
 *   (other files) still reads;
 * - `sluice rehydrate` asks for the rehydration; while pending, the refusal says so (pending, priority,
 *   since) and the files are held from tiering; `--wait --priority high` raises the pending requests
 *   and returns once every file is online; the read then works and starts the hold period;
 * - the HTTP route answers 202 with a Location whose status shows progress to completion.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { runRehydrateCommand } from '../../cli/rehydrate';
import { FUNCTIONS, type HttpFunctionDefinition } from '../../functions/definitions';
import { buildVector, loadSnapshot, writeTable } from '../../shared/delta';
import { EngineRunClient } from '../../shared/run';
import { openStore } from '../../shared/storage';
import type { ObjectInfo, ObjectStore } from '../../shared/storage/types';
import { ArchivedFilesError, findArchivedFiles, neededFiles, requireOnline } from '../../shared/tiering/archived-files';
import { heldForTiering, holdState, listHolds, type RehydrationHold } from '../../shared/tiering/rehydrate';
import { REHYDRATE_ORCHESTRATOR, rehydrateActivities, rehydrateOrchestrator, type RehydrateStatus } from '../../shared/tiering/rehydrate-orchestrator';
import type { OrchestrationEngine } from '../../shared/orchestration';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { PendingRehydrationStore } from '../support/pending-rehydration';
import { connectionString, runEngine } from '../support/run-lake';

const DAY = 86_400_000;

/** Output sinks that keep what was written. */
function captured() {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

/** Counts the calls a reader makes. */
function counting(inner: ObjectStore) {
  const calls = { list: 0, properties: 0 };
  const store: ObjectStore = Object.create(inner) as ObjectStore;
  Object.assign(store, {
    list: (prefix: string) => {
      calls.list++;
      return inner.list(prefix);
    },
    properties: (path: string) => {
      calls.properties++;
      return inner.properties(path);
    },
  });
  return { store, calls };
}

/**
 * A partitioned table with three versions: v0 adds p=a, v1 adds p=b, v2 overwrites both with p=c.
 * Version 1 needs the p=a and p=b files, which only time travel reads after v2.
 */
async function threeVersions(store: ObjectStore): Promise<{ v1Files: string[] }> {
  const rows = (p: string, n: number[]) =>
    new arrow.Table({
      p: buildVector(
        'string',
        n.map(() => p),
      ),
      n: buildVector('integer', n),
    }).batches;
  await writeTable(store, rows('a', [1, 2]), { partitionColumns: ['p'] });
  await writeTable(store, rows('b', [3]));
  await writeTable(store, rows('c', [4, 5, 6]), { mode: 'overwrite' });
  const v1 = await loadSnapshot(store, { version: 1 });
  return { v1Files: neededFiles(v1).map((f) => f.path) };
}

async function archive(store: ObjectStore, paths: string[]): Promise<void> {
  for (const path of paths) await store.setAccessTier(path, 'Archive');
}

describe('reading around Archive (sluice read, sluice rehydrate)', () => {
  const container = uniqueContainer('rehydrate-cli');
  const uri = azuriteUri(container, 'bronze/sales');
  const real = openStore(uri);
  // Seven listings: the request's count, the refused read, the second command's plan, its raising
  // round (two listings) and two more checks.
  const wrapped = new PendingRehydrationStore(real, 7);
  let v1Files: string[];
  let v1Bytes: number;

  beforeAll(async () => {
    ({ v1Files } = await threeVersions(real));
    v1Bytes = neededFiles(await loadSnapshot(real, { version: 1 })).reduce((n, f) => n + f.size, 0);
    await archive(real, v1Files);
  });

  it('the storage listing reports archived files with their tier-change time', async () => {
    const listed: ObjectInfo[] = [];
    for await (const info of real.list('p=a/')) listed.push(info);
    expect(listed).toHaveLength(1);
    expect(listed[0].accessTier).toBe('Archive');
    expect(listed[0].accessTierChangedOn).toBeInstanceOf(Date);
    expect(listed[0].archiveStatus).toBeUndefined();
  });

  it('finds the archived files of a version with one listing and no property call per file', async () => {
    const { store, calls } = counting(real);
    const snapshot = await loadSnapshot(store, { version: 1 });
    calls.list = 0;
    const found = await findArchivedFiles(snapshot);
    expect(calls).toEqual({ list: 1, properties: 0 });
    expect(found.files.map((f) => f.path)).toEqual(v1Files);
    expect(found.bytes).toBe(v1Bytes);
    expect(found.pending).toBe(0);
    // The latest version reads other files: nothing of it is archived.
    expect((await findArchivedFiles(await loadSnapshot(real))).files).toEqual([]);
  });

  it('refuses time travel to the archived version before any row, with the files, bytes and rehydrate command', async () => {
    const latest = captured();
    expect(await main(['read', uri], latest)).toBe(0);
    expect(latest.stdout.trim().split('\n')).toHaveLength(3);

    const io = captured();
    expect(await main(['read', uri, '--version', '1'], io)).toBe(1);
    expect(io.stdout).toBe('');
    expect(io.stderr).toContain(`needs 2 files (${v1Bytes} B) that are offline in the Archive tier; nothing was read`);
    for (const path of v1Files) expect(io.stderr).toContain(path);
    expect(io.stderr).toContain(`sluice rehydrate ${uri} --version 1`);

    // The error is typed, with what a caller needs to act on it.
    const err = await requireOnline(await loadSnapshot(real, { version: 1 }), uri).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchivedFilesError);
    expect((err as ArchivedFilesError).command).toBe(`sluice rehydrate ${uri} --version 1`);
    expect((err as ArchivedFilesError).files.map((f) => f.path)).toEqual(v1Files);
    expect((err as ArchivedFilesError).transient).toBe(false);
  });

  it('answers a wrong command line with status 2 and the reason', async () => {
    for (const [args, reason] of [
      [['--priority', 'urgent'], "--priority must be standard or high, not 'urgent'"],
      [['--version', 'one'], "--version must be a whole number ≥ 0, not 'one'"],
      [['--timestamp', '2026-01-01'], 'Unknown option'],
    ] as const) {
      const io = captured();
      expect(await main(['rehydrate', uri, ...args], io)).toBe(2);
      expect(io.stderr).toContain(reason);
    }
    const missing = captured();
    expect(await main(['rehydrate', uri, '--version', '9'], missing)).toBe(1);
    expect(missing.stderr).toContain('version 9');
  });

  it('reports a tier request storage refuses, with exit status 1, and asks again next time', async () => {
    const other = new PendingRehydrationStore(real, 1);
    other.refuse.set(v1Files[0], '409 LeaseIdMissing: there is currently a lease on the blob');
    const io = captured();
    expect(await runRehydrateCommand([uri, '--version', '1', '--json'], io, { open: () => other })).toBe(1);
    expect(JSON.parse(io.stdout)).toMatchObject({ requested: 1, refused: [{ path: v1Files[0], reason: expect.stringContaining('LeaseIdMissing') }] });
    expect(io.stderr).toContain(`storage refused 1 rehydration request(s), e.g. ${v1Files[0]}: 409 LeaseIdMissing`);
    // Put the one it did rehydrate back, so the tests below start from both files archived.
    await archive(real, [v1Files[1]]);
    expect(other.log.requests.map((r) => r.path)).toEqual([v1Files[1]]);
  });

  it('asks for the rehydration; while it is pending the refusal says so and tiering leaves the files alone', async () => {
    const io = captured();
    const code = await runRehydrateCommand([uri, '--version', '1', '--json'], io, { open: () => wrapped });
    expect(code, io.stderr).toBe(0);
    const asked = JSON.parse(io.stdout);
    expect(asked).toMatchObject({ version: 1, priority: 'standard', files: 2, bytes: v1Bytes, online: 0, pending: 2, requested: 2, completed: false });
    expect(wrapped.log.requests).toEqual(v1Files.map((path) => ({ path, tier: 'Hot', priority: 'Standard' })));

    const err = (await requireOnline(await loadSnapshot(wrapped, { version: 1 }), uri).catch((e: unknown) => e)) as ArchivedFilesError;
    expect(err).toBeInstanceOf(ArchivedFilesError);
    expect(err.files.every((f) => f.pending?.to === 'Hot' && f.pending.priority === 'Standard' && f.pending.since)).toBe(true);
    expect(err.message).toMatch(/2 of them are being rehydrated \(2 pending to Hot, priority Standard, since \d{4}-\d\d-\d\dT/);
    expect(err.message).toContain(`--version 1 --wait`);

    const held = await heldForTiering(wrapped, new Date());
    expect([...held.keys()].sort()).toEqual(v1Files);
    expect([...held.values()].every((h) => h.state === 'rehydrating' && h.version === 1)).toBe(true);
  });

  it('--wait --priority high raises the pending requests and returns once every file is online; the read then works', async () => {
    const io = captured();
    const sleeps: number[] = [];
    const code = await runRehydrateCommand([uri, '--version', '1', '--priority', 'high', '--wait'], io, {
      open: () => wrapped,
      env: { SLUICE_REHYDRATION_POLL_SECONDS: '7' },
      sleep: async (ms) => void sleeps.push(ms),
    });
    expect(code, io.stderr).toBe(0);
    expect(wrapped.log.raised.sort()).toEqual(v1Files);
    expect(wrapped.log.completed.sort()).toEqual(v1Files);
    expect(wrapped.pendingPaths()).toEqual([]);
    // It waited between checks, as long as the setting says, until the files came back.
    expect(sleeps).toHaveLength(2);
    expect(sleeps.every((ms) => ms === 7000)).toBe(true);
    expect(io.stdout).toMatch(/0 of 2 files online .*, 2 pending/);
    expect(io.stdout).toContain('all 2 file(s) online: version 1 can be read');
    expect(io.stdout).toMatch(/held from tiering until \d{4}-\d\d-\d\dT.*, or 7 day\(s\) after the last read/);

    const read = captured();
    expect(await main(['read', uri, '--version', '1'], read)).toBe(0);
    const rows = read.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { p: string; n: number });
    expect(rows.sort((a, b) => a.n - b.n)).toEqual([
      { p: 'a', n: 1 },
      { p: 'a', n: 2 },
      { p: 'b', n: 3 },
    ]);

    // The read started the hold period of the completed requests; it ends SLUICE_REHYDRATION_HOLD_DAYS later.
    const holds = await listHolds(real);
    expect(holds.map((h) => h.id).sort()).toEqual(['v1-high', 'v1-standard']);
    for (const hold of holds) expect(hold).toMatchObject({ completedAt: expect.any(String), readAt: expect.any(String) });
    const held = await heldForTiering(real, new Date(), 7);
    expect([...held.keys()].sort()).toEqual(v1Files);
    expect([...held.values()].every((h) => h.state === 'read')).toBe(true);
    expect((await heldForTiering(real, new Date(Date.now() + 8 * DAY), 7)).size).toBe(0);
  });

  it('the exact command line: refused, sluice rehydrate --wait, then read (Azurite rehydrates at once)', async () => {
    await archive(real, v1Files);
    const refused = captured();
    expect(await main(['read', uri, '--timestamp', new Date(Date.now() + 60_000).toISOString()], refused)).toBe(0);
    expect(await main(['read', uri, '--version', '1'], refused)).toBe(1);
    const command = /Rehydrate them with: (.*)$/m.exec(refused.stderr)![1];
    expect(command).toBe(`sluice rehydrate ${uri} --version 1`);
    const io = captured();
    expect(await main([...command.split(' ').slice(1), '--wait'], io)).toBe(0);
    expect(io.stdout).toContain('all 2 file(s) online');
    const read = captured();
    expect(await main(['read', uri, '--version', '1'], read)).toBe(0);
    expect(read.stdout.trim().split('\n')).toHaveLength(3);
  });
});

describe('holds', () => {
  const base: RehydrationHold = {
    id: 'v3-standard',
    version: 3,
    priority: 'standard',
    files: [{ path: 'p=a/x.parquet', size: 10 }],
    bytes: 10,
    by: 'test',
    requestedAt: '2026-01-01T00:00:00.000Z',
  };
  const at = (iso: string) => new Date(iso);

  it('hold a file while it rehydrates, and until it has been read, for the hold period', () => {
    expect(holdState(base, at('2026-01-02T00:00:00Z'), 7)?.state).toBe('rehydrating');
    const done = { ...base, completedAt: '2026-01-01T10:00:00.000Z' };
    expect(holdState(done, at('2026-01-05T00:00:00Z'), 7)).toMatchObject({ state: 'awaiting-read', until: '2026-01-08T10:00:00.000Z' });
    const read = { ...done, readAt: '2026-01-07T00:00:00.000Z' };
    expect(holdState(read, at('2026-01-13T00:00:00Z'), 7)).toMatchObject({ state: 'read', until: '2026-01-14T00:00:00.000Z' });
    expect(holdState(read, at('2026-01-14T00:00:00Z'), 7)).toBeUndefined();
  });

  it('release a rehydration nobody completed or read once its deadline and the hold period have passed', () => {
    // 48 h deadline + 7 days.
    expect(holdState(base, at('2026-01-09T23:59:59Z'), 7)?.state).toBe('rehydrating');
    expect(holdState(base, at('2026-01-10T00:00:00Z'), 7)).toBeUndefined();
    expect(holdState({ ...base, completedAt: '2026-01-01T10:00:00.000Z' }, at('2026-01-08T10:00:00Z'), 7)).toBeUndefined();
  });
});

describe('rehydration over HTTP (POST /api/tables/{layer}/{table}/rehydrate)', () => {
  const container = uniqueContainer('rehydrate-http');
  const real = openStore(azuriteUri(container, 'bronze/orders'));
  const wrapped = new PendingRehydrationStore(real, 3);
  let engine: OrchestrationEngine;
  let runs: EngineRunClient;
  let v1Files: string[];

  function http(name: string): HttpFunctionDefinition {
    const f = FUNCTIONS.find((d) => d.name === name);
    if (!f || f.kind !== 'http') throw new Error(`no http function ${name}`);
    return f;
  }

  async function call(name: string, method: string, path: string, params: Record<string, string>) {
    const request = new HttpRequest({ method, url: `http://127.0.0.1:7071${path}`, params });
    const response = (await http(name).handler(request, new InvocationContext({ functionName: name }), runs)) as HttpResponseInit;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
    return response as HttpResponseInit & { jsonBody: any; headers: Record<string, string> };
  }

  beforeAll(async () => {
    Object.assign(process.env, { SLUICE_LAKE: connectionString(), SLUICE_LAKE_CONTAINER: container, SLUICE_REHYDRATION_POLL_SECONDS: '1' });
    ({ v1Files } = await threeVersions(real));
    await archive(real, v1Files);
    engine = runEngine({ orchestrators: { [REHYDRATE_ORCHESTRATOR]: rehydrateOrchestrator }, activities: rehydrateActivities(() => wrapped) });
    runs = new EngineRunClient(engine);
    engine.start();
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('declares the routes with a durable client', () => {
    const routes = FUNCTIONS.filter((f): f is HttpFunctionDefinition => f.kind === 'http' && /rehydrat/.test(f.route)).map((f) => [
      f.methods.join(),
      f.route,
      f.durableClient,
    ]);
    expect(routes).toEqual([
      ['POST', 'tables/{layer}/{table}/rehydrate', true],
      ['GET', 'tables/{layer}/{table}/rehydrations/{instanceId}', true],
    ]);
    expect(FUNCTIONS.some((f) => f.kind === 'orchestration' && f.name === REHYDRATE_ORCHESTRATOR)).toBe(true);
  });

  it('answers 400 and 404 for a bad priority, version or table', async () => {
    const params = { layer: 'bronze', table: 'orders' };
    expect((await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?priority=urgent', params)).status).toBe(400);
    expect((await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?version=x', params)).status).toBe(400);
    const missing = await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?version=9', params);
    expect(missing.status).toBe(404);
    expect(missing.jsonBody.error).toContain('bronze/orders');
    expect((await call('rehydrateTable', 'POST', '/api/tables/bronze/none/rehydrate', { layer: 'bronze', table: 'none' })).status).toBe(404);
    expect((await call('rehydrationStatus', 'GET', '/api/tables/bronze/orders/rehydrations/x', { ...params, instanceId: 'x' })).status).toBe(404);
  });

  it('completes at once with nothing to do for a version none of whose files is archived', async () => {
    const params = { layer: 'bronze', table: 'orders' };
    const started = await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate', params);
    expect(started.jsonBody).toMatchObject({ id: 'rehydrate-bronze-orders-v2-standard', version: 2 });
    const done = await engine.waitForCompletion(started.jsonBody.id, 20_000);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { stage: 'completed', files: 0, checks: 0 } });
    expect(wrapped.log.requests).toEqual([]);
  });

  it('answers 202 with a Location whose status shows the progress until every file is online', async () => {
    const params = { layer: 'bronze', table: 'orders' };
    const started = await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?version=1', params);
    expect(started.status).toBe(202);
    const id = 'rehydrate-bronze-orders-v1-standard';
    expect(started.jsonBody).toMatchObject({ id, table: 'bronze/orders', version: 1, priority: 'standard', alreadyRunning: false });
    expect(started.headers.Location).toBe(`http://127.0.0.1:7071/api/tables/bronze/orders/rehydrations/${id}`);

    // Asking again while it runs answers with the same instance.
    const again = await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?version=1&priority=standard', params);
    expect(again.jsonBody).toMatchObject({ id, alreadyRunning: true });

    const seen: RehydrateStatus[] = [];
    let status: Awaited<ReturnType<typeof call>>;
    const deadline = Date.now() + 30_000;
    for (;;) {
      status = await call('rehydrationStatus', 'GET', new URL(started.headers.Location).pathname, { ...params, instanceId: id });
      if (status.jsonBody.customStatus) seen.push(status.jsonBody.customStatus as RehydrateStatus);
      if (status.status === 200 || Date.now() > deadline) break;
      expect(status.status).toBe(202);
      expect(status.headers.Location).toBe(started.headers.Location);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status.status).toBe(200);
    expect(status.jsonBody.runtimeStatus).toBe('Completed');
    const output = status.jsonBody.output as RehydrateStatus;
    expect(output).toMatchObject({ stage: 'completed', table: 'bronze/orders', version: 1, files: 2, online: 2, pending: 0 });
    expect(output.bytesOnline).toBe(output.bytes);
    expect(output.checks).toBeGreaterThanOrEqual(3);
    // On the way: files pending, none online yet, with the next check announced.
    expect(seen.some((s) => s.stage === 'rehydrating' && s.files === 2 && s.online === 0 && s.pending === 2 && s.nextCheckAt)).toBe(true);
    expect(wrapped.log.completed.sort()).toEqual(v1Files);

    // The version reads now, and the request's hold is recorded as completed.
    const io = captured();
    expect(await main(['read', azuriteUri(container, 'bronze/orders'), '--version', '1'], io)).toBe(0);
    expect(io.stdout.trim().split('\n')).toHaveLength(3);
    const holds = await listHolds(real);
    expect(holds).toEqual([expect.objectContaining({ id: 'v1-standard', completedAt: expect.any(String), by: expect.stringContaining(id) })]);
  });
  it('fails, naming the file, when a file of the version is deleted while it rehydrates', async () => {
    await archive(real, v1Files);
    const params = { layer: 'bronze', table: 'orders' };
    const started = await call('rehydrateTable', 'POST', '/api/tables/bronze/orders/rehydrate?version=1&priority=high', params);
    expect(started.status).toBe(202);
    const id = started.jsonBody.id as string;
    const deadline = Date.now() + 20_000;
    while (!((await runs.status(id))?.customStatus as RehydrateStatus | undefined)?.pending && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await wrapped.delete(v1Files[0]);
    const done = await engine.waitForCompletion(id, 20_000);
    expect(done?.runtimeStatus).toBe('Failed');
    expect(JSON.stringify(done?.output)).toContain(
      `1 file(s) the version needs are no longer in storage (vacuumed?), so the version cannot be read: ${v1Files[0]}`,
    );
    expect((done?.customStatus as RehydrateStatus).stage).toBe('failed');
  });
});
