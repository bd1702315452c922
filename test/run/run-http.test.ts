/**
 * The run API as the Functions host calls it — the handlers of FUNCTIONS with an HttpRequest, an
 * InvocationContext and a RunClient over the local engine — on Azurite, with the settings and the POS
 * definition read through the real runtime: start (202 with our pipeline-scoped URLs only), status
 * while pending and once done (metrics in the output), terminate, purge, and the 404/400/409/410
 * answers (in a lake without bronze data yet, where a run completes with every table unchanged).
 * Then the triggers: a BlobCreated event that lands rows starts the afterBronze pipeline's
 * run through the same client, and the schedule timer's due-time rule.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type HttpFunctionDefinition } from '../../functions/definitions';
import { parsePipelineDefinition } from '../../shared/pipeline';
import {
  duePipelines,
  EngineRunClient,
  orchestrationRegistry,
  requestProgress,
  runtimeServices,
  startOptions,
  startRunResponse,
  type RefreshOutput,
  type RunClient,
} from '../../shared/run';
import { openStore } from '../../shared/storage';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { connectionString, POS_PIPELINE, posLake, runEngine, type RunLake } from '../support/run-lake';

const BASE = 'http://127.0.0.1:7071';
let run: RunLake;
const landingContainer = uniqueContainer('run-landing');

function http(name: string): HttpFunctionDefinition {
  const f = FUNCTIONS.find((d) => d.name === name);
  if (!f || f.kind !== 'http') throw new Error(`no http function ${name}`);
  return f;
}

async function call(
  name: string,
  runs: RunClient,
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
): Promise<HttpResponseInit & { json: any }> {
  const request = new HttpRequest({
    method,
    url: `${BASE}${path}`,
    params,
    ...(body !== undefined ? { body: { string: JSON.stringify(body) }, headers: { 'content-type': 'application/json' } } : {}),
  });
  const context = new InvocationContext({ functionName: name, invocationId: `test-${name}` });
  const response = (await http(name).handler(request, context, runs)) as HttpResponseInit;
  return { ...response, json: response.jsonBody };
}

beforeAll(async () => {
  run = await posLake('run-http');
  Object.assign(process.env, {
    SLUICE_LAKE: connectionString(),
    SLUICE_LAKE_CONTAINER: run.container,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: POS_PIPELINE,
  });
});

describe('run API (HTTP functions)', () => {
  it('declares every route, with a durable client where it needs one', () => {
    const routes = FUNCTIONS.filter((f): f is HttpFunctionDefinition => f.kind === 'http' && f.route.startsWith('pipelines/')).map((f) => [
      f.methods.join(),
      f.route,
      f.durableClient,
    ]);
    expect(routes).toEqual([
      ['POST', 'pipelines/{name}/runs', true],
      ['GET', 'pipelines/{name}/requests/{requestId}', true],
      ['GET', 'pipelines/{name}/tables/{table}/updates', undefined],
      ['GET', 'pipelines/{name}/runs/{instanceId}', true],
      ['POST', 'pipelines/{name}/runs/{instanceId}/terminate', true],
      ['DELETE', 'pipelines/{name}/runs/{instanceId}', true],
      ['GET', 'pipelines/{name}/audit', undefined],
    ]);
    expect(
      FUNCTIONS.filter((f) => f.kind === 'orchestration' || f.kind === 'activity')
        .map((f) => `${f.kind}:${f.name}`)
        .sort(),
    ).toEqual(
      [
        'orchestration:rehydrate',
        'activity:rehydratePlan',
        'activity:rehydrateCheck',
        'activity:rehydrateFinish',
        'orchestration:refresh',
        'orchestration:refreshTables',
        'activity:refreshPlan',
        'activity:refreshTable',
        'orchestration:maintainLake',
        'activity:maintenancePlan',
        'activity:maintainTable',
        'activity:pruneSluiceState',
      ].sort(),
    );
  });

  it('starts a run (202 + URLs), reports it pending then done with metrics, purges it; 404s for unknown pipelines and runs', async () => {
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const started = await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs?code=k3y', { name: 'pos' }, { reason: 'curl' });
    expect(started.status).toBe(202);
    expect(started.json.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.headers).toMatchObject({ Location: `${BASE}/api/pipelines/pos/requests/${started.json.requestId}` });
    expect(started.json).toMatchObject({
      id: 'refresh-pos',
      pipeline: 'pos',
      created: true,
      queued: false,
      statusUrl: `${BASE}/api/pipelines/pos/runs/refresh-pos`,
      terminateUrl: `${BASE}/api/pipelines/pos/runs/refresh-pos/terminate`,
      purgeUrl: `${BASE}/api/pipelines/pos/runs/refresh-pos`,
    });
    // Only pipeline-scoped URLs: the Durable ones carry the extension's system key in Azure, and the
    // caller's key is never echoed.
    expect(started.json.management).toBeUndefined();
    expect(JSON.stringify(started)).not.toMatch(/k3y|durabletask/);

    const pending = await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' });
    expect(pending.status).toBe(202);
    expect(pending.json).toMatchObject({ pipeline: 'pos', instanceId: 'refresh-pos', runtimeStatus: 'Pending', input: { pipeline: 'pos', reason: 'curl' } });
    // The second POST while it is pending: it raises catchUp on the same instance.
    const again = await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' });
    expect(again.json).toMatchObject({ id: 'refresh-pos', created: false, queued: true });

    await engine.runPending();
    const done = await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' });
    expect(done.status).toBe(200);
    expect(done.json.runtimeStatus).toBe('Completed');
    const output = done.json.output as RefreshOutput;
    expect(output.tables.map((m) => m.table)).toEqual(['silver.sales', 'silver.deliveries', 'gold.daily_store_sales', 'gold.store_stock']);
    // No bronze data yet: every table is unchanged, none failed.
    expect(output.tables.map((m) => m.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(done.json.customStatus).toMatchObject({ stage: 'completed', done: 4 });

    expect((await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/nope', { name: 'pos', instanceId: 'nope' })).status).toBe(404);
    expect((await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/fire/runs/refresh-pos', { name: 'fire', instanceId: 'refresh-pos' })).status).toBe(
      404,
    );
    const unknown = await call('startPipelineRun', runs, 'POST', '/api/pipelines/nope/runs', { name: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/no pipeline named "nope" \(pipelines: pos\)/);
    expect((await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { fullRefresh: ['gold.nope'] })).status).toBe(400);
    // A body must say it is JSON: a form or text/plain is what a web page can send without asking first.
    const form = new HttpRequest({
      method: 'POST',
      url: `${BASE}/api/pipelines/pos/runs`,
      params: { name: 'pos' },
      body: { string: '{"fullRefresh": true}' },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const refused = (await http('startPipelineRun').handler(form, new InvocationContext(), runs)) as HttpResponseInit;
    expect(refused).toMatchObject({
      status: 415,
      jsonBody: { error: expect.stringMatching(/Content-Type: application\/json, not 'application\/x-www-form-urlencoded'/) },
    });
    // Names an object inherits are no tables either.
    const inherited = await call(
      'startPipelineRun',
      runs,
      'POST',
      '/api/pipelines/pos/runs',
      { name: 'pos' },
      { fullRefresh: ['constructor', 'silver.sales', '__proto__'] },
    );
    expect(inherited).toMatchObject({
      status: 400,
      json: { error: expect.stringMatching(/^fullRefresh names unknown tables constructor, __proto__ \(tables: /) },
    });
    expect(
      (await call('pipelineTableUpdates', runs, 'GET', '/api/pipelines/pos/tables/constructor/updates', { name: 'pos', table: 'constructor' })).status,
    ).toBe(404);
    expect((await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { everything: true })).json.error).toMatch(
      /unknown field everything/,
    );
    expect(
      (await call('terminatePipelineRun', runs, 'POST', '/api/pipelines/pos/runs/refresh-pos/terminate', { name: 'pos', instanceId: 'refresh-pos' })).status,
    ).toBe(410);

    const purged = await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' });
    expect(purged).toMatchObject({ status: 200, json: { instancesDeleted: 1 } });
    expect((await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' })).status).toBe(
      404,
    );
    expect((await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' })).status).toBe(404);
  });

  it('adds the Durable management URLs only when SLUICE_EXPOSE_DURABLE_URLS asks for them', async () => {
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const exposed = await startRunResponse(runs, [run.definition], 'pos', startOptions({ reason: 'exposed' }, new URLSearchParams()), {
      baseUrl: BASE,
      exposeDurableUrls: true,
    });
    expect(exposed.status).toBe(202);
    expect((exposed.body as { management: { statusQueryGetUri: string } }).management.statusQueryGetUri).toBe(
      `${BASE}/runtime/webhooks/durabletask/instances/refresh-pos`,
    );
    const hidden = await startRunResponse(runs, [run.definition], 'pos', startOptions({}, new URLSearchParams()), { baseUrl: BASE });
    expect(hidden.body).not.toHaveProperty('management');
    await engine.runPending();
    await runs.purge('refresh-pos');
  });

  it('answers an unexpected failure 500 with an error id only, the detail logged under it', async () => {
    // An engine without the refresh orchestrator: starting fails inside the handler.
    const broken = new EngineRunClient(runEngine({ orchestrators: {}, activities: {} }));
    const logged: string[] = [];
    const request = new HttpRequest({ method: 'POST', url: `${BASE}/api/pipelines/pos/runs`, params: { name: 'pos' } });
    const context = new InvocationContext({ functionName: 'startPipelineRun', logHandler: (_level, ...args) => logged.push(args.join(' ')) });
    const response = (await http('startPipelineRun').handler(request, context, broken)) as HttpResponseInit;
    const body = response.jsonBody as { error: string; errorId: string };
    expect(response.status).toBe(500);
    expect(body).toEqual({
      error: `internal error; the app's log has the details under id ${body.errorId}`,
      errorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(logged.join('\n')).toMatch(
      new RegExp(`startPipelineRun: internal error ${body.errorId}: orchestration engine: no orchestrator function named 'refresh'`),
    );
  });

  it("a request's URL reports its own run's outcome after the instance has gone on to the next run", async () => {
    // The plan activity records which run serves a request in the event log the handlers read.
    const events = runtimeServices().events!;
    const engine = runEngine(orchestrationRegistry({ ...run.services, events }));
    const runs = new EngineRunClient(engine);
    const first = await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { reason: 'first' });
    const firstStatus = () =>
      call('pipelineRequestStatus', runs, 'GET', `/api/pipelines/pos/requests/${first.json.requestId}`, { name: 'pos', requestId: first.json.requestId });
    expect(await firstStatus()).toMatchObject({ status: 202, json: { requestId: first.json.requestId, runtimeStatus: 'Pending', input: { reason: 'first' } } });

    // Run the first run to its end, then queue a second request behind... nothing: it starts at once,
    // replacing the finished execution under the same instance id.
    await engine.runPending();
    const done = await firstStatus();
    expect(done).toMatchObject({ status: 200, json: { runtimeStatus: 'Completed', input: { reason: 'first' } } });
    const runId = (done.json.output as RefreshOutput).runId;
    const second = await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { reason: 'second' });
    const secondStatus = () =>
      call('pipelineRequestStatus', runs, 'GET', `/api/pipelines/pos/requests/${second.json.requestId}`, { name: 'pos', requestId: second.json.requestId });
    expect(await secondStatus()).toMatchObject({ status: 202, json: { runtimeStatus: 'Pending' } });
    // The instance now shows the second request's run; the first request's URL still answers with its own.
    expect(
      (await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' })).json.input.reason,
    ).toBe('second');
    const replaced = await firstStatus();
    expect(replaced).toMatchObject({ status: 200, json: { requestId: first.json.requestId, runId, runtimeStatus: 'Completed', source: 'eventLog' } });
    expect((replaced.json.output as RefreshOutput).tables.map((m) => m.table).sort()).toEqual([
      'gold.daily_store_sales',
      'gold.store_stock',
      'silver.deliveries',
      'silver.sales',
    ]);
    await engine.runPending();
    expect(await secondStatus()).toMatchObject({ status: 200, json: { runtimeStatus: 'Completed', input: { reason: 'second' } } });

    const unknown = await call('pipelineRequestStatus', runs, 'GET', '/api/pipelines/pos/requests/nope', { name: 'pos', requestId: 'nope' });
    expect(unknown).toMatchObject({ status: 404, json: { error: 'no request "nope" of pipeline "pos"' } });
    expect(
      (
        await call('pipelineRequestStatus', runs, 'GET', `/api/pipelines/fire/requests/${first.json.requestId}`, {
          name: 'fire',
          requestId: first.json.requestId,
        })
      ).status,
    ).toBe(404);
    // A request made before the run ended that it did not take (raised on it, then the run failed or
    // was terminated): waiting while its starter may still start the next run, lost after that.
    await events.recordRequest({ requestId: 'dropped', pipeline: 'pos', requestedAt: new Date(Date.now() - 30_000).toISOString() });
    expect((await requestProgress(runs, events, 'pos', 'dropped', 4)).state).toBe('waiting');
    expect(await requestProgress(runs, events, 'pos', 'dropped', 4, Date.now() + 11_000)).toMatchObject({
      state: 'lost',
      why: expect.stringMatching(/ended \(Completed\) after the request without serving it/),
    });
    await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', { name: 'pos', instanceId: 'refresh-pos' });

    // A request no run served, long ago, with nothing running (the run it was raised on was
    // terminated or purged first): reported as canceled rather than pending for ever.
    await events.recordRequest({ requestId: 'forgotten', pipeline: 'pos', requestedAt: new Date(Date.now() - 10 * 60_000).toISOString() });
    const forgotten = await call('pipelineRequestStatus', runs, 'GET', '/api/pipelines/pos/requests/forgotten', { name: 'pos', requestId: 'forgotten' });
    expect(forgotten).toMatchObject({ status: 200, json: { runtimeStatus: 'Canceled' } });
    expect(forgotten.json.error).toMatch(/terminated, failed or purged before taking it; ask again/);
  });

  it('terminates a running run; purge refuses while it runs (409)', async () => {
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const params = { name: 'pos', instanceId: 'refresh-pos' };
    await call('startPipelineRun', runs, 'POST', '/api/pipelines/pos/runs', { name: 'pos' }, { fullRefresh: true });
    await engine.tick();
    expect((await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', params)).status).toBe(409);
    const terminated = await call('terminatePipelineRun', runs, 'POST', '/api/pipelines/pos/runs/refresh-pos/terminate?reason=stop', params);
    expect(terminated.status).toBe(202);
    await engine.runPending();
    const status = await call('pipelineRunStatus', runs, 'GET', '/api/pipelines/pos/runs/refresh-pos', params);
    expect(status.json.runtimeStatus).toBe('Terminated');
    expect((await call('purgePipelineRun', runs, 'DELETE', '/api/pipelines/pos/runs/refresh-pos', params)).status).toBe(200);
  });
});

describe('run triggers', () => {
  it('a BlobCreated event that lands rows starts the afterBronze pipeline through the run client', async () => {
    const engine = runEngine(orchestrationRegistry(run.services));
    const runs = new EngineRunClient(engine);
    const landing = openStore(azuriteUri(landingContainer));
    const path = 'pos/deliveries/deliveries-extra.csv';
    const info = await landing.write(path, 'delivery_id,store_id,sku,quantity,delivered_at\nD-900,S1,SKU-1,4,2026-03-03T08:00:00Z\n');
    const logs: string[] = [];
    const context = new InvocationContext({ functionName: 'blobCreated', invocationId: 'test', logHandler: (_level, ...args) => logs.push(args.join(' ')) });
    const blobCreated = FUNCTIONS.find((f) => f.name === 'blobCreated')!;
    expect(blobCreated.kind === 'eventGrid' && blobCreated.durableClient).toBe(true);
    const event = {
      subject: `/blobServices/default/containers/${landingContainer}/blobs/${path}`,
      eventType: 'Microsoft.Storage.BlobCreated',
      id: 'evt-run-1',
      eventTime: '2026-03-03T08:00:01Z',
      data: { api: 'PutBlob', eTag: info.etag, url: azuriteUri(landingContainer, path), contentLength: 80, blobType: 'BlockBlob' },
    };
    await (blobCreated.handler as (e: unknown, c: InvocationContext, r: RunClient) => Promise<void>)(event, context, runs);
    expect(logs.join('\n')).toMatch(/committed .*refresh refresh-pos (started|asked to catch up) for pos_deliveries version \d+/s);
    const status = await engine.getStatus('refresh-pos');
    expect(status?.input).toMatchObject({ pipeline: 'pos', reason: expect.stringMatching(/^bronze pos_deliveries version \d+$/) });
  });

  it('the schedule timer starts a scheduled pipeline in the minute its NCRONTAB falls in, not otherwise', () => {
    const text = readFileSync(POS_PIPELINE, 'utf8').replace('trigger: afterBronze', 'schedule: "0 */15 * * * *"');
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-run-'));
    writeFileSync(nodePath.join(dir, 'pos.yaml'), text);
    const scheduled = parsePipelineDefinition(text, 'pos.yaml');
    const daily = parsePipelineDefinition(
      text.replace('name: pos', 'name: daily').replace('schedule: "0 */15 * * * *"', 'schedule: "30 0 6 * * MON-FRI"'),
      'daily.yaml',
    );
    expect(duePipelines([scheduled, daily], new Date('2026-03-02T10:15:00.200Z'))).toEqual(['pos']);
    expect(duePipelines([scheduled, daily], new Date('2026-03-02T10:16:00Z'))).toEqual([]);
    // 06:00:30 on a Monday falls in the minute ending 06:01:00; Sunday does not match MON-FRI.
    expect(duePipelines([scheduled, daily], new Date('2026-03-02T06:01:00Z'))).toEqual(['daily']);
    expect(duePipelines([scheduled, daily], new Date('2026-03-01T06:01:00Z'))).toEqual([]);
  });
});
