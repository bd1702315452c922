/**
 * The `tierLake` timer on Azurite: one pass over every table of the served pipelines and the landing
 * container, with the app's runtime and ledger. Landing files move only once the ledger records them
 * as ingested; a table whose log cannot be read is skipped with its reason while the others proceed;
 * `plan` mode changes nothing; a second pass moves nothing more.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { InvocationContext, type Timer } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/definitions';
import { loadSettings } from '../../shared/config';
import { createRuntime, loadPipelines, readIngestTriggerSettings, reconcileLanding, runTieringPass, type SluiceRuntime } from '../../shared/host';
import { openStore } from '../../shared/storage/location';
import type { ObjectStore } from '../../shared/storage/types';
import { azuriteUri, uniqueContainer } from '../support/azurite';

const DAY = 86_400_000;
const landingContainer = uniqueContainer('tier-landing');
const lakeContainer = uniqueContainer('tier-lake');
const PIPELINE = `
name: tier-test
sources:
  sales:
    landing: pos/sales/
    format: csv
    schemaHints: { sku: string, qty: int }
tables:
  silver.broken:
    from: sales
  silver.later:
    from: sales
tiering:
  landing: { coolAfterDays: 30, deleteAfterDays: 400 }
`;

const env: Record<string, string> = {};
let runtime: SluiceRuntime;
let landing: ObjectStore;
let lake: ObjectStore;

beforeAll(async () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-timer-'));
  const file = nodePath.join(dir, 'tier.yaml');
  writeFileSync(file, PIPELINE);
  Object.assign(env, {
    SLUICE_LAKE: process.env.SLUICE_STORAGE_CONNECTION_STRING!,
    SLUICE_LAKE_CONTAINER: lakeContainer,
    SLUICE_LANDING_CONTAINER: landingContainer,
    SLUICE_PIPELINES: file,
  });
  Object.assign(process.env, env);
  runtime = createRuntime({ settings: loadSettings(env), triggers: readIngestTriggerSettings(env)!, pipelines: loadPipelines(file, dir, true) });
  landing = openStore(azuriteUri(landingContainer));
  lake = openStore(azuriteUri(lakeContainer));
  await landing.write('pos/sales/day1.csv', 'sku,qty\r\na,1\r\nb,2\r\n');
  await reconcileLanding(runtime);
  // Arrives after the reconcile: not in the ledger, so never tiered however old.
  await landing.write('pos/sales/day2.csv', 'sku,qty\r\nc,3\r\n');
  await lake.write('silver/broken/_delta_log/00000000000000000000.json', '{ not json');
});

async function tierOf(store: ObjectStore, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const info of store.list(prefix)) out[info.path] = info.accessTier ?? '?';
  return out;
}

describe('tierLake', () => {
  it('is a timer of the function list on SLUICE_TIERING_SCHEDULE, daily by default', () => {
    const timer = FUNCTIONS.find((f) => f.name === 'tierLake');
    expect(timer).toMatchObject({ kind: 'timer', schedule: '%SLUICE_TIERING_SCHEDULE%' });
    expect(runtime.bindingSettings.SLUICE_TIERING_SCHEDULE).toBe('0 0 3 * * *');
    expect(readIngestTriggerSettings({ SLUICE_TIERING_SCHEDULE: 'daily' }, [])).toBeUndefined();
  });

  it('plans only in plan mode, then applies: tables and ingested landing files, the broken table skipped with its reason', async () => {
    const asOf = new Date(Date.now() + 31 * DAY);
    const planned = await runTieringPass(runtime, { env: { ...env, SLUICE_TIERING_MODE: 'plan' }, asOf });
    expect(planned.mode).toBe('plan');
    expect(planned.outcomes.every((o) => o.result === undefined)).toBe(true);
    expect(Object.values(await tierOf(lake, 'bronze/sales/')).every((t) => t === 'Hot')).toBe(true);

    const { outcomes } = await runTieringPass(runtime, { env, asOf });
    const by = new Map(outcomes.map((o) => [o.target, o]));
    expect([...by.keys()]).toEqual(['bronze/sales', 'silver/broken', 'silver/later', 'landing']);
    expect(by.get('silver/broken')).toMatchObject({ failed: true, skipped: expect.stringContaining('silver/broken/_delta_log/00000000000000000000.json') });
    expect(by.get('silver/later')).toEqual({ target: 'silver/later', skipped: 'no table yet' });

    // Bronze default: Cool after 30 days; the log stays Hot.
    const bronze = await tierOf(lake, 'bronze/sales/');
    const data = Object.entries(bronze).filter(([p]) => !p.includes('/_delta_log/'));
    expect(data.length).toBeGreaterThan(0);
    expect(data.every(([, t]) => t === 'Cool')).toBe(true);
    expect(
      Object.entries(bronze)
        .filter(([p]) => p.includes('/_delta_log/'))
        .every(([, t]) => t === 'Hot'),
    ).toBe(true);
    expect(by.get('bronze/sales')!.result!.applied).toHaveLength(data.length);
    // Why each file moved stays on record in the lake.
    const records = Object.keys(await tierOf(lake, '_sluice/tiering/bronze/sales/'));
    expect(records).toHaveLength(1);
    const record = JSON.parse(new TextDecoder().decode(await lake.read(records[0])));
    expect(record.moved).toHaveLength(data.length);
    expect(record.moved[0]).toMatchObject({
      from: 'Hot',
      to: 'Cool',
      class: 'live',
      reason: expect.stringContaining('≥ coolAfterDays 30 (default for bronze)'),
    });

    // Landing: the ingested file to Cool; the one the ledger does not know stays Hot.
    expect(await tierOf(landing, 'pos/sales/')).toEqual({ 'pos/sales/day1.csv': 'Cool', 'pos/sales/day2.csv': 'Hot' });
    expect(by.get('landing')!.plan!.classes).toMatchObject({ committed: { files: 1 }, pending: { files: 1 } });

    // Idempotent: the same pass again moves nothing.
    const again = await runTieringPass(runtime, { env, asOf });
    expect(again.outcomes.flatMap((o) => o.result?.applied ?? [])).toEqual([]);

    // Deletion only after deleteAfterDays (400), and not before Cool's 30 days ran out.
    const late = await runTieringPass(runtime, { env, asOf: new Date(Date.now() + 401 * DAY) });
    expect(late.outcomes.find((o) => o.target === 'landing')!.result!.applied.map((m) => [m.path, m.to])).toEqual([['pos/sales/day1.csv', 'Deleted']]);
    expect(Object.keys(await tierOf(landing, 'pos/sales/'))).toEqual(['pos/sales/day2.csv']);
  });

  it('runs as the timer: a line per table, and fails at the end naming the table it had to skip', async () => {
    const logs: string[] = [];
    const context = new InvocationContext({ functionName: 'tierLake', logHandler: (_level, ...args) => logs.push(args.join(' ')) });
    const timer = FUNCTIONS.find((f) => f.name === 'tierLake')!;
    const run = (timer.handler as (t: Timer, c: InvocationContext) => Promise<void>)({ isPastDue: false } as Timer, context);
    await expect(run).rejects.toThrow(/^tierLake: 1 failure: silver\/broken: /);
    expect(logs.join('\n')).toMatch(/tierLake: bronze\/sales: moved 0, refused 0, skipped 0, held \d+; /);
    expect(logs.join('\n')).toMatch(/tierLake: silver\/later: skipped: no table yet/);
    expect(logs.join('\n')).toMatch(/tierLake: landing: moved 0/);
  });
});
