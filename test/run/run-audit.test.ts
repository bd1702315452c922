/**
 * The audit of run actions as the Functions host calls the run API (the handlers of FUNCTIONS with an
 * HttpRequest, an InvocationContext and a RunClient over the local engine), on Azurite: a start, a
 * terminate and a purge record who asked — the Entra principal App Service authentication puts in the
 * request headers (by name, or decoded from X-MS-CLIENT-PRINCIPAL), else `key` — and when, newest
 * first on `GET /api/pipelines/{name}/audit`. (`local` on the local host: catalog-local-host.test.ts.)
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type HttpFunctionDefinition } from '../../functions/definitions';
import { callerOf, EngineRunClient, markLocalHost, orchestrationRegistry, type AuditRecord, type RunClient } from '../../shared/run';
import { uniqueContainer } from '../support/azurite';
import { connectionString, POS_PIPELINE, posLake, runEngine, type RunLake } from '../support/run-lake';

const BASE = 'http://127.0.0.1:7071';
let run: RunLake;

async function call(
  name: string,
  runs: RunClient,
  method: string,
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
): Promise<HttpResponseInit & { json: any }> {
  const f = FUNCTIONS.find((d): d is HttpFunctionDefinition => d.kind === 'http' && d.name === name)!;
  const request = new HttpRequest({ method, url: `${BASE}${path}`, params, headers });
  const response = (await f.handler(request, new InvocationContext({ functionName: name }), runs)) as HttpResponseInit;
  return { ...response, json: response.jsonBody };
}

function principalHeader(claims: { typ: string; val: string }[]): string {
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}

beforeAll(async () => {
  run = await posLake('run-audit');
  Object.assign(process.env, {
    SLUICE_LAKE: connectionString(),
    SLUICE_LAKE_CONTAINER: run.container,
    SLUICE_LANDING_CONTAINER: uniqueContainer('audit-landing'),
    SLUICE_PIPELINES: POS_PIPELINE,
  });
});

describe('audit of run actions', () => {
  it('names the caller from App Service authentication headers, else key', () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(callerOf(headers({}))).toEqual({ kind: 'key', principal: 'key', principalId: null, identityProvider: null });
    expect(
      callerOf(headers({ 'X-MS-CLIENT-PRINCIPAL-NAME': 'alice@contoso.com', 'X-MS-CLIENT-PRINCIPAL-ID': 'oid-1', 'X-MS-CLIENT-PRINCIPAL-IDP': 'aad' })),
    ).toEqual({
      kind: 'entra',
      principal: 'alice@contoso.com',
      principalId: 'oid-1',
      identityProvider: 'aad',
    });
    // Only the encoded principal: name and object id come from its claims.
    const encoded = principalHeader([
      { typ: 'name', val: 'Bob Builder' },
      { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-2' },
    ]);
    expect(callerOf(headers({ 'x-ms-client-principal': encoded }))).toEqual({
      kind: 'entra',
      principal: 'Bob Builder',
      principalId: 'oid-2',
      identityProvider: 'aad',
    });
    // A service principal has an id and no name.
    expect(callerOf(headers({ 'x-ms-client-principal-id': 'sp-3' }))).toMatchObject({ kind: 'entra', principal: 'sp-3', principalId: 'sp-3' });
    // A header that does not decode names nobody.
    expect(callerOf(headers({ 'x-ms-client-principal': '%%%not base64 json' }))).toMatchObject({ kind: 'key' });
    // On the local host nothing a caller sends counts.
    markLocalHost(true);
    try {
      expect(callerOf(headers({ 'x-ms-client-principal-name': 'mallory@example.com' }))).toMatchObject({ kind: 'local', principal: 'local' });
    } finally {
      markLocalHost(false);
    }
  });

  it('records who started, terminated and purged which run, and serves it newest first', async () => {
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const params = { name: 'pos', instanceId: 'refresh-pos' };
    const before = Date.now();

    const started = await call(
      'startPipelineRun',
      runs,
      'POST',
      '/api/pipelines/pos/runs',
      { name: 'pos' },
      { 'x-ms-client-principal-name': 'alice@contoso.com' },
    );
    expect(started.status).toBe(202);
    await engine.runPending();
    const done = await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', params);
    expect(done.json.runtimeStatus).toBe('Completed');
    // No authentication headers: a function key was all the caller had.
    const purged = await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', params);
    expect(purged.status).toBe(200);
    // Actions that did nothing are not recorded as done.
    expect((await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', params)).status).toBe(404);
    // A service principal (an id, no name) starts the next run; Bob terminates it before it begins.
    const second = await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { 'x-ms-client-principal-id': 'sp-ci' });
    expect(second.status).toBe(202);
    const terminated = await call('terminatePipelineRun', runs, 'POST', '/api/pipelines/pos/runs/refresh-pos/terminate?reason=wrong%20data', params, {
      'x-ms-client-principal': principalHeader([
        { typ: 'preferred_username', val: 'bob@contoso.com' },
        { typ: 'oid', val: 'oid-bob' },
      ]),
    });
    expect(terminated.status).toBe(202);
    await engine.runPending();

    const audit = await call('pipelineAudit', runs, 'GET', '/api/pipelines/pos/audit', { name: 'pos' });
    expect(audit.status).toBe(200);
    const records = audit.json.audit as AuditRecord[];
    expect(records.map((r) => [r.action, r.kind, r.principal])).toEqual([
      ['terminate', 'entra', 'bob@contoso.com'],
      ['start', 'entra', 'sp-ci'],
      ['purge', 'key', 'key'],
      ['start', 'entra', 'alice@contoso.com'],
    ]);
    const [terminate, start2, purge, start] = records;
    expect(start).toMatchObject({ pipeline: 'pos', instanceId: 'refresh-pos', requestId: started.json.requestId, reason: 'requested over HTTP', runId: null });
    // The purged run is named: the one the instance had completed.
    expect(purge).toMatchObject({ principalId: null, runId: done.json.output.runId });
    expect(purge.runId).toMatch(/^refresh-pos@/);
    expect(start2).toMatchObject({ principalId: 'sp-ci', requestId: second.json.requestId });
    // Terminated before it began: no run id yet, the reason given is kept.
    expect(terminate).toMatchObject({ principalId: 'oid-bob', identityProvider: 'aad', reason: 'wrong data', runId: null });
    for (const r of records) {
      expect(Date.parse(r.at)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(r.at)).toBeLessThanOrEqual(Date.now());
    }
    expect((await call('pipelineAudit', runs, 'GET', '/api/pipelines/pos/audit?limit=1', { name: 'pos' })).json.audit).toHaveLength(1);
    expect((await call('pipelineAudit', runs, 'GET', '/api/pipelines/pos/audit?limit=0', { name: 'pos' })).status).toBe(400);
    expect((await call('pipelineAudit', runs, 'GET', '/api/pipelines/nope/audit', { name: 'nope' })).status).toBe(404);
  });
});
