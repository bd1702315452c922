/**
 * Named fault points of the ingest stage, for crash tests: the same mechanism as
 * shared/delta/faults.ts (the process kills itself with SIGKILL when `SLUICE_FAULT_KILL_AT` names the
 * point), for the points only this stage has.
 *
 * Points, in the order an ingestion passes them (those marked Δ are the Delta layer's):
 * `afterRead` (input fully read, data files not yet closed), `afterDataFiles` (data files written,
 * nothing committed), Δ`afterLaneIntent` (commit intent stored), Δ`beforeCommit`, Δ`afterCommit`
 * (commit file created, intent not cleaned up), `beforeLedger` (committed, ledger not yet updated).
 */

/** Fault points of the ingest stage. */
export type IngestFaultPoint = 'afterRead' | 'afterDataFiles' | 'beforeLedger';

/**
 * Kill this process here if a crash test asked for it.
 *
 * @param point the point reached
 */
export function ingestFaultPoint(point: IngestFaultPoint): void {
  if (process.env.SLUICE_FAULT_KILL_AT === point) process.kill(process.pid, 'SIGKILL');
}
