/**
 * Named fault points for crash tests. When the environment variable `SLUICE_FAULT_KILL_AT` names a
 * point, the process kills itself with SIGKILL on reaching it: no exception handler, `finally` block
 * or exit hook runs, which is what a crashed or evicted function instance looks like.
 *
 * Points: `afterDataFiles` (data files written, nothing committed), `afterLaneIntent` (commit intent
 * handed to the lane), `beforeCommit` (commit file about to be created), `afterCommit` (commit file
 * created, nothing after it done).
 */

/** The fault points Sluice's writers pass. */
export type FaultPoint = 'afterDataFiles' | 'afterLaneIntent' | 'beforeCommit' | 'afterCommit';

/**
 * Kill this process here if a crash test asked for it.
 *
 * @param point the point reached
 */
export function faultPoint(point: FaultPoint): void {
  if (process.env.SLUICE_FAULT_KILL_AT === point) process.kill(process.pid, 'SIGKILL');
}
