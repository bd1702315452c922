/**
 * `GET /api/health` (functions/health.ts) against Azurite: healthy when the landing container can be
 * listed, 503 with an error id (and the detail only in the log) when it cannot; registered without a
 * function key while every other HTTP function keeps one.
 */
import * as nodePath from 'node:path';
import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../shared/config';
import { createRuntime, readIngestTriggerSettings } from '../../shared/host';
import { openStore } from '../../shared/storage/location';
import { checkHealth } from '../../functions/health';
import { FUNCTIONS } from '../../functions/definitions';
import { azuriteUri, uniqueContainer } from '../support/azurite';
import { registerUnderStandInHost } from '../support/functions-host';

const ROOT = nodePath.resolve(__dirname, '..', '..');

function runtimeWithLanding(landingContainer: string, connectionString = process.env.SLUICE_STORAGE_CONNECTION_STRING!) {
  const settings = loadSettings({
    SLUICE_LAKE: connectionString,
    SLUICE_LAKE_CONTAINER: uniqueContainer('health-lake'),
    SLUICE_LANDING_CONTAINER: landingContainer,
  });
  return createRuntime({ settings, triggers: readIngestTriggerSettings({})!, pipelines: [] });
}

function context() {
  const logged: string[] = [];
  return { logged, context: new InvocationContext({ functionName: 'health', logHandler: (_level, ...args) => logged.push(args.join(' ')) }) };
}

describe('health', () => {
  it('answers 200 when the landing container can be listed', async () => {
    const landing = uniqueContainer('health-landing');
    await openStore(azuriteUri(landing)).write('pos/sales/a.csv', 'a\n1\n');
    const { context: ctx } = context();
    const answer = await checkHealth(runtimeWithLanding(landing), ctx);
    expect(answer.status).toBe(200);
    expect(answer.jsonBody).toEqual({ status: 'healthy', node: process.version, pipelines: 0 });
  });

  it('answers 503 with an error id, and logs the reason under that id, when storage refuses the app', async () => {
    // The same Azurite with a wrong key: refused as a missing role or a closed network would be.
    const landing = uniqueContainer('health-refused');
    await openStore(azuriteUri(landing)).write('a.csv', 'a\n1\n');
    const wrongKey = Buffer.from('not the account key').toString('base64');
    const refused = process.env.SLUICE_STORAGE_CONNECTION_STRING!.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`);
    expect(refused).not.toBe(process.env.SLUICE_STORAGE_CONNECTION_STRING);
    const { context: ctx, logged } = context();
    const answer = await checkHealth(runtimeWithLanding(landing, refused), ctx);
    expect(answer.status).toBe(503);
    const body = answer.jsonBody as { status: string; reason: string; errorId: string };
    expect(body.status).toBe('unhealthy');
    expect(body.reason).toBe('the landing container cannot be listed');
    expect(logged.join('\n')).toContain(body.errorId);
    // The storage error stays in the log: an anonymous caller learns nothing about the account.
    expect(JSON.stringify(body)).not.toMatch(/health-refused|127\.0\.0\.1|devstoreaccount/);
  });

  it('is the one HTTP function registered without a function key', () => {
    const child = registerUnderStandInHost([nodePath.join(ROOT, 'functions', 'index.ts')], {
      ...process.env,
      SLUICE_LAKE: 'UseDevelopmentStorage=true',
      SLUICE_PIPELINES: nodePath.join(ROOT, 'examples', 'pipelines', 'pos.yaml'),
    });
    expect(child.status, child.stderr).toBe(0);
    const authLevels = Object.fromEntries(
      child.functions
        .map((f) => [f.name, Object.values(f.bindings).find((b) => b.type === 'httpTrigger')?.authLevel])
        .filter(([, level]) => level !== undefined),
    );
    expect(authLevels.health).toBe('anonymous');
    const keyed = FUNCTIONS.filter((f) => f.kind === 'http' && f.name !== 'health').map((f) => f.name);
    expect(keyed.length).toBeGreaterThan(5);
    for (const name of keyed) expect(authLevels[name], name).toBe('function');
  });
});
