/**
 * Invoking a function definition the way the Functions host does: a fresh `InvocationContext` per
 * call (invocation id, function name, trigger metadata, retry context), whose `context.log` lines go
 * to the local host's log.
 *
 * The log keeps one line per event: the handlers already log one line naming the table, version and
 * rows; the invocation's duration is appended to its last line rather than printed on a line of its
 * own. Lines of an invocation that runs longer than a few seconds are printed as they come, so a slow
 * one still shows progress.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogLevel, type RetryContext, type TriggerMetadata } from '@azure/functions';

/** Where the local host writes its lines (without time stamp; the writer adds it). */
export type DevLog = (line: string) => void;

/** What an invocation is told besides its input. */
export interface InvocationExtras {
  triggerMetadata?: TriggerMetadata;
  retryContext?: RetryContext;
}

/** Lines held back before the first one is printed anyway. */
const HOLD_MS = 3000;

/**
 * Run one invocation of a function with its own context and log its lines and duration.
 *
 * @param name the function's name
 * @param log the host's log
 * @param run calls the handler with the context
 * @param extras trigger metadata and retry context
 * @returns what the handler returned
 * @throws what the handler threw, after logging it with the duration
 */
export async function invokeFunction<T>(
  name: string,
  log: DevLog,
  run: (context: InvocationContext) => Promise<T> | T,
  extras: InvocationExtras = {},
): Promise<T> {
  const started = Date.now();
  const held: string[] = [];
  let streaming = false;
  const emit = (line: string) => {
    if (streaming || Date.now() - started > HOLD_MS) {
      streaming = true;
      for (const h of held.splice(0)) log(h);
      log(line);
    } else held.push(line);
  };
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: name,
    logHandler: (level: LogLevel, ...args: unknown[]) => emit(invocationLogLine(name, level, args)),
    ...(extras.triggerMetadata ? { triggerMetadata: extras.triggerMetadata } : {}),
    ...(extras.retryContext ? { retryContext: extras.retryContext } : {}),
  });
  const finish = () => {
    if (!held.length) return;
    const last = held.pop()!;
    for (const h of held) log(h);
    log(`${last} (${Date.now() - started} ms)`);
  };
  try {
    const result = await run(context);
    finish();
    return result;
  } catch (err) {
    finish();
    log(`[${name}] failed after ${Date.now() - started} ms: ${(err as Error)?.message ?? String(err)}`);
    throw err;
  }
}

/**
 * A `context.log` call as a line of the host's log: `[name] text`, or the text alone when it starts
 * with the function's name, tagged `ERROR`/`WARN` by level.
 *
 * @param name the function's name
 * @param level the log level
 * @param args what was logged
 * @returns the line
 */
export function invocationLogLine(name: string, level: LogLevel, args: unknown[]): string {
  const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
  const tag = level === 'error' ? 'ERROR ' : level === 'warning' ? 'WARN ' : '';
  // Handlers start their lines with their own name; do not say it twice.
  return text.startsWith(`${name}:`) ? `${tag}${text}` : `${tag}[${name}] ${text}`;
}
