/**
 * `sluice tier plan|apply` on Azurite: flags, the YAML policy and the precedence between them,
 * `--as-of`, the JSON and text reports, and `describe --json` showing each file's tier afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { tieredTable } from '../support/tiering';

const DAY = 86_400_000;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Run the CLI in this process with extra environment variables. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(['SLUICE_PIPELINES', ...Object.keys(env)].map((k) => [k, process.env[k]]));
  // Unset unless a test sets it: the default, pipelines/*.yaml of the app root, matches nothing here.
  delete process.env.SLUICE_PIPELINES;
  Object.assign(process.env, env);
  let out = '';
  let err = '';
  try {
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function pipelineFile(yaml: string): string {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'sluice-tier-'));
  dirs.push(dir);
  writeFileSync(nodePath.join(dir, 'sales.yaml'), yaml);
  return nodePath.join(dir, 'sales.yaml');
}

describe('sluice tier', () => {
  it('plans with flags and --as-of, applies, and describe --json shows each file tier', async () => {
    const { uri, paths, now } = await tieredTable('tier-cli');
    const asOf = new Date(now + 100 * DAY).toISOString();
    const planned = await cli(['tier', 'plan', uri, '--as-of', asOf, '--cool-after', '30d', '--cold-after', '90d', '--json']);
    expect(planned.err).toBe('');
    expect(planned.code).toBe(0);
    const plan = JSON.parse(planned.out);
    expect(plan.asOf).toBe(asOf);
    expect(plan.policy.from).toMatchObject({ coolAfterDays: 'command line', coldAfterDays: 'command line', archiveAfterDays: 'default for bronze' });
    const live = plan.moves.filter((m: { class: string }) => m.class === 'live');
    expect(live.map((m: { path: string; to: string }) => [m.path, m.to]).sort()).toEqual([
      [paths.w1, 'Cold'],
      [paths.w5, 'Cold'],
    ]);
    // 100 days on, w3 (60 days left then) is expired; nothing else time-travels.
    expect(plan.classes).toMatchObject({ live: { files: 2 }, expired: { files: 3 }, orphan: { files: 1 } });

    const text = await cli(['tier', 'plan', uri, '--as-of', asOf, '--cool-after', '30d', '--cold-after', '90d']);
    expect(text.out).toContain(`Hot → Cold  ${paths.w1}`);
    expect(text.out).toMatch(/monthly +\S+ USD → \S+ USD/);
    expect(text.out).toMatch(/prices +approximate pay-as-you-go list prices .*\(as of \d{4}-\d{2}-\d{2}\)/);

    const applied = await cli(['tier', 'apply', uri, '--as-of', asOf, '--cool-after', '30d', '--cold-after', '90d', '--json']);
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.out).result.applied).toHaveLength(2);
    const described = JSON.parse((await cli(['describe', uri, '--json'])).out);
    expect(described.files.map((f: { tier: string }) => f.tier)).toEqual(['Cold', 'Cold']);
    expect(described.sizeBytesByTier.Cold).toBe(described.sizeBytes);
    expect((await cli(['describe', uri])).out).toMatch(/^tiers +Cold /m);
    // Idempotent.
    const again = JSON.parse((await cli(['tier', 'apply', uri, '--as-of', asOf, '--cool-after', '30d', '--cold-after', '90d', '--json'])).out);
    expect(again.result.applied).toEqual([]);
  });

  it('takes the table policy from the pipeline YAML, and flags override it', async () => {
    const { uri, container } = await tieredTable('tier-yaml');
    const file = pipelineFile(
      `sources:\n  events:\n    landing: events/\n    table: bronze/events\n    tiering: { archiveAfterDays: 365 }\ntiering:\n  bronze: { coolAfterDays: 10 }\n`,
    );
    expect(uri).toContain(`/${container}/bronze/events`);
    const asOf = new Date(Date.now() + 400 * DAY).toISOString();
    const env = { SLUICE_PIPELINES: file };
    const fromYaml = JSON.parse((await cli(['tier', 'plan', uri, '--as-of', asOf, '--json'], env)).out);
    expect(fromYaml.policy.from.archiveAfterDays).toMatch(/sales\.yaml: sources\.events\.tiering$/);
    expect(fromYaml.policy.from.coolAfterDays).toMatch(/sales\.yaml: tiering\.bronze$/);
    expect(fromYaml.moves.filter((m: { class: string }) => m.class === 'live').every((m: { to: string }) => m.to === 'Archive')).toBe(true);
    // The flag withdraws the consent the YAML gave.
    const withdrawn = JSON.parse((await cli(['tier', 'plan', uri, '--as-of', asOf, '--archive-after', 'never', '--json'], env)).out);
    expect(withdrawn.policy.from.archiveAfterDays).toBe('command line');
    expect(withdrawn.moves.some((m: { to: string }) => m.to === 'Archive')).toBe(false);
  });

  it('refuses bad flags with the option named', async () => {
    const { uri } = await tieredTable('tier-flags');
    const bad = await cli(['tier', 'plan', uri, '--cool-after', 'soon']);
    expect([bad.code, bad.err.trim()]).toEqual([2, expect.stringContaining("--cool-after takes a whole number of days such as 30d, or never; not 'soon'")]);
    const when = await cli(['tier', 'plan', uri, '--as-of', 'tomorrow']);
    expect([when.code, when.err]).toEqual([2, expect.stringContaining('--as-of must be an ISO-8601 time')]);
    const sub = await cli(['tier', 'move', uri]);
    expect([sub.code, sub.err]).toEqual([2, expect.stringContaining("'tier' needs plan or apply, not 'move'")]);
    const prices = await cli(['tier', 'plan', uri], { SLUICE_TIERING_PRICES: '{"readPer10k":{"Hot":"cheap"}}' });
    expect(prices.code).not.toBe(0);
    expect(prices.err).toContain('SLUICE_TIERING_PRICES: readPer10k.Hot: expected a price ≥ 0, got "cheap"');
  });
});
