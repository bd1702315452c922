/**
 * Objectives a table is held to, declared under `objectives:` of a source (bronze) or a table
 * (silver/gold) in the pipeline YAML, and evaluated by the metrics timer (shared/monitoring):
 *
 * ```yaml
 * sources:
 *   pos_sales:
 *     objectives: { freshness: 1h, maxDeadLetteredRows: 0 }
 * tables:
 *   silver.sales:
 *     objectives: { freshness: 2h, minPassRate: 0.99 }
 * ```
 *
 * - `freshness`: longest time since the last commit that wrote rows, as `<n>s|m|h|d` (e.g. `90m`);
 * - `minPassRate` (tables only): lowest pass rate, 0–1, of each expectation in the table's latest
 *   update that checked rows;
 * - `maxDeadLetteredRows` (sources only): most rows the source's dead-letter records may hold.
 */

/** A table's objectives (each optional). */
export interface Objectives {
  /** Seconds. */
  freshness?: number;
  minPassRate?: number;
  maxDeadLetteredRows?: number;
}

/** Keys of `objectives:` for sources and for tables. */
export const OBJECTIVE_KEYS = {
  source: ['freshness', 'maxDeadLetteredRows'],
  table: ['freshness', 'minPassRate'],
} as const;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parse a duration such as `90s`, `15m`, `1h`, `2d` (a bare number is seconds).
 *
 * @param value the value as written
 * @returns seconds, or undefined when it is not a duration
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(value);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNITS[m[2] || 's'];
  return seconds > 0 ? seconds : undefined;
}

/**
 * Check an `objectives:` mapping.
 *
 * @param value the mapping as parsed
 * @param kind a source's or a table's
 * @param fail reports a problem at a key below `objectives` (undefined: the mapping itself)
 * @returns the objectives (what was valid)
 */
export function checkObjectives(value: unknown, kind: 'source' | 'table', fail: (key: string | undefined, message: string) => void): Objectives {
  const out: Objectives = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    fail(undefined, `expected a mapping of ${OBJECTIVE_KEYS[kind].join(', ')}`);
    return out;
  }
  const allowed: readonly string[] = OBJECTIVE_KEYS[kind];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (!allowed.includes(key)) {
      const elsewhere = kind === 'source' ? 'tables (it judges expectations)' : 'sources (dead letters are bronze files)';
      const known = [...OBJECTIVE_KEYS.source, ...OBJECTIVE_KEYS.table].includes(key as never);
      fail(key, known ? `${key} is an objective of ${elsewhere}` : `unknown objective; expected one of ${allowed.join(', ')}`);
      continue;
    }
    if (key === 'freshness') {
      const seconds = parseDuration(v);
      if (seconds === undefined) fail(key, `expected a duration such as 30m, 1h or 2d; got ${JSON.stringify(v)}`);
      else out.freshness = seconds;
    } else if (key === 'minPassRate') {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(key, `expected a pass rate from 0 to 1, such as 0.99; got ${JSON.stringify(v)}`);
      else out.minPassRate = v;
    } else if (key === 'maxDeadLetteredRows') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(key, `expected a whole number of rows, 0 or more; got ${JSON.stringify(v)}`);
      else out.maxDeadLetteredRows = v;
    }
  }
  return out;
}
