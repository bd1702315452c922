/**
 * What the `sluice` commands do when whoever reads their standard output goes away
 * (`sluice read <table> | head -1`). Unix tools stop quietly there; Node instead raises `EPIPE` as an
 * unhandled stream error and prints a stack trace. Every command writes through process.stdout, so one
 * listener here decides for all of them.
 */

let action: () => void = () => process.exit(0);
let watching = false;
let closed = false;

/**
 * Decide what happens once stdout's reader has gone. By default the process exits at once with status
 * 0: what was asked for has been delivered to a reader that wanted no more, and a command that only
 * prints has nothing left worth doing. A long-running command (the local host) passes its clean stop
 * instead, so that it does not leave Azurite behind.
 *
 * @param onClosed what to do, once, when a write to stdout finds the pipe closed
 */
export function whenStdoutCloses(onClosed: () => void = () => process.exit(0)): void {
  action = onClosed;
  if (watching) return;
  watching = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // Writes after the first failure report the stream destroyed: the same event, already handled.
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    if (closed) return;
    closed = true;
    action();
  });
}

/**
 * The process's own output streams, for a command run from a terminal or a pipe; a reader that goes
 * away early ends the command quietly (see `whenStdoutCloses`).
 *
 * @returns sinks writing to process.stdout and process.stderr
 */
export function processIo(): { out: (text: string) => void; err: (text: string) => void } {
  whenStdoutCloses();
  return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
}
