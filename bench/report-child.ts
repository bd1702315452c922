/**
 * Bench measurements that run in a child process of their own (so each has its own peak RSS and CPU
 * time): the child is a TypeScript script started with `node --import tsx`, and its result is the one
 * JSON line it prints after an agreed prefix.
 */
import { spawn } from 'node:child_process';
import * as nodePath from 'node:path';

const ROOT = nodePath.resolve(__dirname, '..');

/** How to start one child and find its report. */
export interface ReportingChild {
  /** The script and the arguments before the spec. */
  script: string[];
  /** Passed as the last argument, as JSON. */
  spec: object;
  /** The report line starts with this. */
  prefix: string;
  /** The child's TMPDIR, so its temporary files land in the bench's work folder. */
  tmpdir: string;
  /** Node flags before the script (e.g. `--cpu-prof`). */
  nodeFlags?: string[];
}

/**
 * Run a child and parse its report.
 *
 * @param child what to run
 * @returns the parsed report; rejects with the end of the child's output when it failed or printed none
 */
export function runReportingChild(child: ReportingChild): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...(child.nodeFlags ?? []), '--import', 'tsx', ...child.script, JSON.stringify(child.spec)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: child.tmpdir },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(child.prefix));
      if (code !== 0 || !line) reject(new Error(`${nodePath.basename(child.script[0])} exited with ${code ?? signal}: ${(stderr || stdout).slice(-1000)}`));
      else resolve(JSON.parse(line.slice(child.prefix.length)));
    });
  });
}
