/**
 * `sluice tier plan|apply <table>`: which data files of a table go to a cooler access tier, why, and
 * what it costs and saves; `apply` carries the plan out. The table's policy comes from the pipeline
 * definitions (`SLUICE_PIPELINES`) when the location ends with a table path they define, else from
 * the defaults of the layer its parent folder names; the flags override either. The stage functions
 * are shared/tiering's, which the `tierLake` timer calls too.
 */
import { appRoot, DEFAULT_PIPELINES, loadPipelines } from '../shared/host/pipelines';
import { loadMaintenanceSettings, loadRehydrationSettings } from '../shared/config/settings';
import type { TieringPolicyDefinition } from '../shared/pipeline/tiering';
import { openStore } from '../shared/storage/location';
import {
  applyTiering,
  planTableTiering,
  policyForLocation,
  readTieringSettings,
  type ApplyResult,
  type TieringPlan,
  type TieringPolicy,
} from '../shared/tiering';
import { parseCommandLine, UsageError, type CommandIo as Io } from '../shared/command-line/usage';

/** Help of the tier commands (part of `sluice --help`). */
export const TIER_HELP = `  tier plan <table>    which data files would go to a cooler tier now, why, what waits and why, and
                       what it costs and saves per tier (the price table and its date are printed);
                       never the _delta_log, never a live file to Archive without consent, never a
                       move whose minimum days (Cool 30, Cold 90, Archive 180) outlast vacuum's date
      --as-of T            plan for this instant (ISO-8601), e.g. a date to come
      --cool-after Nd      live files to Cool once N whole days since last modification ('never': off)
      --cold-after Nd      live files to Cold once N days old
      --archive-after Nd   consent to archive: live files of partitions not written for N days
                           go to Archive (offline until rehydrated)
                           (without flags: the table's policy from SLUICE_PIPELINES, else the defaults
                           of its layer, the folder above the table: bronze, silver, gold)
      --json               the plan: classes, moves, held files with reasons, costs
  tier apply <table>   the same plan, carried out; a tier change storage refuses is listed with its
                       file (exit status 1) and planned again by the next run
      (same options as tier plan)
`;

const OPTIONS = {
  'as-of': { type: 'string' },
  'cool-after': { type: 'string' },
  'cold-after': { type: 'string' },
  'archive-after': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice tier …`.
 *
 * @param argv the arguments after `tier`
 * @param io output sinks
 * @param env the environment (settings)
 * @returns the exit status
 */
export async function runTierCommand(argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(TIER_HELP);
    return 0;
  }
  const [sub, ...rest] = positionals;
  if (sub !== 'plan' && sub !== 'apply') throw new UsageError(`'tier' needs plan or apply, not '${sub ?? ''}'`);
  if (rest.length !== 1) throw new UsageError(`'tier ${sub}' takes exactly one table location, got ${rest.length}`);
  let asOf: Date | undefined;
  if (values['as-of'] !== undefined) {
    asOf = new Date(values['as-of']);
    if (Number.isNaN(asOf.getTime())) throw new UsageError(`--as-of must be an ISO-8601 time such as 2027-06-30T00:00:00Z, not '${values['as-of']}'`);
  }
  const flags: TieringPolicyDefinition = {};
  for (const [option, key] of [
    ['cool-after', 'coolAfterDays'],
    ['cold-after', 'coldAfterDays'],
    ['archive-after', 'archiveAfterDays'],
  ] as const) {
    const text = values[option];
    if (text !== undefined) flags[key] = days(text, `--${option}`);
  }
  const root = appRoot();
  const settings = readTieringSettings(env, root)!;
  const pipelines = loadPipelines(env.SLUICE_PIPELINES?.trim() || DEFAULT_PIPELINES, root, !!env.SLUICE_PIPELINES?.trim());
  const { policy } = policyForLocation(rest[0], pipelines, flags);
  const store = openStore(rest[0]);
  const maintenance = loadMaintenanceSettings(env);
  const plan = await planTableTiering(store, policy, {
    asOf,
    prices: settings.prices,
    rehydratedGraceDays: settings.rehydratedGraceDays,
    rehydrationHoldDays: loadRehydrationSettings(env).rehydrationHoldDays,
    defaultRetention: {
      hours: maintenance.vacuumRetentionHours,
      source: `no delta.deletedFileRetentionDuration; SLUICE_VACUUM_RETENTION_HOURS (${maintenance.vacuumRetentionHours} h)`,
    },
  });
  const result = sub === 'apply' ? await applyTiering(store, plan) : undefined;
  if (values.json) io.out(JSON.stringify(result ? { plan, result } : plan, null, 2) + '\n');
  else io.out(formatPlan(plan, result));
  return result?.refused.length ? 1 : 0;
}

function days(text: string, option: string): number | null {
  if (text === 'never') return null;
  const m = /^(\d+)d?$/.exec(text);
  if (!m) throw new UsageError(`${option} takes a whole number of days such as 30d, or never; not '${text}'`);
  return Number(m[1]);
}

/**
 * A plan (and what applying it did) for people.
 *
 * @param plan the plan
 * @param result what apply did, if it ran
 * @param listed files listed one by one per section (all are counted; `--json` lists every one)
 * @returns the text
 */
export function formatPlan(plan: TieringPlan, result?: ApplyResult, listed = 20): string {
  const lines: string[] = [];
  const c = plan.cost;
  const money = (n: number) => `${n < 0 ? '-' : ''}${Math.abs(n) < 0.01 && n !== 0 ? Math.abs(n).toPrecision(2) : Math.abs(n).toFixed(2)} ${c.currency}`;
  lines.push(`table      ${plan.target}`, `as of      ${plan.asOf}${plan.version !== undefined ? ` (version ${plan.version})` : ''}`);
  if (plan.retention) lines.push(`retention  ${plan.retention.hours / 24} days (${plan.retention.source})`);
  if (plan.kind === 'table') {
    const p = plan.policy as TieringPolicy;
    const show = (v: number | null) => (v === null ? 'never' : `${v}d`);
    lines.push(
      `policy     cool after ${show(p.coolAfterDays)} (${p.from.coolAfterDays}), cold after ${show(p.coldAfterDays)} (${p.from.coldAfterDays}),`,
      `           archive after ${show(p.archiveAfterDays)} (${p.from.archiveAfterDays}), time-travel files to Cool: ${p.timeTravelToCool ? 'yes' : 'no'} (${p.from.timeTravelToCool})`,
    );
  }
  lines.push(
    `files      ${Object.entries(plan.classes)
      .map(([k, v]) => `${v.files} ${k} (${formatBytes(v.bytes)})`)
      .join(', ')}`,
  );
  for (const p of plan.problems) lines.push(`problem    ${p}`);
  lines.push('', `${result ? 'moved' : 'would move'} ${plan.moves.length} file(s), ${formatBytes(plan.moves.reduce((n, m) => n + m.size, 0))}:`);
  for (const [key, group] of groupBy(plan.moves, (m) => `${m.class} ${m.from} → ${m.to}`))
    lines.push(`  ${key}: ${group.length} file(s), ${formatBytes(group.reduce((n, m) => n + m.size, 0))}`);
  for (const m of plan.moves.slice(0, listed)) lines.push(`    ${m.from} → ${m.to}  ${m.path}  (${formatBytes(m.size)}; ${m.reason})`);
  if (plan.moves.length > listed) lines.push(`    … and ${plan.moves.length - listed} more (--json lists every file)`);
  if (plan.held.length) {
    lines.push('', `held back ${plan.held.length} file(s):`);
    for (const [key, group] of groupBy(plan.held, (h) => `${h.class} ${h.tier}, wants ${h.wanted}, ${h.reason}`))
      lines.push(
        `  ${key}: ${group.length} file(s), ${formatBytes(group.reduce((n, h) => n + h.size, 0))}, avoids ${money(group.reduce((n, h) => n + h.penaltyAvoided, 0))}`,
      );
    for (const h of plan.held.slice(0, listed))
      lines.push(
        `    ${h.tier}, wants ${h.wanted}  ${h.path}  ${h.reason}: ${h.detail}${h.until ? ` (until ${h.until})` : ''}${h.penaltyAvoided ? `; avoids ${money(h.penaltyAvoided)}` : ''}`,
      );
    if (plan.held.length > listed) lines.push(`    … and ${plan.held.length - listed} more`);
  }
  lines.push('', 'tier      bytes before     bytes after      per month before  after');
  for (const t of c.byTier)
    lines.push(
      `${t.tier.padEnd(9)} ${formatBytes(t.bytesBefore).padEnd(16)} ${formatBytes(t.bytesAfter).padEnd(16)} ${money(t.monthlyBefore).padEnd(17)} ${money(t.monthlyAfter)}`,
    );
  lines.push(
    `monthly    ${money(c.monthlyBefore)} → ${money(c.monthlyAfter)} (saves ${money(c.monthlySaving)} a month)`,
    `one-time   tier changes ${money(c.oneTime.tierChanges)}; rehydrating what is archived once: ${money(c.oneTime.rehydrationStandard)} standard, ${money(c.oneTime.rehydrationHigh)} high priority`,
    `avoided    ${money(c.penaltiesAvoided)} of early-deletion charges by the waits above`,
    `prices     ${c.prices.source} (as of ${c.prices.asOf})`,
  );
  if (result) {
    lines.push('', `applied ${result.applied.length}, refused ${result.refused.length}, skipped ${result.skipped.length}`);
    for (const r of result.refused) lines.push(`  refused  ${r.path} → ${r.to}: ${r.error} (retried next run)`);
    for (const s of result.skipped) lines.push(`  skipped  ${s.path}: ${s.reason}`);
  }
  return lines.join('\n') + '\n';
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = out.get(k);
    if (group) group.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
