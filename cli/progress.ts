/**
 * The progress line of `sluice pipeline run`, from the run's custom status (shared/run/orchestrator.ts):
 * stage, level x/y, tables done/running/failed of the total, and the tables running now. On a terminal
 * it is one line rewritten in place; otherwise (a pipe, a CI log) one line per change. It goes to
 * stderr, so `--json` output on stdout stays clean.
 */
import type { RefreshProgress } from '../shared/run';

/** Where the line goes. */
export interface ProgressSink {
  write(text: string): void;
  /** True on a terminal: the line is rewritten in place. */
  tty: boolean;
  /** Terminal width (longer lines are cut, so that rewriting in place never wraps). */
  columns?: number;
}

/**
 * The progress line of a run.
 *
 * @param pipeline the pipeline name
 * @param p the custom status
 * @returns e.g. `pos: refreshing, level 1/2, tables 1/4 done, 2 running, 0 failed (silver.sales, silver.deliveries)`
 */
export function progressLine(pipeline: string, p: RefreshProgress): string {
  if (p.stage === 'planning') return `${pipeline}: planning`;
  const running = Object.entries(p.tables)
    .filter(([, t]) => t.state === 'running')
    .map(([name]) => name);
  const names = running.length ? ` (${running.slice(0, 3).join(', ')}${running.length > 3 ? `, +${running.length - 3}` : ''})` : '';
  return `${pipeline}: ${p.stage}, level ${p.level}/${p.levels}, tables ${p.done}/${p.total} done, ${p.running} running, ${p.failed} failed${names}`;
}

/** Shows a run's progress as it changes. */
export class ProgressReporter {
  private last = '';
  private shown = false;

  /**
   * @param pipeline the pipeline name
   * @param sink where the line goes
   */
  constructor(
    private readonly pipeline: string,
    private readonly sink: ProgressSink,
  ) {}

  /**
   * Show the status, when it changed.
   *
   * @param status the run's custom status (anything else is ignored: a run not started yet has none)
   */
  update(status: unknown): void {
    const p = status as RefreshProgress | undefined;
    if (!p || typeof p !== 'object' || typeof p.stage !== 'string' || typeof p.tables !== 'object') return;
    const line = progressLine(this.pipeline, p);
    if (line === this.last) return;
    this.last = line;
    if (this.sink.tty) {
      const width = Math.max(20, (this.sink.columns ?? 80) - 1);
      this.sink.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
    } else this.sink.write(`${line}\n`);
    this.shown = true;
  }

  /** End the line (on a terminal), so what follows starts on its own line. */
  finish(): void {
    if (this.sink.tty && this.shown) this.sink.write('\n');
    this.shown = false;
  }
}
