/**
 * The progress line of `sluice pipeline run` as a terminal and as a log see it, from custom statuses
 * the orchestrator writes (shared/run/orchestrator.ts). The run itself prints it in
 * test/run/run-cli.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { progressLine, ProgressReporter } from '../../cli/progress';
import type { RefreshProgress } from '../../shared/run';

const status = (over: Partial<RefreshProgress>): RefreshProgress => ({
  stage: 'refreshing',
  runId: 'refresh-pos@2026-03-01T00:00:00.000Z',
  level: 1,
  levels: 2,
  total: 4,
  done: 0,
  running: 2,
  failed: 0,
  tables: { 'silver.sales': { state: 'running' }, 'silver.deliveries': { state: 'running' }, 'gold.a': { state: 'pending' }, 'gold.b': { state: 'pending' } },
  ...over,
});

describe('progress line', () => {
  it('says stage, level, tables done, running and failed, and which tables run', () => {
    expect(progressLine('pos', status({}))).toBe('pos: refreshing, level 1/2, tables 0/4 done, 2 running, 0 failed (silver.sales, silver.deliveries)');
    expect(progressLine('pos', status({ stage: 'planning' }))).toBe('pos: planning');
  });

  it('writes one line per change to a log, nothing for an unchanged status or a run without one', () => {
    const written: string[] = [];
    const r = new ProgressReporter('pos', { write: (t) => written.push(t), tty: false });
    r.update(undefined);
    r.update(status({}));
    r.update(status({}));
    r.update(status({ done: 1, running: 1, tables: { 'silver.deliveries': { state: 'running' } } }));
    r.update(status({ stage: 'completed', level: 2, done: 4, running: 0, tables: {} }));
    r.finish();
    expect(written).toEqual([
      'pos: refreshing, level 1/2, tables 0/4 done, 2 running, 0 failed (silver.sales, silver.deliveries)\n',
      'pos: refreshing, level 1/2, tables 1/4 done, 1 running, 0 failed (silver.deliveries)\n',
      'pos: completed, level 2/2, tables 4/4 done, 0 running, 0 failed\n',
    ]);
  });

  it('rewrites the line in place on a terminal, cut to its width, and ends it once', () => {
    const written: string[] = [];
    const r = new ProgressReporter('pos', { write: (t) => written.push(t), tty: true, columns: 40 });
    r.update(status({}));
    r.update(status({ stage: 'failed', failed: 1, running: 0, tables: {} }));
    r.finish();
    r.finish();
    expect(written).toEqual(['\r\x1b[2Kpos: refreshing, level 1/2, tables 0/4…', '\r\x1b[2Kpos: failed, level 1/2, tables 0/4 don…', '\n']);
    for (const line of written.slice(0, 2)) expect(line.length - '\r\x1b[2K'.length).toBeLessThanOrEqual(39);
  });
});
